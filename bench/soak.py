"""Soak: the fleet through crashes and outages, on loopback, bounded in time.

Two `arrears serve --no-worker` servers and two `arrears worker` workers on a PostgreSQL cluster
and a Redis server of the soak's own (never the machine's services), with a mixed load over every
face: premium policies and collection statuses with Idempotency-Keys, partner, RepaySync, AAMA and
pharmacy reads, an AAMA import, signed partner webhook deliveries to a loopback receiver, and a
premium key limited to LIMIT requests an hour. Meanwhile it SIGKILLs a worker and a server (and
starts them again), stops and starts Redis, and restarts PostgreSQL. It prints, per check:
requests, answers by status, lost, doubled, deliveries and repeats, import rows, whether the limit
held, and the p99 latency outside the outages.

    uv run --frozen python bench/soak.py --duration 60 --import-rows 2000

Goal: 0 lost, 0 doubled, 0 answers of 500 (503 during a database outage is right), every delivery
arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.resilience.fleet import SECRET, Fleet  # noqa: E402
from tests.resilience.services import PgCluster, RedisServer  # noqa: E402

LIMIT = 30  # requests an hour for the limited key
POLICY = "/api/webhooks/policies/update"
COLL = "/api/webhooks/collections/update"


# ------------------------------------------------------------------ a webhook receiver (thread)


class Hooks:
    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hooks = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with hooks.lock:
                    hooks.ids[self.headers.get("webhook-id", "?")] += 1
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        return H


# ------------------------------------------------------------------ the record of one run


@dataclass
class Check:
    name: str
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds)

    def add(self, started: float, status: int | None) -> None:
        self.statuses[str(status) if status is not None else "no answer"] += 1
        self.latencies.append((started, time.monotonic() - started))


@dataclass
class Run:
    t0: float = field(default_factory=time.monotonic)
    checks: dict[str, Check] = field(default_factory=dict)
    outages: list[tuple[str, float, float]] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)  # Idempotency-Key → amount in cents
    sent: set[str] = field(default_factory=set)
    chaos_done: float | None = None

    def check(self, name: str) -> Check:
        return self.checks.setdefault(name, Check(name))

    def outside_outages(self, started: float) -> bool:
        return not any(a - 0.5 <= started <= b + 3.0 for _, a, b in self.outages)


async def call(run: Run, name: str, clients: list[httpx.AsyncClient], method: str, url: str,
               **kw: Any) -> httpx.Response | None:
    """One request through a stand-in for the reverse proxy: a server that does not answer (killed,
    restarting) is skipped for the other one, as a proxy's health check would."""
    order = random.sample(clients, len(clients))
    started = time.monotonic()
    for c in order:
        try:
            r = await c.request(method, url, **kw)
        except httpx.TransportError:
            continue
        run.check(name).add(started, r.status_code)
        return r
    run.check(name).add(started, None)
    return None


async def idempotent(run: Run, name: str, clients: list[httpx.AsyncClient], url: str,
                     body: dict[str, Any], key: str, within: float = 90.0) -> httpx.Response | None:
    """A careful client: retries with the same Idempotency-Key until it gets an answer."""
    run.sent.add(key)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        r = await call(run, name, clients, "POST", url, json=body, headers={"Idempotency-Key": key})
        if r is not None and r.status_code < 500 and r.status_code != 429:
            return r
        await asyncio.sleep(0.3)
    return None


# ------------------------------------------------------------------ set-up


async def seed(url: str) -> dict[str, Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from arrears.config import to_async_url
    from arrears.db import transaction
    from arrears.identity import service
    from arrears.identity.caller import Caller

    engine = create_async_engine(to_async_url(url))
    try:
        async with transaction(engine=engine) as s:
            org = await service.create_org(s, Caller.operator(), name="Soak Captive", kind="cell_captive")
            _, key = await service.create_api_key(s, Caller.system(org.id), kind="pct", scopes=["*"])
            _, limited = await service.create_api_key(s, Caller.system(org.id), kind="pct", scopes=["*"],
                                                      rate_limit_override=LIMIT)
            await service.create_user(s, Caller.system(org.id), username="soak-officer",
                                      password="Soak-pass-123!", role="admin")
            return {"org": org.id, "key": key, "limited": limited}
    finally:
        await engine.dispose()


def book(path: Path, rows: int) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Account", "Name", "Contact", "Telephone", "Current", "30 Days", "60 Days",
                    "90 Days", "120 Days", "Total Balance"])
        for i in range(rows):
            w.writerow([f"S{i:06d}", f"Customer {i}", "", f"082{i % 10_000_000:07d}", "10.00",
                        "5.00", "0", "0", "0", "15.00"])
    return path


