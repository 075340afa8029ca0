"""Benchmark (not a test): a 100,000-line payments CSV imported on PostgreSQL, against a baseline
that reads the same file with the csv module and COPYs the parsed rows into a bare table with the
same columns, in the same run.

    uv run --frozen python bench/bench_payments_import.py [--lines 100000] [--accounts 20000] [--repeat 3]
                                                         [--pg URL] [--db-prefix NAME]

Creates and migrates a scratch database, loads a debtor book of --accounts accounts through the
book's own import (the accounts the payments match), writes a payments CSV of --lines lines (a
bank-style header: Date, Reference, Amount, Method, Transaction Id; nine lines in ten name a book
account, one in ten nobody), then, each round in fresh processes reading the same file:

- baseline: csv.reader over the file, each line's date and amount parsed (date.fromisoformat,
  Decimal), an id made, and the rows COPYed (asyncpg copy_records_to_table) into a bare table with
  the payments table's columns (no index, no constraint), committed;
- ours: `arrears.payments.importing.import_file` as `arrears payments import` runs it — the parse in
  the parse pool's child (the book's header machinery, amounts, dates, derived external ids), the
  lines staged in a temporary table, accounts matched by reference in the database, duplicates by
  external id, the payments written by one INSERT … SELECT into `payments` (its unique and other
  indexes), the import row and its event, the accounts' statuses settled — committed. The
  payments tables are emptied between rounds, so each round imports every line.

Prints each as seconds and ours / baseline (goal <= 2.5), best of --repeat and each round's own.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import date, timedelta
from pathlib import Path

from scratch_db import pg_execute

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
BOOK_HEADER = ["Account", "Name", "Contact", "Telephone", "Current", "30 Days", "60 Days", "90 Days", "120 Days",
               "Total Balance"]

SETUP = """
import asyncio, json, sys, uuid
from pathlib import Path

async def main():
    from arrears.wiring import wire
    wire()
    from arrears.db import dispose_engines, transaction
    from arrears.debtors import service, storage
    from arrears.debtors.imports import run_import, update_book
    from arrears.debtors.jobs import BOOK_TABLES, IMPORT_TABLES, after_upload, analyze
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller

    async with transaction() as s:
        org = await identity.create_org(s, Caller.operator(), name="Bench " + uuid.uuid4().hex[:6])
    stored = storage.store_local_file(org.id, Path(sys.argv[1]), max_size=1 << 31)
    async with transaction() as s:
        report = await service.create_report(s, None, stored, org_id=org.id, enqueue=False)
    outcome = await run_import(report.id)
    await update_book(report.id)
    await after_upload(report.id)
    await analyze(IMPORT_TABLES + BOOK_TABLES)  # as the book's jobs do after their loads
    await dispose_engines()
    print(json.dumps({"org": org.id, "accounts": outcome.accounts, "status": outcome.status}))

asyncio.run(main())
"""

BASELINE = """
import asyncio, csv, json, os, sys, time, uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import asyncpg

COLUMNS = ["id", "org_id", "account_id", "amount", "paid_on", "method", "reference", "external_id", "status",
           "source", "import_id", "line_number", "note", "created_by", "created_at", "updated_at"]

