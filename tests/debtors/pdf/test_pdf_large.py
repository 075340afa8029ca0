"""A 300-page report: every debtor is read, in about the time PDFium needs to read the characters."""

from __future__ import annotations

import time

import pypdfium2 as pdfium

from arrears.debtors.pdf import extract_debtors
from tests.debtors.pdf.make_pdfs import Layout, build_report, sample_debtors

LAYOUT = Layout(contacts="second_line", subtotals=True, rows_per_page=24, font_size=6.5, leading=9)


def _read_every_char_box(data: bytes) -> None:
    pdf = pdfium.PdfDocument(data)
    for page in pdf:
        textpage = page.get_textpage()
        for i in range(textpage.count_chars()):
            textpage.get_charbox(i)
    pdf.close()


def test_three_hundred_pages() -> None:
    source = sample_debtors(7200)
    data = build_report(source, LAYOUT)

    # CPU time, not wall time: both run in this process, and a loaded machine's waits are not ours.
    start = time.process_time()
    result = extract_debtors(data)
    ours = time.process_time() - start
    start = time.process_time()
    _read_every_char_box(data)
    floor = time.process_time() - start

    assert result.pages == 300
    assert len(result.debtors) == 7200 and result.issues == []
    assert result.debtors[-1].acc_no == source[-1].acc_no and result.debtors[-1].page == 300
    assert sum(d.balance for d in result.debtors) == sum(d.balance for d in source)
    # Loose on purpose: the benchmark holds the real figures.
    assert ours < 20
    assert ours < 3 * floor + 0.5, (ours, floor)
