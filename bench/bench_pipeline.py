"""Benchmark (not a test): what a user waits for after uploading a 200,000-row age analysis, on
PostgreSQL, side by side in one run.

    uv run --frozen python bench/bench_pipeline.py [--rows 200000] [--repeat 3] [--pg URL] [--file F.xlsx]
                                                   [--no-second] [--db-prefix NAME]

Makes the .xlsx of bench_import_xlsx.py (or reuses --file), creates and migrates a scratch
database, then, each round in fresh processes reading the same file:

- floor: python-calamine opens the workbook and reads every cell of every row (the least any
  reader of the file can do, and the best a user could build with the same library);
- import: `run_import` (parse in the parse pool's child, validate, phones, COPY, summary figures,
  commit), then the import job's ANALYZE of the snapshots;
- book job: what `jobs.update_book_from_upload` does (`jobs.book_job`; on code from before it,
  its three steps one after the other): `update_book` (customers created, existing ones kept
  current, accounts upserted, the report ranked), the after-book hooks (`after_upload`: the
  accounts owed, arrears.accounts `sync_book_accounts`), and its ANALYZE (on PostgreSQL the book's
  tables' beside the hooks, the accounts' after them); timed end to end, each step on its line;
- pipeline: import job + book job, end to end (the worker's queue latency left out);
- second month (unless --no-second): the same accounts uploaded again into the same organisation
  (a book that already holds them: no customer created, every account updated).

Prints each as seconds and as a ratio to the floor (goals: import <= 2.5x; book job <= import).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import_xlsx import DEFAULT_PG, FLOOR, ROOT, child, make_workbook  # noqa: E402
from scratch_db import pg_execute  # noqa: E402

PIPELINE = """
import asyncio, json, sys, time, uuid
from pathlib import Path

async def one(org_id, path):
    from arrears.db import transaction
    from arrears.debtors import service, storage
    from sqlalchemy import text

    from arrears.debtors import jobs
    from arrears.debtors.imports import run_import, update_book
    from arrears.debtors.jobs import BOOK_TABLES, IMPORT_TABLES, after_upload, analyze
    book_job = getattr(jobs, "book_job", None)

    stored = storage.store_local_file(org_id, path, max_size=1 << 31)
    async with transaction() as s:
        report = await service.create_report(s, None, stored, org_id=org_id, enqueue=False)
    t0 = time.perf_counter()
    outcome = await run_import(report.id)
    t1 = time.perf_counter()
    await analyze(IMPORT_TABLES)
    t2 = time.perf_counter()
    async with transaction() as s:
        before = await s.scalar(text("SELECT count(*) FROM customers WHERE org_id = :org"), {"org": org_id})
    t3 = time.perf_counter()
    steps = {}
    if book_job is not None:
        await book_job(report.id, timings=steps)  # what the worker's book job runs
    else:  # code from before jobs.book_job: its three steps one after the other
        for step, run in (("book", update_book), ("owed", after_upload), ("analyze", lambda _: analyze(BOOK_TABLES))):
            t = time.perf_counter()
            await run(report.id)
            steps[step] = time.perf_counter() - t
    t4 = time.perf_counter()
    async with transaction() as s:
        created = await s.scalar(text("SELECT count(*) FROM customers WHERE org_id = :org"), {"org": org_id}) - before
    return {"import": t1 - t0, "import_analyze": t2 - t1, "book": steps["book"], "owed": steps["owed"],
            "book_analyze": steps["analyze"], "book_job": t4 - t3, "accounts": outcome.accounts,
            "status": outcome.status, "created": created}

async def main():
    from arrears.db import dispose_engines, transaction
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller
    from arrears.sandbox import get_pool

    from arrears.wiring import wire

    wire()  # as the worker does: the after-book hooks (the accounts owed) are registered there
    async with transaction() as s:
        org = await identity.create_org(s, Caller.operator(), name="Bench " + uuid.uuid4().hex[:6])
    get_pool().warm(1)  # as the server and the worker do at start
    first = await one(org.id, Path(sys.argv[1]))
    second = await one(org.id, Path(sys.argv[1])) if sys.argv[2] == "1" else None
    await dispose_engines()
    print(json.dumps({"first": first, "second": second}))

