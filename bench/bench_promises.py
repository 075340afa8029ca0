"""Benchmark (not a test): the daily evaluation of 100,000 open promises on PostgreSQL (issue 22).

    uv run --frozen python bench/bench_promises.py [--count 100000] [--rounds 3] [--one-lane]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Creates its own database on the server (named after the one given: `…/h3prom_bench` makes
`h3prom_bench_promises_…`; dropped at the end), migrates it, and seeds one
organisation with --count loans, their accounts (promised), one open promise each (one instalment
of 100.00) and one recorded payment each: a third paid in full in time (kept), a third half paid
and past the date plus grace (broken), a third half paid and not yet due (still open).

Then, in the same run, interleaved for --rounds rounds, every round from the same rows:
- bare: one UPDATE that marks the same rows kept or broken, with their paid amounts, from the
  payments (no instalments, no events, no tasks, no account statuses), under the same session
  settings as our pass (`PASS_SETTINGS`: no JIT), in a transaction rolled back;
- ours: `arrears.promises.evaluate.daily_pass` — what the daily job runs: the instalments'
  verdicts, the promises' `paid_amount`, the `promise.kept`/`promise.broken` events, the broken
  promises' call tasks and their `task.created` events, the accounts going back to `active` with
  their history rows and `account.status_changed` events (the timeline reads these rows), in its
  lanes' transactions, committed;
- one lane (with --one-lane): the same pass in one transaction (`evaluate`, rolled back), to show
  what the lanes take off the wall clock (they take nothing off the work: docs/benchmarks.md).
After our pass the rows are put back as seeded (outside the clock: the promises open and unpaid,
the accounts promised, the pass's tasks, history rows and events deleted), and before each round
the touched tables are rewritten (`VACUUM FULL`, outside the clock): with autovacuum off (as on the
shared test server) both sides would otherwise wade through the dead rows of the rounds before,
and every round starts from the seeded layout. Each measure starts after a `CHECKPOINT`: a daily
job finds its pages unwritten since the last checkpoint (each first change writes the whole page),
and neither side then finds the other's full-page images already taken. Prints each round's times and the load average,
then the best of each side, the ratio (goal: ≤ 3×) and the counts, which must be a third each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch_db import pg_execute  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"

BARE = """
UPDATE promises p SET status = CASE WHEN s.paid >= p.amount THEN 'kept' ELSE 'broken' END, paid_amount = s.paid
FROM (SELECT q.id, COALESCE(SUM(x.amount) FILTER (WHERE x.paid_on <= q.due_date + CAST(:grace AS INTEGER)), 0) AS paid
      FROM promises q LEFT JOIN payments x
        ON x.account_id = q.account_id AND x.status = 'recorded' AND x.paid_on >= q.made_on
      WHERE q.org_id = :org AND q.status = 'open' GROUP BY q.id) s
WHERE p.id = s.id AND (s.paid >= p.amount OR p.due_date + CAST(:grace AS INTEGER) < CAST(:today AS DATE))
"""


async def seed(n: int) -> tuple[int, Any]:
    from sqlalchemy import text

    from arrears.accounts.service import sync_loan_accounts
    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller
    from arrears.promises.calendar import org_today

    async with transaction() as s:
        org = await identity.create_org(s, Caller.operator(), name="Bench Lending")
        agent = await identity.create_user(s, Caller.system(org.id), username="bench-agent", password="bench-password-1",
                                           role="calling_agent")
        today = await org_today(s, org.id)
        p = {"org": org.id, "n": n, "agent": agent.id, "today": today, "made": today - timedelta(days=10),
             "late": today - timedelta(days=5), "ahead": today + timedelta(days=10),
             "paid_on": today - timedelta(days=6)}
        await s.execute(text("""
INSERT INTO customers (uuid, org_id, customer_code, name, created_at, updated_at)
SELECT gen_random_uuid(), :org, 'C' || g, 'Customer ' || g, now(), now() FROM generate_series(1, :n) g"""), p)
        await s.execute(text("""
INSERT INTO loans (uuid, org_id, customer_id, loan_account_number, principal_amount, interest_rate, loan_type,
                   tenure_months, loan_date, created_at, updated_at)
SELECT gen_random_uuid(), :org, c.id, 'L' || c.id, 1000, 10, 'personal', 12, :made, now(), now()
FROM customers c WHERE c.org_id = :org"""), p)
        await sync_loan_accounts(s, Caller.system(org.id))
        await s.execute(text("UPDATE accounts SET status = 'promised' WHERE org_id = :org"), p)
        # note = which third: 0 kept, 1 broken, 2 still open.
        await s.execute(text("""
INSERT INTO promises (id, org_id, account_id, agent_id, amount, made_on, due_date, status, paid_amount, note,
                      created_by, created_at, updated_at)
SELECT gen_random_uuid(), :org, a.id, :agent, 100, :made, CASE WHEN a.rn % 3 = 2 THEN CAST(:ahead AS DATE) ELSE CAST(:late AS DATE) END,
       'open', 0, (a.rn % 3)::text, 'bench', now(), now()
FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM accounts WHERE org_id = :org) a"""), p)
        await s.execute(text("""
INSERT INTO promise_instalments (promise_id, number, due_date, amount)
SELECT id, 1, due_date, amount FROM promises WHERE org_id = :org"""), p)
        await s.execute(text("""
