"""/ws on a real uvicorn server on loopback: auth, the spec's event messages of one's own cell
captive only (and only committed changes), the connection limit, pings, and fan-out from one
server process to sockets held by another through Redis (and the rate limit shared by both
processes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from datetime import date
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from sqlalchemy import update

from arrears import config
from arrears.db import transaction
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.models import ApiKey, Organisation
from arrears.realtime.hub import hub
from tests.conftest import STRONG_SECRET
from tests.faces.premium.conftest import add_collection, make_captive, put_policy

COLL = "/api/webhooks/collections/update"
BULK = "/api/webhooks/collections/bulk-update"


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # the test runner owns the signals
        yield


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
async def live(app):
    """The app served by uvicorn in this event loop; yields the port."""
    sock = _free_socket()
    server = _Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield sock.getsockname()[1]
    server.should_exit = True
    await asyncio.wait_for(task, 15)
    sock.close()  # the hub's Redis tasks stop with the application state (env)


async def _connect(port: int) -> Any:
    # Generous: a busy machine (parallel suites) can take seconds to answer the handshake.
    return await websockets.connect(f"ws://127.0.0.1:{port}/ws", open_timeout=30)


async def _recv(ws: Any, wait: float = 5.0, skip_pings: bool = True) -> dict[str, Any]:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), wait))
        if skip_pings and msg.get("type") == "ping":
            continue
        return msg


async def _auth(port: int, token: str) -> tuple[Any, dict[str, Any]]:
    ws = await _connect(port)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    return ws, await _recv(ws)


async def _closed(ws: Any) -> tuple[int, str]:
    with pytest.raises(websockets.ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 5)
    return info.value.rcvd.code, info.value.rcvd.reason


async def _receiver(world, captive) -> str:
    _, raw = await world.api_key(captive.org.id, ["webhooks:receive"])
    return raw


async def test_auth_then_collection_and_policy_events(client, world, live, captive):
    ws, first = await _auth(live, await _receiver(world, captive))
    assert first == {"type": "auth_success"}
    policy = await put_policy(client, captive)
    msg = await _recv(ws)
    assert msg["type"] == "policy_updated" and set(msg) == {"type", "data", "timestamp"}
    assert msg["data"]["policy"] == policy
    assert msg["data"]["cell_captive"] == {"id": str(captive.org.uuid), "name": captive.org.name}
    assert msg["data"]["updated_by"] == "webhook" and msg["timestamp"].endswith("Z")
    r = await client.post(COLL, headers=captive.headers, json={
        "policy_number": "POL_123456", "collection_date": "2024-01-15", "status": "pending"})
    msg = await _recv(ws)
    assert msg["type"] == "collection_updated"
    assert msg["data"]["collection"] == r.json()["data"]["collection"]
    assert msg["data"]["updated_by"] == "webhook"
    # A debit-order run acting as the system.
    await add_collection(captive, "POL_123456", date(2024, 2, 15), "pending", reference="COL_SYS")
    msg = await _recv(ws)
    assert msg["data"]["collection"]["collection_reference"] == "COL_SYS"
    assert msg["data"]["updated_by"] == "system"
    await ws.close()


async def test_a_users_jwt_works_too(client, world, live, captive):
    user = await world.user(captive.org.id, role="manager")
    ws, first = await _auth(live, await world.token(client, user.username))
    assert first == {"type": "auth_success"}
    await put_policy(client, captive)
    assert (await _recv(ws))["type"] == "policy_updated"
    await ws.close()


async def test_refusals(client, world, live, captive):
    _, no_scope = await world.api_key(captive.org.id, ["collections:read"])
    key, revoked = await world.api_key(captive.org.id, ["*"])
    async with transaction() as s:
        await identity.revoke_api_key(s, Caller.system(key.org_id), await s.get(ApiKey, key.id))
    cases = [
        ({"type": "auth", "token": "garbage"}, "TOKEN_INVALID", 4001),
        ({"type": "auth", "token": "pct_" + "b" * 64}, "INVALID_API_KEY", 4001),
        ({"type": "auth", "token": revoked}, "API_KEY_REVOKED", 4001),
        ({"type": "auth", "token": no_scope}, "INSUFFICIENT_PERMISSIONS", 4003),
        ({"type": "auth"}, "MISSING_API_KEY", 4001),
        ({"type": "hello", "token": revoked}, "AUTH_REQUIRED", 4001),
        ("not json at all", "AUTH_REQUIRED", 4001),
    ]
    for message, code, close_code in cases:
        ws = await _connect(live)
        await ws.send(message if isinstance(message, str) else json.dumps(message))
        err = await _recv(ws)
        assert err["type"] == "error" and err["error"]["code"] == code, (message, err)
        assert err["error"]["message"]
        assert (await _closed(ws))[0] == close_code
    async with transaction() as s:
        await s.execute(update(Organisation).where(Organisation.id == captive.org.id)
                        .values(status="inactive"))
    ws, err = await _auth(live, captive.key)
    assert err["error"]["code"] == "CAPTIVE_INACTIVE" and (await _closed(ws))[0] == 4003


async def test_no_auth_message_in_time(live, env, monkeypatch):
    monkeypatch.setenv("ARREARS_WS_AUTH_TIMEOUT", "0.3")
    config.reset_settings()
    ws = await _connect(live)
    err = await _recv(ws)
    assert err["error"]["code"] == "AUTH_TIMEOUT" and (await _closed(ws))[0] == 4001


async def test_events_of_ones_own_captive_only(client, world, live, captive):
    other = await make_captive(world, "Beta Captive")
    ws_a, _ = await _auth(live, captive.key)
    ws_b, _ = await _auth(live, other.key)
    await put_policy(client, captive, client_name="Alpha Client")
    await put_policy(client, other, client_name="Beta Client")
    a = await _recv(ws_a)
    b = await _recv(ws_b)
    assert a["data"]["policy"]["client_name"] == "Alpha Client"
    assert b["data"]["policy"]["client_name"] == "Beta Client"
    assert b["data"]["cell_captive"]["name"] == "Beta Captive"
    with pytest.raises(TimeoutError):
        await _recv(ws_a, wait=0.5)
    await ws_a.close()
    await ws_b.close()


async def test_only_committed_changes_are_announced(client, live, captive):
    await put_policy(client, captive)
    await add_collection(captive, "POL_123456", date(2024, 1, 15), "submitted", reference="COL_1")
    ws, _ = await _auth(live, captive.key)
    r = await client.post(COLL, headers=captive.headers, json={"collection_reference": "COL_1",
                                                               "status": "pending"})
    assert r.status_code == 409
    r = await client.post(BULK, headers=captive.headers, json={"collections": [
        {"collection_reference": "COL_1", "status": "successful"},
        {"collection_reference": "COL_NOPE", "status": "failed"},
        {"collection_reference": "COL_1", "status": "pending"},
        {"policy_number": "POL_123456", "collection_date": "2024-02-15", "status": "pending"}]})
    assert r.json()["data"]["processed"] == 2
    got = [await _recv(ws), await _recv(ws)]
    assert [m["data"]["collection"]["status"] for m in got] == ["successful", "pending"]
    with pytest.raises(TimeoutError):
        await _recv(ws, wait=0.5)
    await ws.close()


async def test_at_most_ten_connections_per_captive(world, live, captive):
    other = await make_captive(world, "Beta Captive")
    sockets = []
    for _ in range(10):
        ws, ok = await _auth(live, captive.key)
        assert ok == {"type": "auth_success"}
        sockets.append(ws)
    ws, err = await _auth(live, captive.key)
    assert err["error"]["code"] == "TOO_MANY_CONNECTIONS"
    code, reason = await _closed(ws)
    assert code == 1008 and "10" in reason
    ws_b, ok = await _auth(live, other.key)  # another captive is not affected
    assert ok == {"type": "auth_success"}
    await sockets.pop().close()
    for _ in range(50):
        if hub().count(captive.org.id) < 10:
            break
        await asyncio.sleep(0.02)
    ws, ok = await _auth(live, captive.key)
    assert ok == {"type": "auth_success"}
    for s in [*sockets, ws, ws_b]:
        await s.close()


async def test_pings_keep_idle_connections_alive(live, captive, monkeypatch):
    monkeypatch.setenv("ARREARS_WS_PING_INTERVAL", "0.2")
    config.reset_settings()
    ws, _ = await _auth(live, captive.key)
    assert (await _recv(ws, skip_pings=False))["type"] == "ping"
    await ws.send(json.dumps({"type": "ping"}))
    msg = await _recv(ws)
    assert msg["type"] == "pong" and msg["timestamp"].endswith("Z")
    await ws.send(json.dumps({"type": "dance"}))
    assert (await _recv(ws))["error"]["code"] == "UNKNOWN_MESSAGE"
    await ws.close()


# ---------------------------------------------------------------- two processes, one Redis


@pytest.fixture
async def with_redis(env, redis_url, monkeypatch):
    import redis.asyncio as aioredis

    r = aioredis.from_url(redis_url)
    await r.flushdb()
    await r.aclose()
    monkeypatch.setenv("REDIS_URL", redis_url)
    config.reset_settings()  # the state keeps one rate-limit storage per URL: Redis's from now on
    return redis_url


SECOND_PROCESS_START_TIMEOUT = 90.0


@pytest.fixture
async def second_process(env, with_redis):
    """Another server process on the same database and Redis."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc_env = {**os.environ, "DATABASE_URL": env["db_url"], "ARREARS_DATA_DIR": str(env["data_dir"]),
                "SECRET_KEY": STRONG_SECRET, "REDIS_URL": with_redis, "ARREARS_LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "--factory", "arrears.app:create_app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", env=proc_env, cwd=os.getcwd())
    try:
        # Importing the whole app takes seconds on a busy machine: wait by the clock, not by tries.
        deadline = asyncio.get_running_loop().time() + SECOND_PROCESS_START_TIMEOUT
        async with httpx.AsyncClient() as c:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await c.get(f"http://127.0.0.1:{port}/healthz", timeout=2)).status_code == 200:
                        break
                if proc.returncode is not None or asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError("the second server process did not start")
                await asyncio.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@pytest.mark.slow
