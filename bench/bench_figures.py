"""Benchmark (not a test): the figures (arrears/figures/service.py) against bare SQL that computes the
same numbers, on one book, on PostgreSQL.

    uv run --frozen python bench/bench_figures.py [--accounts 50000] [--rounds 5]
        --database-url postgresql://postgres@127.0.0.1:5432/arrears_figbench

What it does:
1. creates that PostgreSQL database (it must not exist yet; dropped at the end), migrated with the
   real migrations; one organisation and one manager; imports two CSV age analyses of `--accounts`
   accounts through the real import job (dated a month apart; the second lists 90 % of the accounts
   with balances that moved, so it settles a tenth); then, in bulk SQL, one recorded payment per
   account (dated over the year, a third between the two reports) and one promise per account
   (kept, broken, open, cancelled in turn, made over the year by 20 agents);
2. per round, runs each figure as the manager and its baseline, alternating (ABAB) so that noise
   falls on both, and prints the median time of each and the ratio:

   | ours (a user's scope, the service's SQL)   | baseline (bare SQL, the organisation's rows) |
   |--------------------------------------------|----------------------------------------------|
   | figures.collected (12 months)              | payments GROUP BY month, and the falls with LAG and the payments between, GROUP BY month |
   | figures.promise_figures (12 months)        | promises GROUP BY agent, month                |
   | figures.cei (two newest reports)           | SUM over both reports' snapshots              |

   Both sides return the same numbers (checked). Ours adds the caller's visibility (the accounts
   the user sees) and the ORM. Goal: each within 2× its baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch_db import pg_admin  # noqa: E402

BARE_COLLECTED = """
WITH obs AS (
  SELECT a.id AS account_id, s.total_balance AS balance, r.report_date AS as_of, r.created_at AS made_at, r.id AS report_id
  FROM debtor_snapshots s JOIN debtor_reports r ON r.id = s.report_id AND r.status = 'completed'
  JOIN debtor_accounts d ON d.org_id = s.org_id AND d.account_code = s.account_code
  JOIN accounts a ON a.debtor_account_id = d.id
  WHERE s.org_id = :org
  UNION ALL
  SELECT a.id, 0, r.report_date, r.created_at, r.id
  FROM debtor_accounts d JOIN debtor_reports r ON r.id = d.settled_by_report_id
  JOIN accounts a ON a.debtor_account_id = d.id
  WHERE d.org_id = :org AND d.settled_at IS NOT NULL
), steps AS (
  SELECT account_id, as_of, balance,
         lag(balance) OVER w AS before, lag(as_of) OVER w AS before_as_of
  FROM obs WINDOW w AS (PARTITION BY account_id ORDER BY as_of, made_at, report_id)
), falls AS (
  SELECT as_of, before - balance AS fall,
         (SELECT coalesce(sum(p.amount), 0) FROM payments p WHERE p.account_id = steps.account_id
            AND p.status = 'recorded' AND p.paid_on > steps.before_as_of AND p.paid_on <= steps.as_of) AS paid
  FROM steps WHERE before > balance AND as_of BETWEEN :from AND :to
)
SELECT 'fall' AS kind, to_char(as_of, 'YYYY-MM') AS month, sum(fall), sum(least(paid, fall)) FROM falls GROUP BY 2
UNION ALL
SELECT 'paid', to_char(paid_on, 'YYYY-MM'), sum(amount), 0 FROM payments
WHERE org_id = :org AND status = 'recorded' AND paid_on BETWEEN :from AND :to GROUP BY 2
"""

BARE_PROMISES = """
SELECT agent_id, to_char(made_on, 'YYYY-MM'), count(*), sum(CASE WHEN status = 'kept' THEN 1 ELSE 0 END),
       sum(CASE WHEN status = 'broken' THEN 1 ELSE 0 END),
       sum(CASE WHEN status <> 'cancelled' THEN amount ELSE 0 END)
