"""Concurrent requests on identity: registrations of one username, the default organisation,
refresh tokens, the sign-in lockout and API keys' last use. A concurrent duplicate gets what a
sequential one gets (the spec's error body), never a 500.

The races show on PostgreSQL (TEST_DATABASE_URL); on SQLite writers queue."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from arrears.db import transaction, utcnow
from arrears.errors import ValidationFailed
from arrears.identity import service as identity
from arrears.identity.models import ApiKey, Organisation, User
from tests.rows import count_rows

PASSWORD = "Sup3r-secret-pw"
USERNAME_TAKEN = {"errors": {"username": ["A user with that username already exists."]}}




_count = count_rows


def _register(client: Any, username: str) -> Any:
    return client.post("/api/users/register/", json={"username": username, "password": "TopSecretPass1",
                                                     "email": f"{username}@example.com",
                                                     "role": "calling_agent"})


async def test_concurrent_registrations_of_one_username_make_one_user(client, world):
    await world.org()
    answers = await asyncio.gather(*(_register(client, "alice") for _ in range(5)))
    assert sorted(r.status_code for r in answers) == [201, 400, 400, 400, 400], [r.text for r in answers]
    assert all(r.json() == USERNAME_TAKEN for r in answers if r.status_code == 400)
    assert await _count(User, func.lower(User.username) == "alice") == 1


async def test_concurrent_registrations_differing_in_case_make_one_user(client, world):
    """Usernames are matched without regard to case (find_user, create_user)."""
    await world.org()
    answers = await asyncio.gather(*(_register(client, name) for name in ("alice", "Alice", "ALICE")))
    assert sorted(r.status_code for r in answers) == [201, 400, 400], [r.text for r in answers]
    assert all(r.json() == USERNAME_TAKEN for r in answers if r.status_code == 400)
    assert await _count(User, func.lower(User.username) == "alice") == 1


async def test_concurrent_user_creation_in_the_service_is_a_validation_error(world):
    org = await world.org()
    outcomes = await asyncio.gather(*(world.user(org.id, username="bob") for _ in range(4)),
                                    return_exceptions=True)
    made = [o for o in outcomes if isinstance(o, User)]
    refused = [o for o in outcomes if isinstance(o, ValidationFailed)]
    assert len(made) == 1 and len(refused) == 3, outcomes
    assert all(e.field_errors == USERNAME_TAKEN["errors"] for e in refused)
    assert await _count(User, User.username == "bob") == 1


async def test_concurrent_first_registrations_share_one_default_organisation(client, env):
    """On a new deployment the first registrations make the default organisation: once."""
    answers = await asyncio.gather(*(_register(client, f"first{n}") for n in range(4)))
    assert [r.status_code for r in answers] == [201] * 4, [r.text for r in answers]
    assert await _count(Organisation) == 1
    async with transaction() as s:
        orgs = set(await s.scalars(select(User.primary_org_id)))
    assert len(orgs) == 1


async def test_concurrent_refreshes_of_one_token_each_give_a_working_access_token(client, world):
    """Refresh tokens are not rotated (the spec's refresh answers an access token only), so two
    concurrent uses of one are both good, and neither mints a new refresh token."""
    org = await world.org()
    await world.user(org.id, username="carol")
    pair = (await client.post("/api/auth/token/", json={"username": "carol", "password": PASSWORD})).json()
    answers = await asyncio.gather(*(client.post("/api/auth/token/refresh/", json={"refresh": pair["refresh"]})
                                     for _ in range(3)))
    assert [r.status_code for r in answers] == [200] * 3, [r.text for r in answers]
    assert all(set(r.json()) == {"access"} for r in answers)
    for r in answers:
        me = await client.get("/api/users/", headers={"Authorization": f"Bearer {r.json()['access']}"})
        assert me.status_code == 200


async def test_concurrent_failed_sign_ins_cannot_exceed_the_lockout(client, world):
    """Ten failures lock the account; twenty wrong passwords at once must not all be tried."""
    org = await world.org()
    await world.user(org.id, username="dave")
    answers = await asyncio.gather(*(client.post("/api/auth/token/", json={"username": "dave",
                                                                          "password": f"wrong-{n}"})
                                     for n in range(20)))
    codes = [r.status_code for r in answers]
    assert set(codes) <= {401, 429}, [r.text for r in answers]
    assert codes.count(401) <= 10, codes
    r = await client.post("/api/auth/token/", json={"username": "dave", "password": PASSWORD})
    assert r.status_code == 429, r.text


async def test_a_correct_password_among_concurrent_guesses_past_the_limit_is_refused(client, world):
    org = await world.org()
    await world.user(org.id, username="erin")
    guesses = [f"wrong-{n}" for n in range(15)] + [PASSWORD]
    answers = await asyncio.gather(*(client.post("/api/auth/token/", json={"username": "erin", "password": p})
                                     for p in guesses))
    tried = [r.status_code for r in answers if r.status_code != 429]
    assert len(tried) <= 10, [r.status_code for r in answers]


async def test_concurrent_uses_of_one_api_key_all_resolve(world):
    org = await world.org()
    _key, raw = await world.api_key(org.id, ["*"])

    async def use() -> Any:
        async with transaction() as s:
            caller = await identity.resolve(s, raw)
            return caller.org_id

    assert await asyncio.gather(*(use() for _ in range(6))) == [org.id] * 6
    async with transaction() as s:
        used = await s.scalar(select(ApiKey.last_used_at).where(ApiKey.org_id == org.id))
    assert used is not None and (utcnow() - used).total_seconds() < 30


async def test_a_long_transaction_with_a_key_does_not_stall_its_other_requests(world, template_db):
    """One request using a key (a long import) writes last_used_at; the key's reading requests must
    not wait for it to end to write the same column (PostgreSQL: SKIP LOCKED; SQLite: the stamp is
    dropped instead of queueing for the database's write lock)."""
    org = await world.org()
    _key, raw = await world.api_key(org.id, ["*"])
    release = asyncio.Event()
    resolved = asyncio.Event()

    async def long_request() -> None:
        async with transaction() as s:
            await identity.resolve(s, raw)
            await s.flush()
            resolved.set()
            await release.wait()

    async def short_request() -> int:
        async with transaction(readonly=True) as s:
            return (await identity.resolve(s, raw)).org_id

    slow = asyncio.create_task(long_request())
    await resolved.wait()
    try:
        assert await asyncio.wait_for(short_request(), timeout=5) == org.id
    finally:
        release.set()
        await slow