async def test_an_event_reaches_a_socket_held_by_another_process(client, world, captive, second_process):
    other = await make_captive(world, "Beta Captive")
    ws, ok = await _auth(second_process, captive.key)
    assert ok == {"type": "auth_success"}
    ws_other, _ = await _auth(second_process, other.key)
    # The change happens in this process; the socket lives in the other one.
    policy = await put_policy(client, captive)
    msg = await _recv(ws)
    assert msg["type"] == "policy_updated" and msg["data"]["policy"] == policy
    with pytest.raises(TimeoutError):
        await _recv(ws_other, wait=0.5)
    await ws.close()
    await ws_other.close()


@pytest.mark.slow
async def test_the_connection_limit_spans_processes(world, live, captive, second_process):
    sockets = []
    for i in range(10):
        ws, ok = await _auth(live if i % 2 else second_process, captive.key)
        assert ok == {"type": "auth_success"}
        sockets.append(ws)
    for port in (live, second_process):
        ws, err = await _auth(port, captive.key)
        assert err["error"]["code"] == "TOO_MANY_CONNECTIONS"
        assert (await _closed(ws))[0] == 1008
    for s in sockets:
        await s.close()


@pytest.mark.slow
async def test_the_rate_limit_spans_processes(client, world, captive, second_process):
    """With REDIS_URL, one key's requests count against one limit in every server process."""
    _, raw = await world.api_key(captive.org.id, ["*"], rate_limit_override=4)
    h = {"Authorization": f"Bearer {raw}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{second_process}") as there:
        answers = []
        for i in range(5):
            c = client if i % 2 == 0 else there
            r = await c.get("/api/webhooks/logs", headers=h)
            answers.append((r.status_code, r.headers.get("X-RateLimit-Remaining")))
        assert answers == [(200, "3"), (200, "2"), (200, "1"), (200, "0"), (429, "0")]
        r = await there.get("/api/webhooks/logs", headers=h)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        # Another key of the same captive has its own count, in both processes.
        assert (await there.get("/api/webhooks/logs", headers=captive.headers)).status_code == 200