def policy(n: str) -> dict[str, Any]:
    return {"policy_number": n, "client_name": "Soak Client", "client_email": "soak@example.com",
            "client_phone": "+27123456789", "premium_amount": 1500.00, "frequency": "monthly",
            "status": "active", "mandate_reference": f"MAN_{n}", "bank_account_number": "1234567890",
            "bank_branch_code": "123456", "next_collection_date": "2024-02-01"}


# ------------------------------------------------------------------ load


async def load(run: Run, fleet: Fleet, ids: dict[str, Any], jwt: str, until: float, worker: int) -> None:
    def clients(key: str) -> list[httpx.AsyncClient]:
        return [httpx.AsyncClient(base_url=fleet.base_url(n), timeout=30,
                                  headers={"Authorization": f"Bearer {key}"}) for n in ("s1", "s2")]

    premium, user = clients(ids["key"]), clients(jwt)
    n = 0
    try:
        while time.monotonic() < until or run.chaos_done is None:
            n += 1
            op = n % 6
            if op in (0, 1, 2):  # a collection status, amount unique per key
                key = f"soak-{worker}-{n}"
                cents = 100_000 + worker * 100_000 + n
                day = date(2000, 1, 1) + timedelta(days=worker * 5000 + n)  # one per (policy, date)
                body = {"policy_number": "POL_SOAK", "collection_date": str(day),
                        "status": "pending", "amount": cents / 100}
                r = await idempotent(run, "premium collections", premium, COLL, body, key)
                if r is not None and r.status_code == 200:
                    run.acked[key] = cents
            elif op == 3:
                r = await idempotent(run, "premium policies", premium, POLICY,
                                     {**policy("POL_SOAK"), "premium_amount": 1500 + n % 7},
                                     f"pol-{worker}-{n}")
            elif op == 4:
                await call(run, "partner reads", user, "GET", "/api/v1/api-clients")
                await call(run, "RepaySync reads", user, "GET", "/api/users/")
            else:
                await call(run, "AAMA reads", user, "GET", "/api/uploads")
                await call(run, "pharmacy reads", user, "GET", f"/pharmacies/{ids['org']}/debtors")
    finally:
        for c in premium + user:
            await c.aclose()


async def chaos(run: Run, fleet: Fleet, pg: PgCluster, rs: RedisServer, duration: float) -> None:
    def at(fraction: float) -> float:
        return run.t0 + duration * fraction

    async def until(t: float) -> None:
        await asyncio.sleep(max(0.0, t - time.monotonic()))

    await until(at(0.15))
    a = time.monotonic()
    fleet.kill("w1")
    await asyncio.sleep(1)
    fleet.start_worker("w1", lease_seconds=5)
    run.outages.append(("SIGKILL worker w1", a, time.monotonic()))
    await until(at(0.25))
    a = time.monotonic()
    fleet.kill("s1")
    await asyncio.sleep(1)
    fleet.start_server("s1", fleet.servers["s1"][1], wait=False)  # back when it has started
    run.outages.append(("SIGKILL server s1 (and start it again)", a, time.monotonic()))
    await until(at(0.45))
    a = time.monotonic()
    await asyncio.to_thread(rs.stop)
    await asyncio.sleep(duration * 0.1)
    await asyncio.to_thread(rs.start)
    run.outages.append(("Redis stopped and started", a, time.monotonic()))
    await until(at(0.65))
    a = time.monotonic()
    await asyncio.to_thread(pg.stop)
    await asyncio.sleep(3)
    await asyncio.to_thread(pg.start)
    run.outages.append(("PostgreSQL restarted", a, time.monotonic()))
    await until(at(0.8))
    a = time.monotonic()
    fleet.kill("w2")
    fleet.start_worker("w2", lease_seconds=5)
    run.outages.append(("SIGKILL worker w2", a, time.monotonic()))
    await asyncio.to_thread(fleet.supervise, "s1")
    run.chaos_done = time.monotonic()


