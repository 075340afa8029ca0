"""Benchmark (not a test): the reader's full pass over a 200,000-row age analysis (what the upload
preview reads) against the python-calamine floor, in the same run.

    uv run --frozen python bench/bench_preview.py [--rows 200000] [--repeat 3] [--file F.xlsx]

Makes the .xlsx of bench_import_xlsx.py (or reuses --file), then, each in a fresh process and
interleaved round by round, best of N:

- floor: python-calamine opens the workbook and reads every cell of every row (the least any
  reader of the file can do, and the best a user could build with the same library);
- rows: `read_age_analysis`, every row as an AccountRow or RowError, none kept (the header found,
  values, checks, phones, skip rules: the pass a preview makes);
- blocks: the same pass as the import reads it, a block of rows at a time;
- preview: the preview itself (`run_preview`): the whole file read by blocks in the parse pool's
  child (warmed, as the server does at start), only the Preview sent back — what the upload page
  waits for;
- isolated: the same blocks read in the parse pool's child and every block sent back through its
  pipe (the import's way).

Prints each in seconds and as a ratio to the floor (goal for the preview: <= 1.5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import_xlsx import FLOOR, child, make_workbook  # noqa: E402

ROWS = """
import sys, time
from arrears.debtors.gcpause import collector_paused
from arrears.debtors.reading import AccountRow, read_age_analysis
start = time.perf_counter()
accounts = failed = 0
with read_age_analysis(sys.argv[1]) as reader, collector_paused():
    for row in reader:
        if type(row) is AccountRow:
            accounts += 1
        else:
            failed += 1
print(f'{{"seconds": {time.perf_counter() - start}, "rows": {accounts + failed}, "accounts": {accounts}}}')
"""

BLOCKS = """
import sys, time
from arrears.debtors.gcpause import collector_paused
from arrears.debtors.reading import read_age_analysis
start = time.perf_counter()
accounts = failed = 0
with read_age_analysis(sys.argv[1]) as reader, collector_paused():
    for block in reader.blocks():
        accounts += len(block)
        failed += len(block.errors)
print(f'{{"seconds": {time.perf_counter() - start}, "rows": {accounts + failed}, "accounts": {accounts}}}')
"""

ISOLATED = """
import sys, time
from arrears.debtors.reading.isolated import open_isolated
from arrears.sandbox import get_pool
get_pool().warm(1)  # as the server and the worker do at start
start = time.perf_counter()
accounts = failed = 0
with open_isolated(sys.argv[1]) as reader:
    for block in reader.blocks():
        accounts += len(block)
        failed += len(block.errors)
print(f'{{"seconds": {time.perf_counter() - start}, "rows": {accounts + failed}, "accounts": {accounts}}}')
"""

# The preview itself, as the upload page asks for it: `run_preview` reads the whole file by blocks
# in the parse pool's child and sends back only the Preview (columns, counts, the first accounts).
PREVIEW = """
import sys, time
from arrears.debtors.preview import run_preview
from arrears.sandbox import get_pool
get_pool().warm(1)  # as the server and the worker do at start
start = time.perf_counter()
preview = run_preview(sys.argv[1], None)
print(f'{{"seconds": {time.perf_counter() - start}, "rows": {preview.account_count + preview.failed_count}, '
      f'"accounts": {preview.account_count}}}')
"""

CONTENDERS = {"preview": PREVIEW, "rows": ROWS, "blocks": BLOCKS, "isolated": ISOLATED}
LABELS = {"preview": "preview (run_preview, in the parse child)", "rows": "rows (read_age_analysis, row by row)",
          "blocks": "blocks (the same pass, by blocks)", "isolated": "isolated (blocks sent from the parse child)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--file", type=Path, help="reuse this workbook instead of making one")
    parser.add_argument("--repeat", type=int, default=3, help="best of N")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="arrears-bench-"))
    try:
        path = args.file or work / f"age-analysis-{args.rows}.xlsx"
        if not args.file:
            t = time.perf_counter()
            make_workbook(path, args.rows)
            print(f"made {path.name}: {args.rows:,} rows, {path.stat().st_size / 1048576:.1f} MiB "
                  f"in {time.perf_counter() - t:.1f} s")
        floors: list[float] = []
        runs: dict[str, list[dict[str, object]]] = {name: [] for name in CONTENDERS}
        for _ in range(max(args.repeat, 1)):  # interleaved, so that the machine's load hits them all
            floors.append(float(child(FLOOR, path)["seconds"]))  # type: ignore[arg-type]
            for name, code in CONTENDERS.items():
                runs[name].append(child(code, path))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    floor = min(floors)
    first = runs["rows"][0]
    assert all(r["accounts"] == first["accounts"] for results in runs.values() for r in results)
    print(f"{first['accounts']:,} accounts, {int(first['rows']) - int(first['accounts']):,} failed rows; "  # type: ignore[call-overload]
          f"best of {len(floors)}")
    print(f"{'floor (python-calamine reads every cell)':42s}{floor:8.3f} s")
    for name, results in runs.items():
        seconds = min(float(r["seconds"]) for r in results)  # type: ignore[arg-type]
        goal = "  (goal <= 1.5)" if name == "preview" else ""
        print(f"{LABELS[name]:42s}{seconds:8.3f} s   / floor = {seconds / floor:.2f}{goal}")
    print(f"floor each round: {', '.join(f'{f:.3f}' for f in floors)}; load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
