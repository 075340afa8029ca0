"""`arrears import FILE --preview` (issue 21): the preview printed, nothing stored; `--mapping`
laid over the header for the preview and the import, each problem named."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from pathlib import Path

from sqlalchemy import func, select

from arrears.db import transaction
from arrears.debtors.models import DebtorReport, DebtorSnapshot, ImportProfile
from arrears.jobs.models import Job
from tests.faces.age_analysis.helpers import write_book
from tests.faces.age_analysis.test_aama_preview import HEADER, ROWS
from tests.inprocess_cli import arrears


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """In-process (tests/inprocess_cli.py: the same entry point, without a Python start-up per
    command); called in a thread, as the command runs a loop of its own."""
    return arrears("import", *args, env=os.environ | {"COLUMNS": "200"})


def _words(text: str) -> str:
    """The output without the tables' box drawing, as one line."""
    return " ".join(re.sub(r"[\u2500-\u257f]", " ", text).split())


async def _counts() -> tuple[int, ...]:
    async with transaction(readonly=True) as s:
        return tuple([int(await s.scalar(select(func.count()).select_from(m)) or 0)
                      for m in (DebtorReport, DebtorSnapshot, ImportProfile, Job)])


async def test_preview_prints_what_the_import_would_take(world, tmp_path: Path):
    org = await world.org()
    path = write_book(tmp_path / "Debtors Nov.xlsx", [["Debtors age analysis"], HEADER, *ROWS])
    out = await asyncio.to_thread(_cli, str(path), "--org", str(org.id), "--preview")
    assert out.returncode == 0, out.stderr
    text = _words(out.stderr)
    assert "Debtors Nov.xlsx: sheet 'Debtors', header on row 2 (xlsx)" in text
    assert "Cell (ignored) telephone is read from 'Telephone' instead" in text
    assert "2 accounts, 0 failed rows, 3 lines skipped (blank 1, title 1, total 1)" in text
    assert "A1 Alpha Ltd 011 555 0001 100.00 50.00" in text
    assert "Total check: The accounts add up to the report's total: matches the report's total." in text
    assert await _counts() == (0, 0, 0, 0)

    out = await asyncio.to_thread(_cli, str(path), "--org", str(org.id), "--preview", "--json",
                                  "--mapping", json.dumps({"2": None, "3": "telephone"}))
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout.strip().splitlines()[-1])
    assert body["sheet"] == "Debtors" and body["header_rows"] == [2] and body["accounts_found"] == 2
    assert [a["telephone"] for a in body["accounts"]] == ["082 123 4567", "083 765 4321"]
    assert body["columns"][3] == {"index": 3, "label": "Cell", "field": "telephone", "reason": "your mapping"}
    assert await _counts() == (0, 0, 0, 0)


async def test_mapping_problems_are_named_and_a_good_mapping_is_imported(world, tmp_path: Path):
    org = await world.org()
    path = write_book(tmp_path / "book.csv", [HEADER, *ROWS])
    out = await asyncio.to_thread(_cli, str(path), "--org", str(org.id), "--preview",
                                  "--mapping", json.dumps({"3": "phone", "14": None}))
    assert out.returncode != 0
    text = _words(out.stderr)
    assert "'phone' is not a field" in text and "Column 14 is not in the file" in text
    out = await asyncio.to_thread(_cli, str(path), "--org", str(org.id), "--mapping", json.dumps({"3": "phone"}))
    assert out.returncode != 0 and await _counts() == (0, 0, 0, 0)

    out = await asyncio.to_thread(_cli, str(path), "--org", str(org.id), "--json",
                                  "--mapping", json.dumps({"2": None, "3": "telephone"}))
    assert out.returncode == 0, out.stderr
    async with transaction(readonly=True) as s:
        phones = sorted((await s.execute(select(DebtorSnapshot.account_code, DebtorSnapshot.telephone))).all())
    assert phones == [("A1", "27821234567"), ("A2", "27837654321")]
