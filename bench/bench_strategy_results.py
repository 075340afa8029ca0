"""Benchmark (not a test): the results of a strategy (arrears.strategies.results) on PostgreSQL.

    uv run --frozen python bench/bench_strategy_results.py [--accounts 50000] [--rounds 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/arrears_resultsbench]

What it does:
1. creates that PostgreSQL database (it must not exist yet; dropped at the end), migrated; one
   organisation and a book of `--accounts` accounts through the real import (bench_web_pages' seed);
2. a strategy with one SMS step (bench_strategies' strategy), run once: an execution and a
   message per account; then, in SQL, 40% of the messages delivered, a promise on 20% of the
   accounts and a recorded payment on 30% within the 30 days, and one outside it on 10%;
3. per round, interleaved: `results.results` (one grouped query: messages by idempotency key,
   promises, payments — counts and the sum) beside the bare grouped count of the same
   executions (`SELECT step_id, variant, count(*) … GROUP BY`), the floor of any such report.
Prints each time and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from arrears.identity.caller import Caller

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch_db import pg_admin  # noqa: E402

from bench.bench_strategies import _strategy  # noqa: E402
from bench.bench_web_pages import _pg_name, seed  # noqa: E402

BARE = """SELECT step_id, variant, count(*) FROM strategy_step_executions WHERE org_id = $1 AND strategy_id = $2
GROUP BY step_id, variant"""
OUTCOMES = [
    """UPDATE messages SET status = 'delivered' WHERE org_id = $1 AND source = 'strategy' AND id % 5 < 2""",
    """INSERT INTO promises (id, org_id, account_id, amount, made_on, due_date, status, paid_amount, created_by,
       created_at, updated_at)
       SELECT gen_random_uuid(), e.org_id, e.account_id, 100, e.run_on + 3, e.run_on + 10, 'open', 0, 'bench', now(),
              now() FROM strategy_step_executions e WHERE e.org_id = $1 AND e.id % 5 = 0""",
    """INSERT INTO payments (id, org_id, account_id, amount, paid_on, status, source, created_by, created_at,
       updated_at)
       SELECT gen_random_uuid(), e.org_id, e.account_id, 12.34 + e.id % 100, e.run_on + (e.id % 40), 'recorded',
              'api', 'bench', now(), now() FROM strategy_step_executions e
       WHERE e.org_id = $1 AND e.id % 10 < 4""",
]


async def main(args: argparse.Namespace, data_dir: Path) -> None:
    import asyncpg
    from sqlalchemy import select

    from arrears.config import get_settings
    from arrears.db import dispose_engines, session_factory, transaction
    from arrears.identity import service as identity
    from arrears.identity.models import User
    from arrears.strategies import results, runner
    from arrears.wiring import wire

    wire()
    org_id, _ = await seed(args.accounts, data_dir)
    async with transaction() as s:
        org = await identity.get_org(s, org_id)
        await identity.set_org_settings(s, Caller.system(org.id), org, {"contact_hours": "off", "contact_cap": "0"})
    sid = await _strategy(org_id)
    async with session_factory() as s:
        run = await runner.run_now(s, Caller.system(org_id, "bench"), trigger="manual", checkpoint=s.commit)
        await s.commit()
    url = get_settings().async_database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    for sql in OUTCOMES:
        await conn.execute(sql, org_id)
    await conn.execute("ANALYZE")
    async with transaction() as s:
        user = await s.scalar(select(User).where(User.username == "bench"))
        caller = await identity.caller_for_user(s, user.id, org_id)
    times: dict[str, list[float]] = {"bare": [], "results": []}
    try:
        for rnd in range(args.rounds):
            t0 = time.perf_counter()
            bare = await conn.fetch(BARE, org_id, sid)
            times["bare"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            async with session_factory() as s:
                out: dict[str, Any] = await results.results(s, caller, sid)
            times["results"].append(time.perf_counter() - t0)
            row = out["steps"][0]
            assert row["entered"] == sum(r[2] for r in bare) == run.accounts
            print(f"round {rnd + 1}: {row['entered']:,} executions; bare count {times['bare'][-1]:.3f} s, results "
                  f"{times['results'][-1]:.3f} s (contacted {row['contacted']:,}, promised {row['promised']:,}, "
                  f"paid {row['paid']:,}, collected {row['collected']})", flush=True)
    finally:
        await conn.close()
        await dispose_engines()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"results / bare grouped count: {med['results'] / med['bare']:.1f}x "
          f"(median {med['results']:.3f} s vs {med['bare']:.3f} s)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/arrears_resultsbench")
    arguments = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="arrears-bench-results-"))
    os.environ.update(ARREARS_DATA_DIR=str(scratch), SECRET_KEY="bench-secret-" + "s" * 40,
                      MESSAGING_SIMULATION="true", ARREARS_LOG_LEVEL="WARNING")
    for var in ("DATABASE_URL", "DB_HOST", "REDIS_URL"):
        os.environ.pop(var, None)
    db_name = _pg_name(arguments.database_url)
    pg_admin(arguments.database_url, f'CREATE DATABASE "{db_name}"')  # fails if it exists: never reuse
    os.environ["DATABASE_URL"] = arguments.database_url
    try:
        from arrears import migrate
        from arrears.config import get_settings

        migrate.upgrade(get_settings().async_database_url)
        asyncio.run(main(arguments, scratch))
    finally:
        pg_admin(arguments.database_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
