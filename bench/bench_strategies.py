"""Benchmark (not a test): a strategy run over a book of `--accounts` accounts on PostgreSQL.

    uv run --frozen python bench/bench_strategies.py [--accounts 200000] [--rounds 2] [--preview-only]
        [--database-url postgresql://postgres@127.0.0.1:5432/arrears_stratbench]

What it does:
1. creates that PostgreSQL database (it must not exist yet; dropped at the end), migrated with the
   real migrations; one organisation (contact hours and the cap off, so every account is
   messaged), one manager, and a CSV age analysis of `--accounts` accounts through the real import
   job (bench_web_pages' book: amounts that vary per account);
2. one default strategy with one SMS step (days past due ≥ 0: every account that owes);
3. per round, interleaved, each pair measured beside each other:
   - the preview (`preview.preview_org`: the selection, recipients, opt-outs and SMS segments
     counted in SQL with GROUP BY, Python only for rows SQL cannot settle) against a bare SQL count
     of the same segment (`SELECT count(*)` of the organisation's active accounts that owe); goal ≤ 3×;
   - the run (`runner.run_now`, chunks of 5,000 committed as they go, each set-based: executions
     claimed by one INSERT … SELECT … ON CONFLICT DO NOTHING, the messages through
     the bulk outbox (contact rules at write time, then COPY), states moved on by one upsert,
     one `strategy.step_executed` per account by one INSERT … SELECT) against a bare COPY of the
     same message rows (the rows the run wrote, read back) into the messages table; goal ≤ 2×.
     Between rounds, and between the run and the COPY, the rows are deleted and the tables they
     went into vacuumed (`VACUUM (ANALYZE)`, `_vacuum`), so each measure starts from the same
     state, without the dead rows of the one before.
Prints each time and the ratios; for the run and the COPY also the CPU seconds they cost (this
process and the database's client backends, from /proc: PostgreSQL must run on this machine),
which a machine shared with other work disturbs much less than the wall time.
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

from bench.bench_web_pages import _pg_name, seed  # noqa: E402

BARE_COUNT = """
SELECT count(*) FROM accounts a JOIN debtor_accounts d ON d.id = a.debtor_account_id
WHERE a.org_id = $1 AND a.status = 'active' AND d.total_balance > 0
"""
COLUMNS = ("uuid", "org_id", "channel", "source", "batch_id", "debtor_account_id", "customer_id", "recipient",
           "template", "content", "segments", "status", "retry_count", "max_retries", "attempts", "next_attempt_at",
           "idempotency_key", "created_at", "updated_at")


async def _strategy(org_id: int) -> Any:
    from sqlalchemy import select

    from arrears.db import transaction
    from arrears.identity.models import User
    from arrears.identity.service import caller_for_user
    from arrears.messaging.models import MessageTemplate
    from arrears.strategies import service

    async with transaction() as s:
        user = await s.scalar(select(User).where(User.username == "bench"))
        caller = await caller_for_user(s, user.id, org_id)
        tpl = MessageTemplate(org_id=org_id, name="bench", channel="sms",
                              body="Dear [CustomerName], your account [AccountCode] is R[TotalBalance] in arrears.")
        s.add(tpl)
        await s.flush()
        st = await service.create_strategy(s, caller, {"name": "Bench", "isDefault": True, "steps": [
            {"action": "sms", "messageTemplateId": str(tpl.id), "minDaysPastDue": 0}]})
        return st.id


async def _reset(conn: Any, org_id: int) -> None:
    await conn.execute("DELETE FROM messages WHERE org_id = $1", org_id)
    await conn.execute("DELETE FROM strategy_step_executions WHERE org_id = $1", org_id)
    await conn.execute("DELETE FROM strategy_account_states WHERE org_id = $1", org_id)
    await conn.execute("DELETE FROM domain_events WHERE org_id = $1 AND type = 'strategy.step_executed'", org_id)
    await conn.execute("DELETE FROM jobs WHERE kind = 'messaging.drain'")
    await _vacuum(conn)


# What the run and the baseline write: vacuumed between every two measures, so that neither finds
# the dead rows of the one before (autovacuum may be off, and the COPY's unique key would meet
# the deleted rows' same keys in its index).
TOUCHED = ("messages", "strategy_step_executions", "strategy_account_states", "domain_events", "jobs")


async def _vacuum(conn: Any) -> None:
    for table in TOUCHED:
        await conn.execute(f"VACUUM (ANALYZE) {table}")
    await conn.execute("ANALYZE")


def _ticks(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes have used so far (PostgreSQL runs on this machine)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


async def _cpu(conn: Any) -> float:
    """CPU seconds so far of this process and of every client backend of the bench's database: on a
    machine shared with other work, what the work cost rather than how long it waited."""
    pids = [r[0] for r in await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'")]
    return time.process_time() + _ticks(pids)


async def main(args: argparse.Namespace, data_dir: Path) -> None:
    import asyncpg

    from arrears.config import get_settings
    from arrears.db import dispose_engines, session_factory
    from arrears.strategies import preview, runner
    from arrears.wiring import wire

    wire()
    org_id, _ = await seed(args.accounts, data_dir)
    from arrears.db import transaction
    from arrears.identity import service as identity

    async with transaction() as s:
        org = await identity.get_org(s, org_id)
        await identity.set_org_settings(s, Caller.system(org.id), org, {"contact_hours": "off", "contact_cap": "0"})
    sid = await _strategy(org_id)
    url = get_settings().async_database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    await conn.execute("ANALYZE")
    results: dict[str, list[float]] = {k: [] for k in ("count", "preview", "copy", "run", "copy_cpu", "run_cpu")}
    try:
        for rnd in range(args.rounds):
            t0 = time.perf_counter()
            n = await conn.fetchval(BARE_COUNT, org_id)
            results["count"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            async with session_factory() as s:
                pv = await preview.preview_org(s, org_id, sid)
            results["preview"].append(time.perf_counter() - t0)
            assert pv["messages"] == n, (pv["messages"], n)
            if args.preview_only:
                print(f"round {rnd + 1}: {n:,} accounts; count {results['count'][-1]:.3f} s, preview "
                      f"{results['preview'][-1]:.2f} s", flush=True)
                continue
            async with session_factory() as s:
                await s.connection()  # its backend is there to be counted
                c0, t0 = await _cpu(conn), time.perf_counter()
                run = await runner.run_now(s, Caller.system(org_id, "bench"), trigger="manual", checkpoint=s.commit)
                await s.commit()
                results["run"].append(time.perf_counter() - t0)
                results["run_cpu"].append(await _cpu(conn) - c0)
            assert run.messages == pv["messages"] == n, (run.messages, pv["messages"], n)
            # The baseline: the same message rows, COPYed into the table afresh.
            rows = await conn.fetch(f"SELECT {', '.join(COLUMNS)} FROM messages WHERE org_id = $1", org_id)
            await _reset(conn, org_id)
            records = [tuple(r) for r in rows]
            c0, t0 = await _cpu(conn), time.perf_counter()
            await conn.copy_records_to_table("messages", records=records, columns=list(COLUMNS))
            results["copy"].append(time.perf_counter() - t0)
            results["copy_cpu"].append(await _cpu(conn) - c0)
            await _reset(conn, org_id)
            print(f"round {rnd + 1}: {n:,} accounts; count {results['count'][-1]:.3f} s, preview "
                  f"{results['preview'][-1]:.2f} s; COPY {results['copy'][-1]:.2f} s, run {results['run'][-1]:.2f} s "
                  f"(CPU: COPY {results['copy_cpu'][-1]:.2f} s, run {results['run_cpu'][-1]:.2f} s)",
                  flush=True)
    finally:
        await conn.close()
        await dispose_engines()
    med = {k: statistics.median(v) for k, v in results.items() if v}
    print(f"preview / bare count: {med['preview'] / med['count']:.1f}x (goal <= 3x)")
    if not args.preview_only:
        print(f"run / bare COPY of the messages: {med['run'] / med['copy']:.1f}x (goal <= 2x); in CPU seconds "
              f"(this process and the database's backends): {med['run_cpu'] / med['copy_cpu']:.1f}x")
    for k, v in results.items():
        print(f"  {k}: " + ", ".join(f"{x:.3f}" for x in v))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--preview-only", action="store_true", help="the preview and its baseline only (no run)")
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/arrears_stratbench")
    arguments = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="arrears-bench-strategies-"))
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
