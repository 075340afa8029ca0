"""Workbooks written by the tests, and the upload round trip through HTTP."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import xlwt

HEADER = ["Account", "Name", "Contact", "Telephone", "Current", "30 Days", "60 Days", "90 Days",
          "120 Days", "Total Balance"]
# A small book whose figures are computed by hand in the tests.
GOOD_ROWS: list[list[Any]] = [
    ["A1", "Alpha Ltd", "Ann", "082 123 4567", 100, 50, 0, 0, 0, 150],
    ["A2", "Beta CC", None, "0831234567", 0, 0, 200, 0, 0, 200],
    ["A3", "Gamma", "Gus", "011 555 1234", 300, 0, 0, 0, 0, 300],
    ["A4", "Delta", "Dee", "+27 84 765 4321", 0, 0, 0, 400, 600, 1000],
    ["A5", "Epsilon", None, "n/a", 25.5, 0, 0, 0, 0, 25.5],
]
BAD_ROWS: list[list[Any]] = [
    ["A6", "Zeta", None, "0821112222", "abc", 0, 0, 0, 0, 10],  # INVALID_AMOUNT
    ["A7", "Eta", None, "0821113333", 10, 0, 0, 0, 0, 50],  # BALANCE_MISMATCH
    ["A1", "Alpha again", None, "0821114444", 1, 0, 0, 0, 0, 1],  # DUPLICATE_ACCOUNT
]
BOOK = [HEADER, *GOOD_ROWS, *BAD_ROWS]


def write_book(path: Path, rows: Sequence[Sequence[Any]], kind: str | None = None) -> Path:
    kind = kind or path.suffix.lstrip(".")
    if kind == "xlsx":
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Debtors"
        for row in rows:
            ws.append([float(v) if isinstance(v, Decimal) else v for v in row])
        wb.save(path)
    elif kind == "xls":
        wb = xlwt.Workbook(encoding="utf-8")
        ws = wb.add_sheet("Debtors")
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    ws.write(r, c, float(value) if isinstance(value, Decimal) else value)
        wb.save(str(path))
    elif kind == "csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            for row in rows:
                writer.writerow(["" if v is None else v for v in row])
    else:
        raise ValueError(kind)
    return path


def big_csv(path: Path, count: int, prefix: str = "ACC") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(count):
            writer.writerow([f"{prefix}{i:06d}", f"Customer {i}", "", f"082{i % 10_000_000:07d}",
                             "10.00", "5.00", "0", "0", "0", "15.00"])
    return path


async def post_file(client: httpx.AsyncClient, headers: dict[str, str], path: Path | None = None, *,
                    content: bytes | None = None, name: str | None = None) -> httpx.Response:
    data = content if content is not None else path.read_bytes()  # type: ignore[union-attr]  # noqa: ASYNC240
    filename = name or (path.name if path is not None else "upload.xlsx")
    return await client.post("/api/uploads", headers=headers, files={"file": (filename, data)})


async def import_file(client: httpx.AsyncClient, headers: dict[str, str], path: Path, **kw: Any) -> str:
    """Upload, let the worker import it, and return the upload id."""
    from arrears.worker import run_until_idle

    r = await post_file(client, headers, path, **kw)
    assert r.status_code == 202, r.text
    await run_until_idle()
    return r.json()["upload"]["id"]
