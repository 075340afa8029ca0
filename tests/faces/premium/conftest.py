"""Fixtures of the premium face: cell captives with API keys, and policy/collection builders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from tests.fixtures import flush_webhook_log  # noqa: F401


@dataclass
class Captive:
    org: Any
    key: str
    headers: dict[str, str]


async def make_captive(world: Any, name: str = "Alpha Captive", scopes: list[str] | None = None) -> Captive:
    org = await world.org(name, kind="cell_captive")
    _, raw = await world.api_key(org.id, scopes or ["*"])
    return Captive(org, raw, {"Authorization": f"Bearer {raw}"})


@pytest.fixture
async def captive(world: Any) -> Captive:
    return await make_captive(world)


SPEC_POLICY = {
    "policy_number": "POL_123456",
    "client_name": "John Doe",
    "client_email": "john.doe@example.com",
    "client_phone": "+27123456789",
    "premium_amount": 1500.00,
    "frequency": "monthly",
    "status": "active",
    "mandate_reference": "MAN_789012",
    "bank_account_number": "1234567890",
    "bank_branch_code": "123456",
    "next_collection_date": "2024-02-01",
}


async def put_policy(client: httpx.AsyncClient, captive: Captive, **fields: Any) -> dict[str, Any]:
    body = {**SPEC_POLICY, **fields}
    r = await client.post("/api/webhooks/policies/update", json=body, headers=captive.headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]["policy"]


async def add_collection(captive: Captive, policy_number: str, on: date, status: str = "pending",
                         reference: str | None = None, amount: Any = None) -> Any:
    """A collection in any status, recorded through the service (as a debit-order run would)."""
    from arrears.db import transaction
    from arrears.identity.caller import Caller
    from arrears.premiums import service

    async with transaction() as s:
        actor = Caller.system(captive.org.id)
        policy = await service.get_policy(s, captive.org.id, policy_number)
        return await service.create_collection(s, actor, policy, collection_date=on, status=status,
                                               collection_reference=reference, amount=amount)


