"""Benchmark (not a test): the premium collection-status webhook against a bare baseline.

    uv run --frozen python bench/bench_premium_webhook.py [--duration 15] [--concurrency 32]

What it does:
1. creates a scratch PostgreSQL database (127.0.0.1:5432, `arrears_bench_premium`), migrates it
   with the real migrations, and seeds one cell captive, one pct_ API key, one policy and one
   collection in `submitted`;
2. starts two uvicorn servers (one worker each, uvloop + httptools):
   - ours: `arrears.app:create_app`, answering POST /api/webhooks/collections/update with the
     whole pipeline (API key resolution, rate limit, captive check, permission, row lock, state
     machine, UPDATE, audit event, webhook log row, commit);
   - the baseline: a bare FastAPI endpoint that parses the same JSON and runs one asyncpg
     `UPDATE collections SET bank_reference = $1 … WHERE id = $2` of the same row;
3. loads each from a second process on loopback (httpx, `--concurrency` connections, a warm-up,
   then `--duration` seconds), every request setting a new bank_reference on the same
   collection, so that both really write; `--rounds` alternates baseline and ours (ABBA…) so
   that noise from other work on the machine falls on both;
4. prints requests/s of each round, the median ratio (goal: ours ≥ 40 % of the baseline) and
   p50/p99 latency.

`--before-tree DIR` adds a third server in the same rounds: the same app from another source
tree (e.g. `git archive HEAD | tar -x -C DIR`), so that a change is measured before and after
against the same baseline in one run, under the same machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from arrears.identity.caller import Caller

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
DB_NAME = "arrears_bench_premium"
SECRET = "bench-secret-" + "s" * 40
REFERENCE = "COL_BENCH"


def pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


# ---------------------------------------------------------------- the baseline app


def baseline_app() -> Any:
    """A bare FastAPI endpoint: parse the JSON, one asyncpg UPDATE of the same row."""
    import contextlib

    import asyncpg

    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        state["pool"] = await asyncpg.create_pool(os.environ["BENCH_DSN"], min_size=10, max_size=10)
        state["id"] = int(os.environ["BENCH_COLLECTION_ID"])
        yield
        await state["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/api/webhooks/collections/update")
    async def update(request: Request) -> JSONResponse:
        body = await request.json()
        async with state["pool"].acquire() as conn:
            await conn.execute("UPDATE collections SET bank_reference = $1, updated_at = now() "
                               "WHERE id = $2", body["bank_reference"], state["id"])
        return JSONResponse({"data": {"collection": {"collection_reference": body["collection_reference"],
                                                     "status": body["status"]},
                                      "message": "Collection updated successfully"}})

    return app


# ---------------------------------------------------------------- setup


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed() -> dict[str, Any]:
    from arrears.db import dispose_engines, transaction
    from arrears.identity import service as identity
    from arrears.premiums import service
    from arrears.premiums.schemas import PolicyUpdateIn

    async with transaction() as s:
        org = await identity.create_org(s, Caller.operator(), name="Bench Captive", kind="cell_captive")
        _, raw = await identity.create_api_key(s, Caller.system(org.id), kind="pct", scopes=["*"],
                                               rate_limit_override=1_000_000_000)
        result = await service.upsert_policy(s, Caller.system(org.id), PolicyUpdateIn(
            policy_number="POL_BENCH", client_name="Bench Client", premium_amount="1500.00",
            frequency="monthly", bank_account_number="1234567890", bank_branch_code="250655"))
        from datetime import date

        col = await service.create_collection(s, Caller.system(org.id), result.policy,
                                              collection_date=date(2026, 12, 1),
                                              collection_reference=REFERENCE, status="submitted")
        out = {"key": raw, "collection_id": col.id}
    await dispose_engines()
    return out


def setup() -> dict[str, Any]:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{DB_NAME}"'))
    os.environ.update({"DATABASE_URL": pg_url(DB_NAME), "SECRET_KEY": SECRET})
    os.environ.pop("REDIS_URL", None)
    from arrears import config, migrate

    config.reset_settings()
    migrate.upgrade(config.get_settings().async_database_url)
    return asyncio.run(_seed())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(target: str, port: int, env: dict[str, str], workers: int,
                 tree: Path = ROOT) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1", "--port", str(port),
         "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log",
         "--workers", str(workers)],
        env={**os.environ, **env}, cwd=str(tree))


def wait_ready(port: int, path: str = "/openapi.json") -> None:
    import httpx

    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


# ---------------------------------------------------------------- the load (second process)


async def load(url: str, key: str, seconds: float, concurrency: int, warmup: float, tag: str) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    counter = 0

    async def worker(client: httpx.AsyncClient, until: float, record: bool) -> None:
        nonlocal errors, counter
        while time.perf_counter() < until:
            counter += 1
            body = json.dumps({"collection_reference": REFERENCE, "status": "submitted",
                               "bank_reference": f"{tag}{counter}"})
            t0 = time.perf_counter()
            try:
                r = await client.post(url, content=body, headers=headers)
                ok = r.status_code == 200
            except httpx.HTTPError:  # a timeout on a swamped machine is an error, not a crash
                ok = False
            if record:
                latencies.append(time.perf_counter() - t0)
                if not ok:
                    errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        end = time.perf_counter() + warmup
        await asyncio.gather(*[worker(client, end, False) for _ in range(concurrency)])
        start = time.perf_counter()
        end = start + seconds
        await asyncio.gather(*[worker(client, end, True) for _ in range(concurrency)])
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {"requests": len(latencies), "sent": counter, "errors": errors, "seconds": elapsed,
            "rps": len(latencies) / elapsed,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a server process and its workers."""
    import psutil

    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        t = p.cpu_times()
        total += t.user + t.system
    return total


