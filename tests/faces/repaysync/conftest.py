"""Builders for the RepaySync customer/loan/interaction tests: organisations with one user per
role (created on first use), and customers, loans and interactions made through the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest


@dataclass
class Member:
    user: Any
    headers: dict[str, str]

    @property
    def id(self) -> int:
        return int(self.user.id)


@dataclass
class Tenant:
    world: Any
    client: httpx.AsyncClient
    org: Any
    members: dict[tuple[str, str], Member] = field(default_factory=dict)

    async def member(self, role: str = "admin", key: str = "", access: str = "write") -> Member:
        """One user per (role, key, access), made on first use and logged in over HTTP."""
        slot = (f"{role}:{key}", access)
        if slot not in self.members:
            user = await self.world.user(self.org.id, role=role, access=access)
            token = await self.world.token(self.client, user.username)
            self.members[slot] = Member(user, {"Authorization": f"Bearer {token}"})
        return self.members[slot]

    async def h(self, role: str = "admin", key: str = "", access: str = "write") -> dict[str, str]:
        return (await self.member(role, key, access)).headers

    async def customer(self, role: str = "admin", **fields: Any) -> dict[str, Any]:
        body = {"name": "John Doe", "phone": "+27 82 123 4567", "email": "john@example.com"} | fields
        r = await self.client.post("/api/customers/", json=body, headers=await self.h(role))
        assert r.status_code == 201, r.text
        return r.json()

    async def loan(self, customer_id: int, role: str = "admin", **fields: Any) -> dict[str, Any]:
        self._loans = getattr(self, "_loans", 0) + 1
        body = {"loan_account_number": f"LN{self.org.id}-{self._loans:05d}", "principal_amount": "50000.00",
                "interest_rate": "10.50", "loan_type": "personal", "tenure_months": 12,
                "loan_date": "2025-03-09", "customer": customer_id} | fields
        r = await self.client.post("/api/loans/", json=body, headers=await self.h(role))
        assert r.status_code == 201, r.text
        return r.json()

    async def interaction(self, kind: str, loan_id: int, role: str | None = None, key: str = "",
                          **fields: Any) -> dict[str, Any]:
        role = role or ("field_officer" if kind == "field" else "calling_agent")
        body = {"loan": loan_id, "comment": "note",
                "disposition": "visited" if kind == "field" else "called",
                "next_call_date": "2025-03-15"} | fields
        r = await self.client.post(f"/api/interactions/{kind}/create/", json=body,
                                   headers=await self.h(role, key))
        assert r.status_code == 201, r.text
        return r.json()


class RS:
    def __init__(self, client: httpx.AsyncClient, world: Any) -> None:
        self.client = client
        self.world = world

    async def tenant(self, name: str = "Acme Lending") -> Tenant:
        return Tenant(self.world, self.client, await self.world.org(name))


@pytest.fixture
def rs(client: httpx.AsyncClient, world: Any) -> RS:
    return RS(client, world)
