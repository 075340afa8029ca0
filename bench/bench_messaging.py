"""Benchmark (not a test): the messaging outbox against a loopback stand-in for SMSPortal.

    uv run --frozen python bench/bench_messaging.py [--count 1000] [--rate 50] [--latency 0.1]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--redis-url redis://127.0.0.1:6379/0]
        [--unknown-outcome resend|fail] [--skip-kill]

Two runs, each on a fresh database with --count messages queued for one organisation whose
SMSPortal credentials point at the stand-in:

1. steady: one `arrears worker` process sends everything at MESSAGING_RATE_LIMIT=--rate. The
   stand-in answers every call after --latency seconds, then posts a delivery report (DELIVRD)
   to the organisation's callback URL on an Arrears API served in this process (uvicorn), as
   SMSPortal does.
2. kill: the same, but the worker is killed with SIGKILL when 30 % and again when 65 % of the
   messages have been accepted, and a new worker is started each time.

Printed per run: messages accepted by the stand-in (distinct references), duplicates (a reference
accepted twice), losses (messages never accepted), the achieved rate and its ratio to the target,
and how the messages ended. The achieved rate is (accepted − first batch) / (last acceptance −
first acceptance): the time the pacer spent between the first call and the last, which is exact
for evenly paced batches of b messages (b = 0.2 s of the rate, 10 at 50/s).

With --database-url (a PostgreSQL server) each run creates and drops its own database there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from arrears.identity.caller import Caller

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.faces.messaging

import httpx  # noqa: E402
from scratch_db import pg_execute  # noqa: E402

from tests.faces.messaging.standins import SMSPortalStandIn, free_port  # noqa: E402

CLIENT_ID, SECRET = "bench-client", "bench-secret"


class Run:
    def __init__(self, args: argparse.Namespace, name: str) -> None:
        self.args = args
        self.name = name
        self.tmp = Path(tempfile.mkdtemp(prefix=f"arrears-bench-msg-{name}-"))
        self.pg_name: str | None = None
        if args.database_url:
            self.pg_name = f"bench_msg_{name}_{secrets.token_hex(3)}"
            from arrears.config import to_async_url

            self.db_url = to_async_url(args.database_url.rsplit("/", 1)[0] + "/" + self.pg_name)
        else:
            self.db_url = f"sqlite+aiosqlite:///{self.tmp / 'arrears.db'}"
        self.standin = SMSPortalStandIn(CLIENT_ID, SECRET, delay=args.latency)
        self.api_port = free_port()
        self.workers: list[subprocess.Popen[bytes]] = []
        self.token = ""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MESSAGING_", "SMSPORTAL_", "DB_"))}
        env.update({
            "DATABASE_URL": self.db_url, "ARREARS_DATA_DIR": str(self.tmp), "SECRET_KEY": "bench-" + "x" * 40,
            "MESSAGING_SIMULATION": "false", "SMSPORTAL_API_URL": self.standin.url,
            "MESSAGING_RATE_LIMIT": str(self.args.rate), "MESSAGING_CONTACT_HOURS": "false", "MESSAGING_CAP": "0",
            "MESSAGING_TIMEOUT": "2s", "MESSAGING_LEASE": "1s", "MESSAGING_RECONCILE_AFTER": "2s",
            "MESSAGING_UNKNOWN_OUTCOME": self.args.unknown_outcome, "ARREARS_LOG_LEVEL": "WARNING",
        })
        if self.args.redis_url:
            env["REDIS_URL"] = self.args.redis_url
        else:
            env.pop("REDIS_URL", None)
        return env

    async def setup(self) -> None:
        os.environ.update(self.env())
        if "REDIS_URL" not in self.env():
            os.environ.pop("REDIS_URL", None)
        from arrears import config, migrate

        config.reset_settings()
        if self.pg_name:
            await pg_execute(self.args.database_url, f'CREATE DATABASE "{self.pg_name}"')
        await asyncio.to_thread(migrate.upgrade, self.db_url)
        if self.args.redis_url:
            import redis.asyncio as aioredis

            r = aioredis.from_url(self.args.redis_url)
            async for key in r.scan_iter("arrears:msg-pace:*"):
                await r.delete(key)
            await r.aclose()
        from arrears.db import transaction
        from arrears.identity import service as identity
        from arrears.messaging.service import Draft, queue_messages

        async with transaction() as s:
            org = await identity.create_org(s, Caller.operator(), name="Bench Collections")
            await identity.set_org_settings(s, Caller.system(org.id), org, {"smsportal_client_id": CLIENT_ID,
                                                     "smsportal_api_secret": SECRET})
            self.token = org.callback_token
            drafts = [Draft("sms", f"2782{i:07d}", f"Hi customer {i}, account A{i} owes R{i}.00. Please pay.")
                      for i in range(self.args.count)]
            await queue_messages(s, Caller.system(org.id, "bench"), org, drafts, source="bench")
        await self.standin.start()
        dlr_url = f"http://127.0.0.1:{self.api_port}/providers/smsportal/dlr/{self.token}"
        http = httpx.AsyncClient(timeout=10)
        self.http = http

        async def report(m: dict[str, Any], event: int) -> None:
            body = {"Status": "DELIVRD", "EventId": event, "Msisdn": m["Destination"],
                    "Received": int(time.time()), "UserReference": m["CustomerId"]}
            for _ in range(5):  # SMSPortal retries a failed webhook too
                try:
                    r = await http.post(dlr_url, json=body)
                    if r.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)

        self.standin.on_accept = report
        import uvicorn

        from arrears.app import create_app

        server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=self.api_port,
                                               log_level="warning", lifespan="off"))
        self.server = server
        self.server_task = asyncio.create_task(server.serve())
        for _ in range(400):
            if server.started:
                break
            await asyncio.sleep(0.05)

    def start_worker(self) -> subprocess.Popen[bytes]:
        p = subprocess.Popen([sys.executable, "-m", "arrears", "worker", "--concurrency", "4"], env=self.env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.workers.append(p)
        return p

    async def statuses(self) -> Counter[str]:
        from sqlalchemy import func, select

        from arrears.db import transaction
        from arrears.messaging.models import Message

        async with transaction(readonly=True) as s:
            rows = await s.execute(select(Message.status, func.count()).group_by(Message.status))
            return Counter({r[0]: int(r[1]) for r in rows})

    async def wait_final(self, deadline: float) -> Counter[str]:
        while True:
            st = await self.statuses()
            if not st.get("pending") and not st.get("sending"):
                # give the last delivery reports a moment
                await asyncio.sleep(1.0)
                return await self.statuses()
            if time.monotonic() > deadline:
                return st
            await asyncio.sleep(0.25)

    async def wait_accepted(self, n: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
        while len(self.standin.accepted) < n:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(self.standin.accepted)} accepted")
            await asyncio.sleep(0.005)

    async def reconciled(self) -> dict[str, int]:
        from sqlalchemy import func, select

        from arrears.db import transaction
        from arrears.messaging.models import Message, MessageReceipt

        async with transaction(readonly=True) as s:
            again = await s.scalar(select(func.count()).select_from(Message).where(Message.attempts > 1))
            unknown = await s.scalar(select(func.count()).select_from(Message)
                                     .where(Message.error_code == "OUTCOME_UNKNOWN"))
            receipts = await s.scalar(select(func.count()).select_from(MessageReceipt))
        return {"sent_twice_by_us": int(again or 0), "outcome_unknown": int(unknown or 0),
                "delivery_reports": int(receipts or 0)}

    async def stop(self) -> None:
        for p in self.workers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(p.wait, 20)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.server.should_exit = True
        await self.server_task
        await self.http.aclose()
        await self.standin.stop()
        from arrears.db import dispose_engines
        from arrears.messaging.providers.base import close_http_client

        await close_http_client()
        await dispose_engines()
        if self.pg_name:
            await pg_execute(self.args.database_url, f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    def figures(self, statuses: Counter[str], elapsed: float) -> dict[str, Any]:
        n = self.args.count
        accepted = len(self.standin.accepted)
        times = sorted(self.standin.accept_times)
        batch = max(1, min(100, int(self.args.rate * 0.2)))
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        rate = (accepted - batch) / span if span else float("nan")
        return {"run": self.name, "messages": n, "accepted": accepted, "duplicates": self.standin.duplicates,
                "lost": n - accepted, "calls": self.standin.calls, "batch": batch,
                "span_s": round(span, 3), "rate_per_s": round(rate, 2),
                "rate_simple_per_s": round((accepted - 1) / span, 2) if span else None,
                "rate_ratio": round(rate / self.args.rate, 4), "wall_s": round(elapsed, 1),
                "statuses": dict(statuses)}


async def steady(args: argparse.Namespace) -> dict[str, Any]:
    run = Run(args, "steady")
    await run.setup()
    try:
        started = time.monotonic()
        run.start_worker()
        statuses = await run.wait_final(time.monotonic() + args.count / args.rate * 4 + 60)
        out = run.figures(statuses, time.monotonic() - started)
        out |= await run.reconciled()
        return out
    finally:
        await run.stop()


async def kill(args: argparse.Namespace) -> dict[str, Any]:
    run = Run(args, "kill")
    await run.setup()
    try:
        started = time.monotonic()
        kills = []
        for share in (0.30, 0.65):
            proc = run.start_worker()
            await run.wait_accepted(int(args.count * share), proc, time.monotonic() + args.count / args.rate * 4 + 60)
            os.kill(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)
            kills.append(len(run.standin.accepted))
        run.start_worker()
        statuses = await run.wait_final(time.monotonic() + args.count / args.rate * 4 + 120)
        out = run.figures(statuses, time.monotonic() - started)
        out |= await run.reconciled() | {"killed_at_accepted": kills}
        return out
    finally:
        await run.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server URL (a database is made per run)")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--unknown-outcome", default="resend", choices=("resend", "fail"))
    parser.add_argument("--skip-kill", action="store_true")
    args = parser.parse_args()
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs; "
          f"{args.count} messages at {args.rate:g}/s, stand-in latency {args.latency * 1000:.0f} ms, "
          f"database {'PostgreSQL' if args.database_url else 'SQLite'}, "
          f"pacer {'Redis' if args.redis_url else 'memory'}, MESSAGING_UNKNOWN_OUTCOME={args.unknown_outcome}",
          flush=True)
    results = [asyncio.run(steady(args))]
    print(json.dumps(results[-1]), flush=True)
    if not args.skip_kill:
        results.append(asyncio.run(kill(args)))
        print(json.dumps(results[-1]), flush=True)
    ok = True
    for r in results:
        good = r["accepted"] == args.count and r["duplicates"] == 0 and r["lost"] == 0
        if r["run"] == "steady":
            good = good and abs(r["rate_ratio"] - 1) <= 0.05
        ok = ok and good
        print(f"{r['run']:>6}: accepted {r['accepted']}/{args.count}, duplicates {r['duplicates']}, "
              f"lost {r['lost']}, rate {r['rate_per_s']}/s (ratio to target {r['rate_ratio']}), "
              f"statuses {r['statuses']} -> {'OK' if good else 'NOT MET'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
