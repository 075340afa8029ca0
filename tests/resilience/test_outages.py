"""Redis or PostgreSQL going away for a moment, as an operator would see it: real servers
(`arrears serve --no-worker`) and a real worker (`arrears worker`) on a PostgreSQL cluster and a
Redis server that these tests stop and start (never the machine's own)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from tests.partners.receiver import Receiver, Reply
from tests.resilience.conftest import RATE, Stack

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300), pytest.mark.slow]

POLICY_URL = "/api/webhooks/policies/update"
COLL_URL = "/api/webhooks/collections/update"


def policy(n: int | str) -> dict[str, Any]:
    return {"policy_number": f"POL_{n}", "client_name": "John Doe", "client_email": "j@example.com",
            "client_phone": "+27123456789", "premium_amount": 1500.00, "frequency": "monthly",
            "status": "active", "mandate_reference": f"MAN_{n}", "bank_account_number": "1234567890",
            "bank_branch_code": "123456", "next_collection_date": "2024-02-01"}


def http(stack: Stack, server: str, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key or stack.key}"}
    return httpx.AsyncClient(base_url=stack.fleet.base_url(server), headers=headers, timeout=30)


async def scalar(stack: Stack, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(stack.pg.url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def metric(text: str, name: str, component: str) -> float:
    for line in text.splitlines():
        if line.startswith(f'{name}{{component="{component}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def wait_for(check: Any, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


# ------------------------------------------------------------------ Redis


async def test_redis_outage_degrades_and_limits_fall_back(stack: Stack) -> None:
    async with http(stack, "s1", stack.limited_key) as a, http(stack, "s2", stack.limited_key) as b, \
            http(stack, "s1") as s1:
        assert (await a.post(POLICY_URL, json=policy("RL"))).status_code == 200
        assert (await s1.get("/readyz")).json() == {"status": "ready", "database": "ok", "redis": "ok"}
        ws = await websockets.connect(f"ws://127.0.0.1:{stack.fleet.servers['s1'][1]}/ws",
                                      open_timeout=30)
        await ws.send(json.dumps({"type": "auth", "token": stack.key}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "auth_success"

        stack.redis.stop()
        try:
            # Each server counts for itself: the limit holds per process (at worst 2 x RATE).
            answers_a = [(await a.post(POLICY_URL, json=policy("RL"))).status_code for _ in range(RATE + 1)]
            answers_b = [(await b.post(POLICY_URL, json=policy("RL"))).status_code for _ in range(RATE + 1)]
            assert 500 not in answers_a + answers_b
            assert answers_a == [200] * RATE + [429] and answers_b == [200] * RATE + [429]
            ready = await s1.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["status"] == "degraded" and ready.json()["redis"] == "unavailable"
            # The event raised on s1 still reaches s1's own socket.
            r = await s1.post(POLICY_URL, json=policy("WS"))
            assert r.status_code == 200
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            while msg.get("type") == "ping":
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert msg["type"] == "policy_updated"
            assert msg["data"]["policy"]["policy_number"] == "POL_WS"
            m = (await s1.get("/metrics")).text
            assert metric(m, "arrears_redis_fallbacks_total", "ratelimit") == 1
            assert metric(m, "arrears_redis_fallback_calls_total", "ratelimit") >= RATE
            assert metric(m, "arrears_redis_degraded", "ratelimit") == 1
            assert metric(m, "arrears_redis_fallbacks_total", "realtime") == 1
        finally:
            stack.redis.start()
        await ws.close()
        await asyncio.sleep(1.2)  # each component tries Redis again within a second
        # Back on the shared counters (Redis restarted empty): RATE across both servers together.
        shared = []
        for i in range(RATE + 2):
            shared.append((await (a if i % 2 else b).post(POLICY_URL, json=policy("RL"))).status_code)
        assert shared.count(200) == RATE and shared[-2:] == [429, 429], shared
        ready = await s1.get("/readyz")
        assert ready.json()["status"] == "ready", ready.json()
        m = (await s1.get("/metrics")).text
        assert metric(m, "arrears_redis_degraded", "ratelimit") == 0
    log = stack.fleet.log_text("s1")
    assert log.count("redis unavailable: ratelimit falls back") == 1  # once per outage
    assert log.count("redis back: ratelimit uses Redis again") == 1
    assert "Internal server error" not in log and "unhandled error" not in log


async def test_messaging_pacer_falls_back_to_a_local_pace(stack: Stack) -> None:
    from arrears import outages
    from arrears.messaging.pace_fallback import FallbackPacer
    from arrears.messaging.ratelimit import MemoryPacer, RedisPacer

    outages.reset()
    local = MemoryPacer()
    p = FallbackPacer(RedisPacer(stack.redis.url), lambda: local)
    assert await p.reserve("acct", 10, 10.0) <= 0  # the shared timeline: 1 s reserved
    assert 0.9 < await p.backlog("acct") <= 1.0 and await local.backlog("acct") == 0
    stack.redis.stop()
    try:
        assert await p.reserve("acct", 10, 10.0) <= 0  # this process's own pace
        assert 0.9 < await local.backlog("acct") <= 1.0
        await p.reserve("acct", 10, 10.0)
        assert 1.9 < await p.backlog("acct") <= 2.0  # still paced, locally
        assert outages.degraded_components() == ["messaging-pacer"]
    finally:
        stack.redis.start()
    outages.REDIS_RETRY_SECONDS = 0.0
    try:
        assert await p.backlog("acct") == 0  # the restarted Redis holds no reservation
    finally:
        outages.REDIS_RETRY_SECONDS = 1.0
    assert outages.degraded_components() == []
    await p.aclose()


# ------------------------------------------------------------------ PostgreSQL


async def test_database_outage_answers_503_in_each_face(stack: Stack) -> None:
    async with http(stack, "s1") as s1, http(stack, "s2", stack.jwt()) as partner:
        assert (await s1.post(POLICY_URL, json=policy("DB"))).status_code == 200
        stack.pg.stop()
        try:
            r = await s1.post(POLICY_URL, json=policy("DB"))
            assert r.status_code == 503 and r.headers["Retry-After"] == "5"
            assert r.json()["error"]["code"] == "SERVICE_UNAVAILABLE"  # the premium body
            r = await partner.get("/api/v1/api-clients")
            assert r.status_code == 503 and r.headers["Retry-After"]
            assert r.json()["error"] == "SERVICE_UNAVAILABLE" and "message" in r.json()  # partner
            r = await s1.post("/api/auth/token/", json={"username": "x", "password": "y"})
            assert r.status_code == 503 and set(r.json()) == {"error"}  # RepaySync
            r = await s1.get("/readyz")
            assert r.status_code == 503 and r.json()["database"] == "unavailable"
        finally:
            stack.pg.start()
        # The pool drops its dead connections and reconnects: no server restart.
        assert (await s1.post(POLICY_URL, json=policy("DB"))).status_code == 200
        assert (await partner.get("/api/v1/api-clients")).status_code == 200
        stack.pg.restart()
        assert (await s1.post(POLICY_URL, json=policy("DB"))).status_code == 200
        assert (await s1.get("/readyz")).status_code == 200
    assert "unhandled error" not in stack.fleet.log_text("s1")


async def test_a_cut_transaction_is_committed_or_not_and_the_retry_gets_one_answer(stack: Stack) -> None:
    async with http(stack, "s1") as s1, http(stack, "s2") as s2:
        assert (await s1.post(POLICY_URL, json=policy("IDEM"))).status_code == 200
        keys = [f"cut-{i}" for i in range(60)]
        start = date(2024, 1, 1)  # one collection per (policy, date): a date per key
        bodies = {k: {"policy_number": "POL_IDEM", "collection_date": str(start + timedelta(days=i)),
                      "status": "pending", "amount": 100 + i} for i, k in enumerate(keys)}

        async def send(c: httpx.AsyncClient, k: str) -> httpx.Response | None:
            try:
                return await c.post(COLL_URL, json=bodies[k], headers={"Idempotency-Key": k})
            except httpx.TransportError:
                return None  # the answer was lost on the way: the client will retry

        async def restart_mid_flight() -> None:
            await asyncio.sleep(0.15)
            await asyncio.to_thread(stack.pg.restart)

        first, _ = await asyncio.gather(
            asyncio.gather(*(send(s1 if i % 2 else s2, k) for i, k in enumerate(keys))),
            restart_mid_flight())
        statuses = [r.status_code if r is not None else None for r in first]
        assert 500 not in statuses and set(statuses) <= {200, 503, None}, statuses
        answers: dict[str, Any] = {}
        for k, r in zip(keys, first, strict=True):
            if r is not None and r.status_code == 200:
                answers[k] = r.json()
        # The client retries what it did not get an answer to, and replays what it did.
        for i, k in enumerate(keys):
            for _ in range(20):
                r = await send(s2 if i % 2 else s1, k)
                if r is not None and r.status_code == 200:
                    break
                await asyncio.sleep(0.5)
            assert r is not None and r.status_code == 200, k
            if k in answers:
                assert r.json() == answers[k] and r.headers.get("Idempotent-Replayed") == "true"
        amounts = await scalar(stack, "SELECT count(*) FROM collections WHERE amount >= 100")
        assert amounts == len(keys)  # every collection applied exactly once


async def test_workers_ride_out_an_outage_and_a_lapsed_lease_is_taken_over(stack: Stack) -> None:
    receiver = await Receiver().start()
    receiver.default = Reply(delay=2.0)  # a slow receiver: the drain job is mid-way for a while
    try:
        async with http(stack, "s1", stack.jwt()) as partner, http(stack, "s2") as s2:
            r = await partner.post("/api/v1/api-clients", json={
                "name": "Outage receiver", "redirectUris": ["https://example.com/cb"],
                "website": "https://example.com", "contactEmail": "t@example.com",
                "rateLimitTier": "standard", "scopes": ["webhooks:write"]})
            assert r.status_code == 201, r.text
            r = await partner.post(f"/api/v1/api-clients/{r.json()['id']}/webhooks",
                                   json={"url": receiver.url, "events": ["policy.updated",
                                                                          "policy.created"]})
            assert r.status_code == 201, r.text
            for i in range(6):
                assert (await s2.post(POLICY_URL, json=policy(f"W{i}"))).status_code == 200
            await wait_for(lambda: _true(len(receiver.requests) >= 1), 30)
            # The database goes away while w1 holds the job; its 3 s lease runs out meanwhile.
            await asyncio.to_thread(stack.pg.stop)
            await asyncio.sleep(4)
            await asyncio.to_thread(stack.pg.start)
            stack.fleet.start_worker("w2", lease_seconds=3)
            events = await scalar(stack, "SELECT count(*) FROM webhook_deliveries")
            assert events >= 6
            # A claim whose commit was cut with the connection holds its deliveries until their
            # lease (90 s) runs out; then any worker sends them, with the same webhook-id.
            from arrears.partners.delivery import LEASE

            await wait_for(lambda: _delivered(stack, events), LEASE.total_seconds() + 60)
        ids = {req.headers.get("webhook-id") for req in receiver.requests}
        assert len(ids) == events  # every delivery arrived (a repeat keeps its webhook-id)
        assert await scalar(stack, "SELECT count(*) FROM jobs WHERE status = 'dead'") == 0
        for name in ("w1", "w2"):
            assert stack.fleet.alive(name)
        log = stack.fleet.log_text("w1")
        assert log.count("database unavailable: worker backs off") >= 1

        async def reconnected() -> bool:
            # Logged by the claim loop's next good claim, which a job still running may delay.
            return "database back: worker reconnected" in stack.fleet.log_text("w1")

        await wait_for(reconnected, 60)
    finally:
        await receiver.stop()


async def _true(value: bool) -> bool:
    return value


async def _delivered(stack: Stack, events: int) -> bool:
    n = await scalar(stack, "SELECT count(*) FROM webhook_deliveries WHERE status = 'DELIVERED'")
    return bool(n == events)
