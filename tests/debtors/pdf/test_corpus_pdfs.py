"""Issue 21: every PDF layout of the corpus reads exactly: each debtor's code, name, buckets,
balance, phones and e-mail, the lines skipped per reason, the printed total and the title block,
and nothing else (no row issues: these reports are clean)."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.debtors.pdf import extract_debtors
from tests.corpus.model import Layout
from tests.corpus.pdfs import BUCKETS, LAYOUTS, PLANS


@pytest.mark.parametrize("layout", LAYOUTS, ids=[layout.name for layout in LAYOUTS])
def test_layout_reads_exactly(layout: Layout, tmp_path: Path) -> None:
    path = layout.build(tmp_path)
    result = extract_debtors(path)

    assert [i.message for i in result.issues] == []
    assert [d.acc_no for d in result.debtors] == [e.code for e in layout.accounts]
    for debtor, expected in zip(result.debtors, layout.accounts, strict=True):
        got = {"name": debtor.name, "balance": debtor.balance, "phone": debtor.phone_normalised,
               "phone2": debtor.phone2, "email": debtor.email,
               **{b: getattr(debtor, b) for b in BUCKETS}}
        want = {"name": expected.name, "balance": expected.total, "phone": expected.phone,
                "phone2": expected.phone2, "email": expected.email,
                **{b: expected.bucket(b) for b in BUCKETS}}
        assert got == want, expected.code
    assert {k: v for k, v in result.skipped.items() if v} == layout.skipped
    assert result.printed_total == layout.printed_total
    for text in layout.warnings:
        assert any(text in w for w in result.warnings), (text, result.warnings)
    if layout.printed_total is None:
        assert result.warnings == []
    assert result.title_lines == PLANS[layout.name].title_lines()


def test_corpus_covers_the_issue() -> None:
    """At least 12 layouts, every skip reason a PDF can print, and each layout names its export."""
    assert len(LAYOUTS) >= 12
    reasons = {reason for layout in LAYOUTS for reason in layout.skipped}
    assert reasons == {"title", "heading", "total", "repeated_header", "footer", "summary"}
    assert all(layout.imitates and layout.report_date for layout in LAYOUTS)
    assert len({layout.name for layout in LAYOUTS}) == len(LAYOUTS)