INSERT INTO payments (id, org_id, account_id, amount, paid_on, status, source, created_by, created_at, updated_at)
SELECT gen_random_uuid(), :org, account_id, CASE WHEN note = '0' THEN 100 ELSE 50 END, :paid_on, 'recorded', 'api',
       'bench', now(), now() FROM promises WHERE org_id = :org"""), p)
    return org.id, today


async def bare_round(org_id: int, today: Any) -> tuple[float, int]:
    from sqlalchemy import text

    from arrears.db import session_factory
    from arrears.promises.evaluate import PASS_SETTINGS

    async with session_factory() as s:
        tx = await s.begin()
        # The same session settings as our pass (no JIT, its sort memory): a like-for-like baseline.
        for name, value in PASS_SETTINGS.items():
            await s.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
        t0 = time.perf_counter()
        result = await s.execute(text(BARE), {"org": org_id, "grace": 2, "today": today})
        took = time.perf_counter() - t0
        await tx.rollback()
    return took, int(getattr(result, "rowcount", 0) or 0)


async def our_round(org_id: int, today: Any) -> tuple[float, Any]:
    from arrears.promises.evaluate import daily_pass

    t0 = time.perf_counter()
    out = await daily_pass(org_id, today=today)
    return time.perf_counter() - t0, out


# The tables a pass writes, rewritten before each round.
TOUCHED = ("promises", "accounts", "tasks", "account_status_changes", "domain_events")


async def put_back(org_id: int, since: Any) -> None:
    """The rows as seeded: what our (committed) pass changed undone, what it wrote deleted."""
    from sqlalchemy import text

    from arrears.db import transaction

    p = {"org": org_id, "since": since}
    async with transaction() as s:
        await s.execute(text("UPDATE promises SET status = 'open', paid_amount = 0, closed_at = NULL, closed_by = NULL,"
                             " evidence = NULL WHERE org_id = :org AND (status <> 'open' OR paid_amount <> 0)"), p)
        await s.execute(text("UPDATE accounts SET status = 'promised' WHERE org_id = :org AND status <> 'promised'"), p)
        for table in ("tasks", "account_status_changes", "domain_events"):
            await s.execute(text(f"DELETE FROM {table} WHERE org_id = :org AND created_at >= :since"), p)


async def one_lane_round(org_id: int, today: Any) -> tuple[float, Any]:
    from arrears.db import session_factory
    from arrears.identity.caller import Caller
    from arrears.promises.evaluate import evaluate

    async with session_factory() as s:
        tx = await s.begin()
        t0 = time.perf_counter()
        out = await evaluate(s, Caller.system(org_id), today=today)
        await s.flush()
        took = time.perf_counter() - t0
        await tx.rollback()
    return took, out


async def main(args: argparse.Namespace) -> int:
    from sqlalchemy import text

    from arrears import config, migrate
    from arrears.db import dispose_engines, transaction
    from arrears.wiring import wire

    # The scratch database is named after the one given (`…/h3prom_bench` → `h3prom_bench_promises_…`),
    # so that a helper's prefix carries over; after `bench_promises_…` for the server's `postgres`.
    base, given = args.database_url.rsplit("/", 1)
    stem = given.split("?")[0]
    name = f"{stem if stem not in ('', 'postgres') else 'bench'}_promises_{secrets.token_hex(4)}"
    url = config.to_async_url(f"{base}/{name}")
    await pg_execute(args.database_url, f'CREATE DATABASE "{name}"')
    try:
        os.environ["DATABASE_URL"] = url
        config.reset_settings()
        await asyncio.to_thread(migrate.upgrade, url)
        wire()
        t0 = time.perf_counter()
        org_id, today = await seed(args.count)
        async with transaction() as s:
            await s.execute(text("ANALYZE"))
        from arrears.db import utcnow

        since = utcnow()
        print(f"seeded {args.count:,} promises, payments and accounts in {time.perf_counter() - t0:.1f} s")
        # A worker has the holiday calendars loaded after its first day: not part of a pass.
        from arrears.promises.calendar import next_working_day

        next_working_day(today)
        bare: list[float] = []
        ours: list[float] = []
        one: list[float] = []

        async def rewrite() -> None:
            await pg_execute(f"{base}/{name}", f"VACUUM FULL {', '.join(TOUCHED)}")
            await pg_execute(f"{base}/{name}", f"ANALYZE {', '.join(TOUCHED)}")

        async def checkpoint() -> None:
            await pg_execute(f"{base}/{name}", "CHECKPOINT")

        for r in range(args.rounds):
            await rewrite()
            await checkpoint()
            took, marked = await bare_round(org_id, today)
            bare.append(took)
            await checkpoint()
            took2, out = await our_round(org_id, today)
            ours.append(took2)
            await put_back(org_id, since)
            line = (f"round {r + 1} (load {os.getloadavg()[0]:.1f}): bare {took:.2f} s ({marked:,} rows marked), "
                    f"ours {took2:.2f} s (kept {out.kept:,}, broken {out.broken:,}, open {out.open:,}, tasks {out.tasks:,})")
            if args.one_lane:
                await rewrite()
                await checkpoint()
                took3, _ = await one_lane_round(org_id, today)
                one.append(took3)
                line += f", one lane {took3:.2f} s"
            print(line)
        if one:
            print(f"one lane, best: {min(one):.2f} s, {min(one) / min(bare):.2f}× bare")
        ratio = min(ours) / min(bare)
        print(f"best: bare {min(bare):.2f} s, ours {min(ours):.2f} s, ratio {ratio:.2f}× (goal ≤ 3×): "
              f"{'OK' if ratio <= 3 else 'OVER'}")
        third = args.count // 3
        ok = abs(out.kept - third) <= 1 and abs(out.broken - third) <= 1 and abs(out.open - third) <= 1
        print(f"counts a third each: {'yes' if ok else 'NO'}")
        return 0 if ok else 1
    finally:
        await dispose_engines()
        await pg_execute(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one-lane", action="store_true", help="also time the pass in one transaction")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    sys.exit(asyncio.run(main(parser.parse_args())))
