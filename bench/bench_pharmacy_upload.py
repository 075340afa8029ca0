"""Benchmark (not a test): the pharmacy face's whole PDF upload against PDFium reading the characters.

    uv run --frozen python bench/bench_pharmacy_upload.py [--pages 300] [--repeat 3]
                                                          [--pdfplumber-pages N | --no-pdfplumber]

Generates a Debtors Age Analysis of --pages pages (24 debtors a page, contacts on a second line,
page totals, repeated headers; the tests' generator), then times on the same bytes, in one process:
  floor       pypdfium2 opening the file and reading every character's box on every page
  ours        POST /pharmacies/{id}/debtors/upload through the ASGI app (httpx, no network) on a
              migrated SQLite database: multipart parse, extraction, validation, the report stored
              (snapshots, book accounts, pharmacy fields, settled marking), the JSON answer with
              every debtor. The first upload creates the debtors, later ones update them (best of
              --repeat, interleaved with the floor).
  pdfplumber  extract_words() on every page (or on the first N pages with --pdfplumber-pages N,
              extrapolated to the whole report by pages — said so in the output)
Goals: ours / floor <= 2.0, pdfplumber / ours >= 8.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.debtors.pdf

import httpx  # noqa: E402
import pypdfium2 as pdfium  # noqa: E402
from bench_pdf_extract import floor  # noqa: E402  (the same floor as the extraction benchmark)

from tests.debtors.pdf.make_pdfs import Layout, build_report, sample_debtors  # noqa: E402

ROWS_PER_PAGE = 24
LAYOUT = Layout(contacts="second_line", subtotals=True, rows_per_page=ROWS_PER_PAGE, font_size=6.5, leading=9)


def plumber(path: Path, pages: int | None) -> tuple[int, int]:
    import pdfplumber

    words = read = 0
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages[:pages] if pages else pdf.pages:
            words += len(page.extract_words())
            read += 1
            page.close()
    return words, read


async def setup(tmp: Path) -> tuple[httpx.AsyncClient, str]:
    os.environ.update({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bench.db'}", "ARREARS_DATA_DIR": str(tmp / "data"),
                       "SECRET_KEY": uuid.uuid4().hex * 2, "LOG_LEVEL": "WARNING"})
    from arrears import config, migrate

    config.reset_settings()
    await asyncio.to_thread(migrate.upgrade, os.environ["DATABASE_URL"])
    from arrears.app import create_app
    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller

    async with transaction() as s:
        org = await identity.create_org(s, Caller.operator(), name="Bench Pharmacy", kind="pharmacy")
        await identity.create_user(s, Caller.system(org.id), username="bench", password="Bench-pass-123",
                                   role="admin", access="write", email=None)
    from arrears.sandbox import get_pool

    get_pool().warm(1)  # the parser's child, started as the server starts it
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()), base_url="http://bench",
                               timeout=300)
    r = await client.post("/api/auth/token/", json={"username": "bench", "password": "Bench-pass-123"})
    r.raise_for_status()
    client.headers["Authorization"] = f"Bearer {r.json()['access']}"
    return client, f"/pharmacies/{org.id}/debtors/upload"


async def ours(client: httpx.AsyncClient, url: str, data: bytes) -> tuple[float, int]:
    start = time.perf_counter()
    r = await client.post(url, files={"file": ("age-analysis.pdf", data, "application/pdf")})
    body = r.json()
    elapsed = time.perf_counter() - start
    assert r.status_code == 200, r.text[:500]
    return elapsed, len(body["debtors"])


def timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pdfplumber-pages", type=int, default=None,
                    help="read only the first N pages with pdfplumber and extrapolate")
    ap.add_argument("--no-pdfplumber", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "age-analysis.pdf"
        gen_s, _ = timed(build_report, sample_debtors(args.pages * ROWS_PER_PAGE), LAYOUT, path)
        data = path.read_bytes()
        pages = len(pdfium.PdfDocument(data))
        print(f"report: {pages} pages, {args.pages * ROWS_PER_PAGE} debtors, {len(data) / 1e6:.1f} MB "
              f"(generated in {gen_s:.1f} s)")
        print(f"python {platform.python_version()}, pypdfium2 {pdfium.version.PYPDFIUM_INFO}, SQLite (aiosqlite)")
        client, url = await setup(tmp)
        floor_s = ours_s = first_s = float("inf")
        chars = debtors = 0
        try:
            for i in range(args.repeat):  # interleaved so that both see the same machine state
                s, chars = timed(floor, data)
                floor_s = min(floor_s, s)
                s, debtors = await ours(client, url, data)
                if i == 0:
                    first_s = s
                ours_s = min(ours_s, s)
        finally:
            await client.aclose()
        print(f"floor  (pypdfium2, every char box)    : {floor_s:7.3f} s   {chars:,} chars")
        print(f"ours   (first upload: debtors created) : {first_s:7.3f} s   {debtors:,} debtors")
        print(f"ours   (best upload, HTTP to JSON)     : {ours_s:7.3f} s")
        print(f"ours / floor                          : {ours_s / floor_s:7.2f}   (goal <= 2.0; "
              f"first upload {first_s / floor_s:.2f})")
        if not args.no_pdfplumber:
            (plumber_s, (words, read)) = timed(plumber, path, args.pdfplumber_pages)
            whole = plumber_s * pages / read
            note = "" if read == pages else f"   (read {read} of {pages} pages in {plumber_s:.3f} s, extrapolated)"
            print(f"pdfplumber (extract_words)            : {whole:7.3f} s   {words:,} words{note}")
            print(f"pdfplumber / ours                     : {whole / ours_s:7.1f}   (goal >= 8)")


if __name__ == "__main__":
    asyncio.run(main())