async def limit_check(run: Run, fleet: Fleet, ids: dict[str, Any]) -> tuple[int, int]:
    """2 x LIMIT requests with the limited key across both servers, before any outage."""
    cs = [httpx.AsyncClient(base_url=fleet.base_url(n), timeout=30,
                            headers={"Authorization": f"Bearer {ids['limited']}"}) for n in ("s1", "s2")]
    ok = 0
    try:
        for i in range(2 * LIMIT):
            r = await call(run, "limited key", [cs[i % 2]], "GET", "/api/webhooks/logs")
            ok += r is not None and r.status_code == 200
    finally:
        for c in cs:
            await c.aclose()
    return ok, 2 * LIMIT


async def main_async(args: argparse.Namespace) -> int:
    from arrears import config, migrate
    from arrears.config import to_async_url

    work = Path(tempfile.mkdtemp(prefix="arrears-soak-"))
    hooks = Hooks()
    with PgCluster() as pg, RedisServer() as rs:
        import os

        os.environ.update({"SECRET_KEY": SECRET, "DATABASE_URL": pg.url})
        config.reset_settings()
        print(f"soak: PostgreSQL on :{pg.port}, Redis on :{rs.port}, logs in {work}", flush=True)
        await asyncio.to_thread(migrate.upgrade, to_async_url(pg.url))
        ids = await seed(pg.url)
        fleet = Fleet(pg.url, rs.url, work, extra_env={"ARREARS_WEBHOOKS_ALLOW_PRIVATE": "true"})
        with fleet:
            for n in ("s1", "s2"):
                fleet.start_server(n, wait=False)
            for n in ("w1", "w2"):
                fleet.start_worker(n, lease_seconds=5)
            for n in ("s1", "s2"):
                await asyncio.to_thread(fleet.wait_server, n)
            async with httpx.AsyncClient(base_url=fleet.base_url("s1"), timeout=60) as c:
                jwt = (await c.post("/api/auth/token/", json={"username": "soak-officer",
                                                             "password": "Soak-pass-123!"})).json()["access"]
                h = {"Authorization": f"Bearer {jwt}"}
                r = await c.post("/api/v1/api-clients", headers=h, json={
                    "name": "Soak receiver", "redirectUris": ["https://example.com/cb"],
                    "website": "https://example.com", "contactEmail": "soak@example.com",
                    "rateLimitTier": "standard", "scopes": ["webhooks:write"]})
                r = await c.post(f"/api/v1/api-clients/{r.json()['id']}/webhooks", headers=h, json={
                    "url": hooks.url, "events": ["policy.created", "policy.updated",
                                                 "collection.updated"]})
                assert r.status_code == 201, r.text
                r = await c.post(POLICY, json=policy("POL_SOAK"),
                                 headers={"Authorization": f"Bearer {ids['key']}"})
                assert r.status_code == 200, r.text
                limit_ok, limit_tried = await limit_check(Run(), fleet, ids)
                up = await c.post("/api/uploads", headers={"Authorization": f"Bearer {jwt}"},
                                  files={"file": ("soak.csv", book(work / "soak.csv",
                                                                   args.import_rows).read_bytes())})
                assert up.status_code == 202, up.text
                upload_id = up.json()["upload"]["id"]

            run = Run()
            until = run.t0 + args.duration
            async def chaos_then_stop() -> None:
                try:
                    await chaos(run, fleet, pg, rs, args.duration)
                finally:
                    run.chaos_done = run.chaos_done or time.monotonic()

            await asyncio.gather(chaos_then_stop(),
                                 *(load(run, fleet, ids, jwt, until, w) for w in range(args.concurrency)))
            load_seconds = time.monotonic() - run.t0

            # Settle: the workers finish the deliveries and the import.
            conn = await asyncpg.connect(pg.url)
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    pending = await conn.fetchval(
                        "SELECT count(*) FROM webhook_deliveries WHERE status <> 'DELIVERED'")
                    jobs = await conn.fetchval("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
                    if pending == 0 and jobs == 0:
                        break
                    await asyncio.sleep(1)
                rows = await conn.fetch("SELECT amount, count(*) AS n FROM collections c JOIN policies p "
                                        "ON p.id = c.policy_id WHERE p.policy_number = 'POL_SOAK' "
                                        "GROUP BY amount")
                deliveries = await conn.fetchval("SELECT count(*) FROM webhook_deliveries")
                delivered = await conn.fetchval(
                    "SELECT count(*) FROM webhook_deliveries WHERE status = 'DELIVERED'")
                dead = await conn.fetchval("SELECT count(*) FROM jobs WHERE status = 'dead'")
            finally:
                await conn.close()
            async with httpx.AsyncClient(base_url=fleet.base_url("s2"), timeout=60,
                                         headers={"Authorization": f"Bearer {jwt}"}) as c:
                prog = (await c.get(f"/api/uploads/{upload_id}/progress")).json()

    by_amount = {int(round(float(r["amount"]) * 100)): r["n"] for r in rows}
    lost = [k for k, cents in run.acked.items() if by_amount.get(cents, 0) == 0]
    doubled = sum(n - 1 for n in by_amount.values() if n > 1)
    unanswered = len(run.sent) - len(run.acked) - sum(1 for k in run.sent if k.startswith("pol-"))
    received = sum(hooks.ids.values())
    repeats = received - len(hooks.ids)

    print(f"\nsoak: {args.duration:.0f} s of load ({load_seconds:.0f} s with the outages' tails), "
          f"{args.concurrency} clients, 2 servers, 2 workers")
    for name, a, b in run.outages:
        print(f"  event: {name} at +{a - run.t0:.1f}s for {b - a:.1f}s")
    print(f"\n{'check':<22}{'requests':>9}  answers by status{'':<24}{'p99 outside outages':>20}")
    total: Counter[str] = Counter()
    for ch in run.checks.values():
        total.update(ch.statuses)
        quiet = sorted(s for t, s in ch.latencies if run.outside_outages(t))
        p99 = quiet[min(len(quiet) - 1, int(len(quiet) * 0.99))] * 1000 if quiet else float("nan")
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(ch.statuses.items()))
        print(f"{ch.name:<22}{sum(ch.statuses.values()):>9}  {answers:<40}{p99:>17.0f} ms")
    print(f"\ncollections acknowledged: {len(run.acked)}; lost: {len(lost)}; doubled: {doubled}; "
          f"never answered within 90 s: {unanswered}")
    print(f"answers of 500: {total.get('500', 0)}")
    print(f"webhook deliveries: {deliveries} rows, {delivered} delivered; received {received} "
          f"({len(hooks.ids)} distinct webhook-ids, {repeats} repeats)")
    print(f"import rows: {prog.get('success_rows')} imported of {args.import_rows} "
          f"(complete: {prog.get('is_complete')}, failed rows: {prog.get('failed_rows')})")
    print(f"limit held: {limit_ok} of {limit_tried} answered 200 with a limit of {LIMIT}/hour "
          f"across 2 servers -> {'yes' if limit_ok == LIMIT else 'NO'}")
    print(f"dead jobs: {dead}")
    ok = (not lost and not doubled and total.get("500", 0) == 0 and delivered == deliveries
          and len(hooks.ids) == deliveries and limit_ok == LIMIT
          and prog.get("success_rows") == args.import_rows)
    print("\nRESULT:", "pass" if ok else "FAIL")
    hooks.server.shutdown()
    return 0 if ok else 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    p.add_argument("--concurrency", type=int, default=6, help="concurrent clients (default 6)")
    p.add_argument("--import-rows", type=int, default=2000, help="rows of the AAMA import")
    sys.exit(asyncio.run(main_async(p.parse_args())))


if __name__ == "__main__":
    main()
