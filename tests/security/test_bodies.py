"""Issue 19, point 2: bodies are bounded before they are read — a declared or streamed body past
its route's limit is refused as soon as the count passes it, in the face's own error body, and a
huge body costs the server little memory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.security.conftest import StartServer, sign_in

MiB = 1024 * 1024


class Feed:
    """A chunked request body that counts what the server pulled from it."""

    def __init__(self, total: int, chunk: int = 64 * 1024, head: bytes = b"") -> None:
        self.total, self.chunk, self.head = total, chunk, head
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.head:
            self.sent += len(self.head)
            yield self.head
        block = b"a" * self.chunk
        while self.sent < self.total:
            self.sent += len(block)
            yield block


async def _json_too_large(client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None,
                          size: int = 2 * MiB, method: str = "POST") -> httpx.Response:
    feed = Feed(size, head=b'{"x": "')
    r = await client.request(method, path, content=feed, headers={"Content-Type": "application/json",
                                                                   **(headers or {})})
    assert feed.sent < size, "the whole body was read before it was refused"
    return r


async def test_a_chunked_json_body_past_1_mib_is_413_in_each_faces_body(client: httpx.AsyncClient,
                                                                         world: Any) -> None:
    r = await _json_too_large(client, "/api/auth/token/")
    assert r.status_code == 413 and set(r.json()) == {"error"}, r.text  # RepaySync
    r = await _json_too_large(client, "/api/messaging/send")
    assert r.status_code == 413 and {"message", "code", "details"} <= set(r.json()), r.text  # AAMA
    assert isinstance(r.json()["details"], str) and r.json()["max_size"] == 1024 * 1024  # issue 20 §6
    assert r.json()["code"] == "PAYLOAD_TOO_LARGE"
    pharmacy = await world.org("Corner Pharmacy", kind="pharmacy")
    r = await _json_too_large(client, f"/pharmacies/{pharmacy.id}/debtors/send-sms",
                              await world.login_headers(client, pharmacy.id), size=17 * MiB)
    assert r.status_code == 413 and set(r.json()) == {"detail"}, r.text  # pharmacy
    r = await _json_too_large(client, "/api/webhooks/collections/update")
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE", r.text  # premium
    r = await _json_too_large(client, "/api/v1/api-clients")
    assert r.status_code == 413 and set(r.json()) == {"error", "message", "details"}, r.text  # partner
    r = await _json_too_large(client, "/providers/smsportal/dlr/nope")
    assert r.status_code == 413 and "detail" in r.json(), r.text  # a delivery-report URL


async def test_selection_routes_take_16_mib(client: httpx.AsyncClient, world: Any) -> None:
    org = await world.org()
    headers = await world.login_headers(client, org.id)
    ids = json.dumps({"account_ids": ["00000000-0000-0000-0000-000000000000"] * 60_000,
                      "is_selected": True}).encode()
    assert MiB < len(ids) < 16 * MiB
    r = await client.put("/api/uploads/00000000-0000-0000-0000-000000000000/selection", content=ids,
                         headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 404, r.text  # read whole and answered: no such upload
    r = await _json_too_large(client, "/api/uploads/00000000-0000-0000-0000-000000000000/selection",
                              headers, size=17 * MiB, method="PUT")
    assert r.status_code == 413 and r.json()["code"] == "PAYLOAD_TOO_LARGE", r.text


async def test_a_declared_length_past_the_limit_is_refused_before_reading(client: httpx.AsyncClient) -> None:
    feed = Feed(2 * MiB)
    r = await client.post("/api/auth/token/", content=feed,
                          headers={"Content-Length": str(2 * MiB), "Content-Type": "application/json"})
    assert r.status_code == 413 and "error" in r.json()
    assert feed.sent == 0
    r = await client.post("/api/auth/token/", content=b"{}", headers={"Content-Length": "12x"})
    assert r.status_code == 400


@pytest.mark.parametrize(("path", "status", "key"), [
    ("/api/uploads", 400, "code"),  # AAMA keeps 400 FILE_TOO_LARGE
    ("/pharmacies/{pharmacy}/debtors/upload", 400, "detail"),
    ("/api/customers/bulk/upload/", 413, "error"),  # RepaySync keeps 413
])
async def test_uploads_keep_each_faces_status(client: httpx.AsyncClient, world: Any, monkeypatch: Any,
                                              path: str, status: int, key: str) -> None:
    monkeypatch.setenv("UPLOAD_MAX_SIZE", str(MiB))
    from arrears.config import reset_settings

    reset_settings()
    org = await world.org(kind="pharmacy") if "pharmacies" in path else await world.org()
    headers = await world.login_headers(client, org.id)
    head = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\n")
    for declared in (False, True):
        feed = Feed(8 * MiB, head=head)
        extra = {"Content-Length": str(8 * MiB)} if declared else {}
        r = await client.post(path.format(pharmacy=org.id), content=feed,
                              headers={**headers, **extra, "Content-Type": "multipart/form-data; boundary=XyZ"})
        assert r.status_code == status, r.text
        assert key in r.json()
        if key == "code":
            assert r.json()["code"] == "FILE_TOO_LARGE"
        assert feed.sent < 3 * MiB


@pytest.mark.parametrize("path", ["/api/uploads", "/api/customers/bulk/upload/",
                                  "/pharmacies/1/debtors/upload"])
async def test_a_stranger_gets_401_before_a_multipart_body_is_read(client: httpx.AsyncClient,
                                                                   path: str) -> None:
    feed = Feed(20 * MiB, head=b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n')
    r = await client.post(path, content=feed, headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert r.status_code == 401, r.text
    assert feed.sent <= 64 * 1024 + 200, f"{feed.sent} bytes read before the 401"


@pytest.mark.slow
async def test_huge_bodies_cost_a_real_server_little_memory(start_server: StartServer, world: Any) -> None:
    """500 MB to a delivery-report URL and a 200 MB username, chunked, through uvicorn on loopback."""
    server = await start_server()
    org = await world.org()
    await sign_in(server, world, org.id)  # the server has done real work: its baseline is honest
    before = server.peak_rss()

    async def chunks(total: int, head: bytes = b"") -> AsyncIterator[bytes]:
        yield head
        block, sent = b"7" * (256 * 1024), 0
        while sent < total:
            sent += len(block)
            yield block

    async with server.client(60) as c:
        for path, total, head in [("/providers/smsportal/dlr/x", 500 * MiB, b"["),
                                  ("/api/auth/token/", 200 * MiB, b'{"password": "x", "username": "')]:
            try:
                r = await c.post(path, content=chunks(total, head), headers={"Content-Type": "application/json"})
            except httpx.TransportError:
                continue  # the server answered and closed while we were still sending: also refused
            assert r.status_code == 413, r.text
    await server.healthy()
    grown = server.peak_rss() - before
    assert grown < 32 * MiB, f"peak RSS grew by {grown >> 20} MiB"