async def main():
    conn = await asyncpg.connect(os.environ["BENCH_PG_URL"])
    await conn.execute("TRUNCATE bench_payments_bare")
    start = time.perf_counter()
    now = datetime.now(timezone.utc)
    import_id = uuid.uuid4()
    rows = []
    with open(sys.argv[1], newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for number, (day, reference, amount, method, external) in enumerate(reader, start=2):
            rows.append((uuid.uuid4(), 1, None, Decimal(amount), date.fromisoformat(day), method, reference,
                         external, "unmatched", "import", import_id, number, None, "bench", now, now))
    async with conn.transaction():
        await conn.copy_records_to_table("bench_payments_bare", records=rows, columns=COLUMNS)
    seconds = time.perf_counter() - start
    await conn.close()
    print(json.dumps({"seconds": seconds, "rows": len(rows)}))

asyncio.run(main())
"""

OURS = """
import asyncio, json, os, sys, time
from pathlib import Path

async def main():
    from arrears.wiring import wire
    wire()
    from arrears.db import dispose_engines, transaction
    from arrears.payments import importing
    from arrears.sandbox import get_pool

    async with transaction() as s:
        from sqlalchemy import text
        await s.execute(text("TRUNCATE payments, payment_imports"))
    get_pool().warm(1)  # as the server, the worker and the CLI do before their first file
    stages = {}
    def progress(stage, done, total):
        stages.setdefault(stage, time.perf_counter() - start)
    profile = None
    if os.environ.get("BENCH_PROFILE"):  # where to write a cProfile of the import (this process)
        import cProfile
        profile = cProfile.Profile()
        profile.enable()
    start = time.perf_counter()
    async with transaction() as s:
        row = await importing.import_file(s, None, Path(sys.argv[1]), on_progress=progress,
                                          org_id=int(os.environ["BENCH_ORG"]))
        stages["settled"] = time.perf_counter() - start
    seconds = time.perf_counter() - start
    if profile is not None:
        profile.disable()
        profile.dump_stats(os.environ["BENCH_PROFILE"])
    await dispose_engines()
    print(json.dumps({"seconds": seconds, "stages": stages, "recorded": row.recorded, "unmatched": row.unmatched,
                      "duplicates": row.duplicates, "failed": row.failed, "lines": row.total_lines}))

asyncio.run(main())
"""

BARE = """
CREATE TABLE bench_payments_bare (
    id uuid, org_id integer, account_id uuid, amount numeric(14, 2), paid_on date, method varchar(32),
    reference varchar(255), external_id varchar(128), status varchar(16), source varchar(16), import_id uuid,
    line_number integer, note text, created_by varchar(128), created_at timestamptz, updated_at timestamptz)
"""


def make_book(path: Path, accounts: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(BOOK_HEADER)
        for i in range(accounts):
            w.writerow([f"ACC{i:06d}", f"Customer {i}", "", f"082{i:07d}", "500.00", "250.00", "0", "250.00", "0",
                        "1000.00"])


def make_payments(path: Path, lines: int, accounts: int, seed: int = 20251130) -> None:
    rng = random.Random(seed)
    start = date(2025, 11, 1)
    methods = ["eft", "debit_order", "cash", "card"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Date", "Reference", "Amount", "Method", "Transaction Id"])
        for i in range(lines):
            ref = f"ACC{rng.randrange(accounts):06d}" if rng.random() < 0.9 else f"UNKNOWN{i}"
            w.writerow([(start + timedelta(days=rng.randrange(28))).isoformat(), ref,
                        f"{rng.randrange(100, 5000) / 100:.2f}", rng.choice(methods), f"TX{i:09d}"])


def child(code: str, path: Path, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, cwd=ROOT,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--db-prefix", default="arrears_bench",
                        help="the scratch database's name prefix (a random suffix follows)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="arrears-bench-"))
    name = f"{args.db_prefix}_{uuid.uuid4().hex[:8]}"
    base = args.pg.rsplit("/", 1)[0]
    asyncio.run(pg_execute(args.pg, f'CREATE DATABASE "{name}"'))
    try:
        env = os.environ.copy()
        env.update({"DATABASE_URL": f"{base}/{name}", "BENCH_PG_URL": f"{base}/{name}",
                    "ARREARS_DATA_DIR": str(work / "data"), "SECRET_KEY": "bench-" + "s" * 40,
                    "UPLOAD_MAX_SIZE": str(1 << 31)})
        env.pop("REDIS_URL", None)
        subprocess.run([sys.executable, "-m", "arrears", "db", "upgrade"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        asyncio.run(pg_execute(f"{base}/{name}", BARE))
        book, payments = work / "book.csv", work / "payments.csv"
        make_book(book, args.accounts)
        make_payments(payments, args.lines, args.accounts)
        setup = child(SETUP, book, env)
        print(f"book: {setup['accounts']:,} accounts ({setup['status']}); payments file: {args.lines:,} lines, "
              f"{payments.stat().st_size / 1048576:.1f} MiB")
        env["BENCH_ORG"] = str(setup["org"])
        bases, ours = [], []
        for _ in range(max(args.repeat, 1)):  # interleaved, so that the machine's load hits both
            bases.append(child(BASELINE, payments, env))
            ours.append(child(OURS, payments, env))
    finally:
        asyncio.run(pg_execute(args.pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(work, ignore_errors=True)

    b = min(float(r["seconds"]) for r in bases)  # type: ignore[arg-type]
    o = min(float(r["seconds"]) for r in ours)  # type: ignore[arg-type]
    last = ours[-1]
    print(f"imported: {last['recorded']:,} recorded, {last['unmatched']:,} unmatched, {last['duplicates']:,} "
          f"duplicates, {last['failed']:,} failed of {last['lines']:,} lines")
    print(f"baseline (csv module + COPY into a bare table)   {b:8.3f} s")
    print(f"ours     (arrears payments import, PostgreSQL)    {o:8.3f} s   ours / baseline = {o / b:.2f}  (goal <= 2.5)")
    paired = sorted(float(x["seconds"]) / float(y["seconds"]) for y, x in zip(bases, ours, strict=True))  # type: ignore[arg-type]
    print(f"         each round's ours / baseline: {', '.join(f'{r:.2f}' for r in paired)} "
          f"(median {paired[len(paired) // 2]:.2f})")
    print("         stages of the last round (s from its start): "
          + ", ".join(f"{k} {float(v):.2f}" for k, v in last["stages"].items()))  # type: ignore[attr-defined]
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
