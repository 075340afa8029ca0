"""The premium face resolves its keys with identity's shared resolver: a request never waits for
another transaction that holds the key's row to stamp `last_used_at` (PostgreSQL: SKIP LOCKED;
SQLite: a read-only request drops the stamp instead of queueing for the write lock)."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from arrears.db import transaction
from arrears.identity import service as identity
from arrears.identity.models import ApiKey


async def test_a_request_does_not_wait_for_a_transaction_holding_its_key(client, world):
    org = await world.org()
    key, raw = await world.api_key(org.id, ["*"])
    release, holding = asyncio.Event(), asyncio.Event()

    async def long_transaction() -> None:
        async with transaction() as s:  # holds the key's row (and on SQLite the write lock)
            await s.execute(update(ApiKey).where(ApiKey.id == key.id).values(name="busy"))
            holding.set()
            await release.wait()

    slow = asyncio.create_task(long_transaction())
    await holding.wait()
    try:
        r = await asyncio.wait_for(client.get("/api/webhooks/logs", headers={"Authorization": f"Bearer {raw}"}),
                                   timeout=10)
        assert r.status_code == 200, r.text
    finally:
        release.set()
        await slow
    async with transaction() as s:  # once free, the next use stamps it
        caller, found = await identity.resolve_api_key(s, raw)
        assert found.id == org.id and caller.api_key is not None
        assert caller.api_key.last_used_at is not None
