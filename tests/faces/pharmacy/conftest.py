"""Fixtures of the pharmacy face tests: two pharmacies (tenants), a writer and a reader in the
first, an admin of the second, and reports drawn by the PDF tests' generator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest


@dataclass
class Pharmacy:
    client: httpx.AsyncClient
    org: Any
    writer: dict[str, str]  # manager with write access
    reader: dict[str, str]  # officer with read access only
    other_org: Any
    other: dict[str, str]  # admin of the other pharmacy

    def url(self, path: str = "", org: Any = None) -> str:
        return f"/pharmacies/{(org or self.org).id}/debtors{path}"

    async def upload(self, data: bytes, *, filename: str = "report.pdf", headers: dict[str, str] | None = None,
                     org: Any = None) -> httpx.Response:
        return await self.client.post(self.url("/upload", org), headers=headers or self.writer,
                                      files={"file": (filename, data, "application/pdf")})

    async def uploaded(self, data: bytes, **kw: Any) -> dict[str, Any]:
        r = await self.upload(data, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    async def get(self, path: str = "", headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        return await self.client.get(self.url(path), headers=headers or self.writer, params=params)

    async def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(self.url(path), headers=headers or self.writer, json=body)


@pytest.fixture
async def pharmacy(client: httpx.AsyncClient, world: Any) -> Pharmacy:
    org = await world.org("Sunrise Pharmacy", kind="pharmacy")
    other = await world.org("Other Pharmacy", kind="pharmacy")
    return Pharmacy(client, org, await world.login_headers(client, org.id, role="manager"),
                    await world.login_headers(client, org.id, role="collection_officer", access="read"),
                    other, await world.login_headers(client, other.id, role="admin"))
