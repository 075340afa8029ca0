"""Benchmark (not a test): PDF debtor extraction against the time PDFium needs to read the characters.

    uv run --frozen python bench/bench_pdf_extract.py [--pages 300] [--repeat 3] [--layout ruled|text]
                                                      [--no-pdfplumber]

Generates a Debtors Age Analysis of --pages pages (24 debtors a page, contacts on a second line,
page totals, repeated headers; a ruled grid, or Courier lines aligned with spaces for --layout text)
with the tests' generator, then times on the same bytes:
  floor       pypdfium2 opening the file and reading every character's box on every page: the
              least a per-character reader does, a loop that ours avoids (it reads the page
              text once and the boxes of word ends only), so ours can come in under it
  ours        arrears.debtors.pdf.extract_debtors (the whole extraction, debtors out)
  pdfplumber  extract_words() on every page (what a pdfplumber-based reader would start from)
Best of --repeat runs for floor and ours (interleaved); one run of pdfplumber, which is slow.
Goals: ours / floor <= 2.0, pdfplumber / ours >= 8.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.debtors.pdf

import pypdfium2 as pdfium  # noqa: E402

from arrears.debtors.pdf import extract_debtors  # noqa: E402
from tests.debtors.pdf.make_pdfs import Layout, build_report, sample_debtors  # noqa: E402

ROWS_PER_PAGE = 24
LAYOUTS = {
    "ruled": Layout(contacts="second_line", subtotals=True, rows_per_page=ROWS_PER_PAGE, font_size=6.5, leading=9),
    "text": Layout(ruled=False, contacts="second_line", subtotals=True, rows_per_page=ROWS_PER_PAGE, font_size=6.5,
                   leading=9, thousands=" ", negatives="parens"),
}


def floor(data: bytes) -> int:
    """Every character box of every page, through pypdfium2's public API."""
    pdf = pdfium.PdfDocument(data)
    chars = 0
    try:
        for page in pdf:
            textpage = page.get_textpage()
            count = textpage.count_chars()
            for i in range(count):
                textpage.get_charbox(i)
            chars += count
            textpage.close()
            page.close()
    finally:
        pdf.close()
    return chars


def ours(data: bytes) -> int:
    return len(extract_debtors(data).debtors)


def plumber(path: Path) -> int:
    import pdfplumber

    words = 0
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            words += len(page.extract_words())
            page.close()  # drop the page's cached objects, as a long-running reader would
    return words


def timed(fn, *args) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--layout", choices=sorted(LAYOUTS), default="ruled")
    ap.add_argument("--no-pdfplumber", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "age-analysis.pdf"
        gen_s, _ = timed(build_report, sample_debtors(args.pages * ROWS_PER_PAGE), LAYOUTS[args.layout], path)
        data = path.read_bytes()
        pages = len(pdfium.PdfDocument(data))
        print(f"report ({args.layout}): {pages} pages, {args.pages * ROWS_PER_PAGE} debtors, {len(data) / 1e6:.1f} MB "
              f"(generated in {gen_s:.1f} s)")
        print(f"python {platform.python_version()}, pypdfium2 {pdfium.version.PYPDFIUM_INFO}, "
              f"pdfium {pdfium.version.PDFIUM_INFO}")

        floor_s = ours_s = float("inf")
        chars = debtors = 0
        for _ in range(args.repeat):  # interleaved so that both see the same machine state
            s, chars = timed(floor, data)
            floor_s = min(floor_s, s)
            s, debtors = timed(ours, data)
            ours_s = min(ours_s, s)
        print(f"floor  (pypdfium2, every char box) : {floor_s:7.3f} s   {chars:,} chars")
        print(f"ours   (extract_debtors)           : {ours_s:7.3f} s   {debtors:,} debtors")
        print(f"ours / floor                       : {ours_s / floor_s:7.2f}   (goal <= 2.0; the floor is a "
              "per-character loop ours avoids)")
        if not args.no_pdfplumber:
            plumber_s, words = timed(plumber, path)
            print(f"pdfplumber (extract_words)         : {plumber_s:7.3f} s   {words:,} words")
            print(f"pdfplumber / ours                  : {plumber_s / ours_s:7.1f}   (goal >= 8)")


if __name__ == "__main__":
    main()