FROM promises WHERE org_id = :org AND made_on BETWEEN :from AND :to GROUP BY 1, 2
"""

BARE_CEI = """
SELECT report_id, sum(total_balance), sum(current) FROM debtor_snapshots
WHERE org_id = :org AND report_id IN (SELECT id FROM debtor_reports WHERE org_id = :org AND status = 'completed'
                                      ORDER BY report_date DESC, created_at DESC, id DESC LIMIT 2)
GROUP BY report_id
"""


def write_book(path: Path, count: int, month: int) -> None:
    """Amounts that vary by account; the second month lists 90 % of the accounts, most lower."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Account", "Name", "Contact", "Telephone", "Current", "30 Days", "60 Days", "90 Days",
                    "120 Days", "Total Balance"])
        for i in range(count):
            if month == 2 and i % 10 == 9:
                continue  # settled by the second report
            cents = [(i * 7919) % 100_000, (i * 104_729) % 50_000 if i % 2 else 0,
                     (i * 1_299_709) % 30_000 if i % 3 else 0, 0, 0]
            if month == 2:
                cents = [c * (3 if i % 4 == 0 else 1) // (1 if i % 4 == 0 else 2) for c in cents]
            w.writerow([f"ACC{i:06d}", f"Customer {i}", "", f"082{i % 10_000_000:07d}",
                        *(f"{c / 100:.2f}" for c in cents), f"{sum(cents) / 100:.2f}"])


async def seed(accounts: int, data_dir: Path) -> tuple[Any, int]:
    from sqlalchemy import text

    from arrears.db import transaction
    from arrears.debtors import service as debtors
    from arrears.debtors.storage import store_local_file
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller
    from arrears.worker import run_until_idle

    async with transaction() as s:
        org = await identity.create_org(s, Caller.operator(), name="Bench Figures", kind="business")
        user = await identity.create_user(s, Caller.system(org.id), username="bench", password="Bench-password-1", role="manager")
        agents = [await identity.create_user(s, Caller.system(org.id), username=f"agent{n}", password="Bench-password-1",
                                             role="calling_agent") for n in range(20)]
    started = time.perf_counter()
    for month, day in ((1, date(2026, 9, 30)), (2, date(2026, 10, 31))):
        book = data_dir / f"book{month}.csv"
        write_book(book, accounts, month)
        async with transaction() as s:
            caller = await identity.caller_for_user(s, user.id, org.id)
            await debtors.create_report(s, caller, store_local_file(org.id, book), report_date=day)
        await run_until_idle()
    print(f"imported two reports of {accounts:,} accounts in {time.perf_counter() - started:.1f} s", flush=True)
    agent_ids = "ARRAY[" + ",".join(str(a.id) for a in agents) + "]"
    async with transaction() as s:
        params = {"org": org.id}
        await s.execute(text("""
            INSERT INTO payments (id, org_id, account_id, amount, paid_on, status, source, created_by, created_at,
                                  updated_at)
            SELECT gen_random_uuid(), a.org_id, a.id, 10 + (row_number() OVER (ORDER BY a.id)) % 500,
                   DATE '2026-01-01' + ((row_number() OVER (ORDER BY a.id)) * 7 % 330)::int,
                   'recorded', 'api', 'bench', now(), now()
            FROM accounts a WHERE a.org_id = :org"""), params)
        await s.execute(text(f"""
            INSERT INTO promises (id, org_id, account_id, agent_id, amount, made_on, due_date, status, paid_amount,
                                  created_by, created_at, updated_at)
            SELECT gen_random_uuid(), a.org_id, a.id, ({agent_ids})[1 + n % 20], 100 + n % 900,
                   DATE '2026-01-01' + (n * 11 % 330)::int, DATE '2026-01-01' + (n * 11 % 330)::int + 14,
                   (ARRAY['kept', 'broken', 'open', 'cancelled'])[1 + n % 4], n % 300, 'bench', now(), now()
            FROM (SELECT id, org_id, row_number() OVER (ORDER BY id) AS n FROM accounts WHERE org_id = :org) a"""),
            params)
        await s.execute(text("ANALYZE payments"))
        await s.execute(text("ANALYZE promises"))
    return user, org.id


async def main(args: argparse.Namespace, data_dir: Path) -> None:
    from sqlalchemy import text

    from arrears.db import dispose_engines, transaction
    from arrears.figures import service as figures
    from arrears.identity import service as identity
    from arrears.wiring import wire

    wire()
    user, org_id = await seed(args.accounts, data_dir)
    span = figures.Period(date(2026, 1, 1), date(2026, 12, 31))
    params = {"org": org_id, "from": span.date_from, "to": span.date_to}

    async def ours_collected(s: Any, caller: Any) -> Any:
        rows = await figures.collected(s, caller, span)
        return sum(r.collected for r in rows)

    async def bare_collected(s: Any, caller: Any) -> Any:
        rows = (await s.execute(text(BARE_COLLECTED), params)).all()
        return sum(r[2] for r in rows if r[0] == "paid") + sum(r[2] - r[3] for r in rows if r[0] == "fall")

    async def ours_promises(s: Any, caller: Any) -> Any:
        return sum(r.made for r in await figures.promise_figures(s, caller, span))

    async def bare_promises(s: Any, caller: Any) -> Any:
        return sum(r[2] for r in (await s.execute(text(BARE_PROMISES), params)).all())

    async def ours_cei(s: Any, caller: Any) -> Any:
        c = await figures.cei(s, caller)
        return (c.beginning, c.ending) if c else None

    async def bare_cei(s: Any, caller: Any) -> Any:
        rows = sorted((await s.execute(text(BARE_CEI), params)).all())
        return (rows[0][1], rows[1][1])

    pairs = [("collected", ours_collected, bare_collected), ("promises", ours_promises, bare_promises),
             ("cei", ours_cei, bare_cei)]
    times: dict[str, list[float]] = {f"{n}:{w}": [] for n, _, _ in pairs for w in ("ours", "bare")}
    for _ in range(args.rounds):
        for name, ours, bare in pairs:
            for which, fn in (("ours", ours), ("bare", bare)):
                async with transaction() as s:
                    caller = await identity.caller_for_user(s, user.id, org_id)
                    started = time.perf_counter()
                    value = await fn(s, caller)
                    times[f"{name}:{which}"].append(time.perf_counter() - started)
                    if which == "ours":
                        expected = value
                    elif value != expected:
                        raise SystemExit(f"{name}: ours {expected} != bare {value}")
    print(f"{'figure':<10} {'ours ms':>9} {'bare ms':>9} {'ratio':>6}   (median of {args.rounds} rounds)")
    for name, _, _ in pairs:
        o, b = statistics.median(times[f"{name}:ours"]), statistics.median(times[f"{name}:bare"])
        print(f"{name:<10} {o * 1000:>9.1f} {b * 1000:>9.1f} {o / b:>6.2f}")
    await dispose_engines()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--database-url", required=True, help="a PostgreSQL database to create, use and drop")
    arguments = ap.parse_args()
    from urllib.parse import urlsplit

    db_name = urlsplit(arguments.database_url).path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", db_name):
        raise SystemExit(f"--database-url needs a plain database name, not {db_name!r}")
    scratch = Path(tempfile.mkdtemp(prefix="arrears-bench-figures-"))
    os.environ.update(ARREARS_DATA_DIR=str(scratch), SECRET_KEY="bench-secret-" + "f" * 40,
                      MESSAGING_SIMULATION="true", ARREARS_LOG_LEVEL="WARNING", DATABASE_URL=arguments.database_url)
    for var in ("DB_HOST", "REDIS_URL"):
        os.environ.pop(var, None)
    pg_admin(arguments.database_url, f'CREATE DATABASE "{db_name}"')  # fails if it exists: never reuse
    try:
        from arrears import migrate
        from arrears.config import get_settings

        migrate.upgrade(get_settings().async_database_url)
        asyncio.run(main(arguments, scratch))
    finally:
        pg_admin(arguments.database_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