def run_load(url: str, key: str, args: argparse.Namespace, tag: str, pid: int) -> dict[str, Any]:
    """The load runs in a second process, so that it does not share a core's loop with a server.
    Besides throughput, the server's own CPU time per request: it does not depend on what else
    the machine is doing."""
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(
        [sys.executable, __file__, "--load", url, "--key", key, "--duration", str(args.duration),
         "--concurrency", str(args.concurrency), "--warmup", str(args.warmup), "--tag", tag],
        capture_output=True, text=True, cwd=str(ROOT))
    if out.returncode != 0:
        raise RuntimeError(f"the load process failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["cpu_ms"] = 1000 * (cpu_seconds(pid) - cpu0) / max(1, result["sent"])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers per server (both servers)")
    p.add_argument("--load")
    p.add_argument("--key", default="")
    p.add_argument("--tag", default="B")
    p.add_argument("--before-tree", type=Path, default=None,
                   help="also run the app from this source tree (the code before a change)")
    args = p.parse_args()
    if args.load:
        print(json.dumps(asyncio.run(load(args.load, args.key, args.duration, args.concurrency,
                                          args.warmup, args.tag))))
        return

    seed = setup()
    ours_port, base_port = free_port(), free_port()
    app_env = {"DATABASE_URL": pg_url(DB_NAME), "SECRET_KEY": SECRET, "ARREARS_LOG_LEVEL": "WARNING"}
    ours = start_server("arrears.app:create_app", ours_port, app_env, args.workers)
    base = start_server("bench.bench_premium_webhook:baseline_app", base_port,
                        {"BENCH_DSN": pg_url(DB_NAME), "BENCH_COLLECTION_ID": str(seed["collection_id"]),
                         "PYTHONPATH": str(ROOT)}, args.workers)
    servers = {"baseline": (base, base_port), "premium": (ours, ours_port)}
    if args.before_tree:
        tree = args.before_tree.resolve()
        before_port = free_port()
        servers["before"] = (start_server("arrears.app:create_app", before_port,
                                          {**app_env, "PYTHONPATH": str(tree)}, args.workers, tree),
                             before_port)
    try:
        wait_ready(ours_port, "/healthz")
        wait_ready(base_port)
        if args.before_tree:
            wait_ready(servers["before"][1], "/healthz")
        path = "/api/webhooks/collections/update"
        urls = {name: f"http://127.0.0.1:{port}{path}" for name, (_, port) in servers.items()}
        pids = {name: proc.pid for name, (proc, _) in servers.items()}
        names = list(servers)
        rounds: list[dict[str, dict[str, Any]]] = []
        for i in range(args.rounds):
            order = names if i % 2 == 0 else names[::-1]
            rounds.append({name: run_load(urls[name], seed["key"], args, f"{name[:4]}{i}_", pids[name])
                           for name in order})
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    print(f"concurrency {args.concurrency}, {args.rounds} rounds of {args.duration:g} s per server "
          f"(after {args.warmup:g} s warm-up each), {args.workers} uvicorn worker(s) per server, "
          "PostgreSQL on 127.0.0.1")
    labels = {"baseline": "baseline (bare FastAPI + 1 asyncpg UPDATE)",
              "premium": "premium webhook (full pipeline)"}
    if args.before_tree:
        labels["before"] = f"premium webhook from {args.before_tree}"
    ratios: dict[str, list[float]] = {name: [] for name in labels if name != "baseline"}
    for i, rnd in enumerate(rounds, 1):
        for name in labels:
            r = rnd[name]
            print(f"round {i} {labels[name]:44s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                  f"p99 {r['p99_ms']:7.1f} ms  server CPU {r['cpu_ms']:5.2f} ms/req  "
                  f"({r['requests']} requests, {r['errors']} errors)")
        for name in ratios:
            ratios[name].append(rnd[name]["rps"] / rnd["baseline"]["rps"])
    med = {name: statistics.median(r[name]["rps"] for r in rounds) for name in labels}
    p99 = {name: statistics.median(r[name]["p99_ms"] for r in rounds) for name in labels}
    cpu = {name: statistics.median(r[name]["cpu_ms"] for r in rounds) for name in labels}
    for name in labels:
        print(f"median {labels[name]:44s} {med[name]:8.1f} req/s  p99 {p99[name]:7.1f} ms  "
              f"server CPU {cpu[name]:5.2f} ms/req")
    for name, xs in ratios.items():
        print(f"ratio {name}/baseline per round: {', '.join(f'{100 * x:.1f} %' for x in xs)}; "
              f"median {100 * statistics.median(xs):.1f} %  (goal >= 40 %; CPU-bound ceiling "
              f"{100 * cpu['baseline'] / cpu[name]:.1f} %)")


if __name__ == "__main__":
    main()