asyncio.run(main())
"""


def pipeline(path: Path, env: dict[str, str], second: bool) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PIPELINE, str(path), "1" if second else "0"], capture_output=True,
                         text=True, env=env, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stdout}\n{out.stderr}")
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _job_times(run: dict[str, float]) -> tuple[float, float, float]:
    """(import job, book job, pipeline) in seconds."""
    imported = run["import"] + run["import_analyze"]
    book = run.get("book_job") or run["book"] + run.get("owed", 0.0) + run["book_analyze"]
    return imported, book, imported + book


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--pg", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--file", type=Path, help="reuse this workbook instead of making one")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the best of them")
    parser.add_argument("--no-second", action="store_true", help="skip the second month's upload")
    parser.add_argument("--db-prefix", default="arrears_bench",
                        help="scratch databases are named PREFIX_<random> (keep runs side by side apart)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="arrears-bench-"))
    path = args.file or work / f"age-analysis-{args.rows}.xlsx"
    if not args.file:
        t = time.perf_counter()
        make_workbook(path, args.rows)
        print(f"made {path.name}: {args.rows:,} rows, {path.stat().st_size / 1048576:.1f} MiB "
              f"in {time.perf_counter() - t:.1f} s")
    base = args.pg.rsplit("/", 1)[0]
    floors: list[float] = []
    runs: list[dict[str, object]] = []
    try:
        for _ in range(max(args.repeat, 1)):  # interleaved, so that the machine's load hits them all
            floors.append(float(child(FLOOR, path)["seconds"]))  # type: ignore[arg-type]
            name = f"{args.db_prefix}_{uuid.uuid4().hex[:8]}"  # a fresh database per round: a fresh book
            asyncio.run(pg_execute(args.pg, f'CREATE DATABASE "{name}"'))
            try:
                env = os.environ.copy()
                env.update({"DATABASE_URL": f"{base}/{name}", "ARREARS_DATA_DIR": str(work / "data"),
                            "SECRET_KEY": "bench-" + "s" * 40, "UPLOAD_MAX_SIZE": str(1 << 31)})
                env.pop("REDIS_URL", None)
                subprocess.run([sys.executable, "-m", "arrears", "db", "upgrade"], env=env, cwd=ROOT, check=True,
                               capture_output=True)
                runs.append(pipeline(path, env, not args.no_second))
            finally:
                asyncio.run(pg_execute(args.pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        if not args.file:
            shutil.rmtree(work, ignore_errors=True)
        else:
            shutil.rmtree(work / "data", ignore_errors=True)

    floor = min(floors)
    firsts = [r["first"] for r in runs]
    print(f"{path.name}: {firsts[0]['accounts']:,} accounts imported, status {firsts[0]['status']}, "  # type: ignore[index]
          f"{firsts[0]['created']:,} customers created; best of {len(runs)} rounds")  # type: ignore[index]
    print(f"{'':44s}{'seconds':>9s}  {'/ floor':>8s}")
    print(f"{'floor (python-calamine reads every cell)':44s}{floor:9.3f}  {1:8.2f}")

    def show(label: str, seconds: float, note: str = "") -> None:
        print(f"{label:44s}{seconds:9.3f}  {seconds / floor:8.2f}  {note}")

    for title, key in (("first upload (a fresh book)", "first"), ("second month (the same accounts again)", "second")):
        rounds = [r[key] for r in runs if r.get(key)]
        if not rounds:
            continue
        print(title)
        best = {k: min(float(r[k]) for r in rounds)  # type: ignore[index]
                for k in ("import", "import_analyze", "book", "owed", "book_analyze")}
        times = [_job_times(r) for r in rounds]  # type: ignore[arg-type]
        imported, book, whole = (min(t[i] for t in times) for i in range(3))
        show("  import (run_import)", best["import"], "goal <= 2.5")
        show("  import job (+ ANALYZE of the snapshots)", imported)
        show("  book (update_book: data on the pages)", best["book"])
        show("  accounts owed (after_upload: sync_book_accounts)", best["owed"])
        show("  book job (+ ANALYZE of the book's tables)", book,
             f"book job / import = {book / best['import']:.2f} (goal <= 1)")
        show("  pipeline (import job + book job)", whole)
        paired = sorted(_job_times(r)[1] / float(r["import"]) for r in rounds)  # type: ignore[arg-type,index]
        print(f"  each round's book job / import: {', '.join(f'{p:.2f}' for p in paired)}")
    print(f"floor each round: {', '.join(f'{f:.3f}' for f in floors)}; load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
