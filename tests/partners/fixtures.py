"""Fixtures and helpers shared by tests/partners and tests/faces/partner."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.partners.receiver import Receiver

CLIENT_BODY = {"name": "My Partner App", "description": "Integration for lead management",
               "redirectUris": ["https://example.com/callback"], "website": "https://example.com",
               "contactEmail": "tech@example.com", "rateLimitTier": "standard",
               "scopes": ["leads:read", "leads:write", "webhooks:write"]}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()  # the partner HTTP client is closed with the application state (env)


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE", "true")


class Partner:
    """Drives the partner face through HTTP as an organisation admin."""

    def __init__(self, client: httpx.AsyncClient, world: Any) -> None:
        self.http = client
        self.world = world
        self.org: Any = None
        self.headers: dict[str, str] = {}

    async def setup(self, org_name: str = "Acme Insurance") -> Partner:
        self.org = await self.world.org(org_name)
        self.headers = await self.world.login_headers(self.http, self.org.id)
        return self

    def key_headers(self, raw: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {raw}"}

    async def create_client(self, **overrides: Any) -> dict[str, Any]:
        r = await self.http.post("/api/v1/api-clients", json=CLIENT_BODY | overrides, headers=self.headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def create_key(self, client_id: str, **overrides: Any) -> dict[str, Any]:
        body = {"clientId": client_id, "name": "Production Key"} | overrides
        r = await self.http.post("/api/v1/api-keys", json=body, headers=self.headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def subscribe(self, client_id: str, url: str, events: list[str] | None = None,
                        **overrides: Any) -> dict[str, Any]:
        body = {"url": url, "events": events or ["policy.updated"]} | overrides
        r = await self.http.post(f"/api/v1/api-clients/{client_id}/webhooks", json=body,
                                 headers=self.headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def deliveries(self, client_id: str, webhook_id: str, **params: Any) -> list[dict[str, Any]]:
        r = await self.http.get(f"/api/v1/api-clients/{client_id}/webhooks/{webhook_id}/deliveries",
                                params=params, headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()["data"]


@pytest.fixture
async def partner(client: httpx.AsyncClient, world: Any) -> Partner:
    return await Partner(client, world).setup()


async def fire(org_id: int, type: str = "policy.updated", data: dict[str, Any] | None = None,
               count: int = 1) -> list[Any]:
    """Record domain events in one transaction, as a domain service would."""
    from arrears import events
    from arrears.db import transaction

    out = []
    async with transaction() as s:
        for i in range(count):
            out.append(await events.record(
                s, org_id=org_id, type=type, actor="user:1", subject_type="policy", subject_id=i + 1,
                data=data if data is not None else {"policy": {"id": f"POL_{i + 1}", "status": "active"}}))
    return out


async def advance(seconds: float) -> None:
    """Move every scheduled delivery, lease and job `seconds` into the past (time passes)."""
    from arrears.db import transaction
    from arrears.jobs.models import Job
    from arrears.partners.models import WebhookDelivery as D

    delta = timedelta(seconds=seconds)
    async with transaction() as s:
        rows = (await s.execute(select(D.id, D.scheduled_for, D.lease_until))).all()
        for rid, sched, lease in rows:
            await s.execute(update(D).where(D.id == rid).values(
                scheduled_for=sched - delta, lease_until=lease - delta if lease else None))
        jobs = (await s.execute(select(Job.id, Job.run_at).where(Job.status == "queued"))).all()
        for jid, run_at in jobs:
            await s.execute(update(Job).where(Job.id == jid).values(run_at=run_at - delta))


async def drain() -> int:
    from arrears.partners import delivery

    return await delivery.drain()


async def delivery_rows() -> list[Any]:
    from arrears.db import transaction
    from arrears.partners.models import WebhookDelivery

    async with transaction(readonly=True) as s:
        return list((await s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at))).all())


def uid() -> str:
    return str(uuid.uuid4())
