"""POST …/download-csv and …/download-pdf: the rows chosen by the request (ids, min_balance,
buckets, medical aid), streamed with the spec's filenames, read back and checked."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pypdfium2 as pdfium
import pytest

from tests.debtors.pdf.make_pdfs import Debtor, build_report

D = Decimal
ROWS = [
    Debtor("A1", "Ann Smith", {"current": D("10.00"), "d60": D("1234.50")}, email="ann@example.com",
           phone="+27821234567"),
    Debtor("A2", "=HYPERLINK(evil)", {"d90": D("50.00"), "d180": D("25.00")}, phone="083 555 0000"),
    Debtor("A3", "Cai Wong", {"d30": D("300.00")}, email="cai@example.com"),
    Debtor("M1", "Discovery Health", {"d60": D("999.00")}),
]
HEADER = ["Account No", "Name", "Current", "30 Days", "60 Days", "90 Days", "120 Days", "150 Days", "180 Days",
          "Balance", "Email", "Phone"]


@pytest.fixture
async def ids(pharmacy) -> dict[str, int]:
    body = await pharmacy.uploaded(build_report(ROWS))
    return {d["acc_no"]: d["id"] for d in body["debtors"]}


def _csv(r) -> list[list[str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(r.content.decode("utf-8"))))


async def test_csv_has_the_specs_columns_and_two_decimal_amounts(pharmacy, ids) -> None:
    r = await pharmacy.post("/download-csv", None, headers=pharmacy.reader)
    assert r.headers["content-disposition"] == f"attachment; filename=debtors_{pharmacy.org.id}.csv"
    rows = _csv(r)
    assert rows[0] == HEADER
    assert rows[1] == ["A1", "Ann Smith", "10.00", "0.00", "1234.50", "0.00", "0.00", "0.00", "0.00", "1244.50",
                       "ann@example.com", "+27821234567"]
    # A name that starts a formula is neutralised; the amounts are untouched.
    assert rows[2][:2] == ["A2", "'=HYPERLINK(evil)"] and rows[2][5] == "50.00" and rows[2][8] == "25.00"
    assert rows[2][11] == "083 555 0000"
    assert [row[0] for row in rows[1:]] == ["A1", "A2", "A3"]  # medical aid left out by default


async def test_csv_filters(pharmacy, ids) -> None:
    rows = _csv(await pharmacy.post("/download-csv", {"debtor_ids": [ids["A3"], ids["A1"], 424242]}))
    assert [row[0] for row in rows[1:]] == ["A1", "A3"]
    rows = _csv(await pharmacy.post("/download-csv", {"min_balance": 75}))  # 60+ day arrears
    assert [row[0] for row in rows[1:]] == ["A1", "A2"]
    rows = _csv(await pharmacy.post("/download-csv", {"min_balance": "1000.5", "exclude_medical_aid": False}))
    assert [row[0] for row in rows[1:]] == ["A1"]
    rows = _csv(await pharmacy.post("/download-csv", {"exclude_medical_aid": False}))
    assert [row[0] for row in rows[1:]] == ["A1", "A2", "A3", "M1"]
    rows = _csv(await pharmacy.post("/download-csv", {"debtor_ids": []}))
    assert rows == [HEADER]


@pytest.mark.parametrize(("body", "words"), [
    ({"min_balance": "lots"}, "min_balance: must be a number"),
    ({"min_balance": -5}, "min_balance"),
    ({"debtor_ids": "1"}, "debtor_ids"),
    ({"ageing_buckets": ["d60", "d400"]}, "unknown bucket 'd400'"),
    ({"exclude_medical_aid": "perhaps"}, "exclude_medical_aid"),
], ids=["amount", "negative", "ids", "bucket", "medical"])
async def test_bad_download_requests_are_400(pharmacy, ids, body, words) -> None:
    for path in ("/download-csv", "/download-pdf"):
        r = await pharmacy.post(path, body)
        assert r.status_code == 400 and words in r.json()["detail"]


def _pdf_text(data: bytes) -> tuple[int, str]:
    pdf = pdfium.PdfDocument(data)
    try:
        return len(pdf), "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


async def test_pdf_report(pharmacy, ids) -> None:
    r = await pharmacy.post("/download-pdf", {"ageing_buckets": ["d60", "d90"]}, headers=pharmacy.reader)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f"attachment; filename=debtors_{pharmacy.org.id}.pdf"
    pages, text = _pdf_text(r.content)
    assert pages == 1 and "Sunrise Pharmacy" in text and "Page 1 of 1" in text
    # Money in d60 or d90: A1 and A2, not A3 (30 days) nor the medical aid.
    assert "Ann Smith" in text and "A2" in text and "Cai Wong" not in text and "Discovery" not in text
    assert "1,234.50" in text or "1234.50" in text


async def test_a_big_pdf_has_numbered_pages(pharmacy) -> None:
    from tests.debtors.pdf.make_pdfs import sample_debtors

    await pharmacy.uploaded(build_report(sample_debtors(150, medical_every=0)))
    r = await pharmacy.post("/download-pdf", {})
    pages, text = _pdf_text(r.content)
    assert pages > 1 and f"Page {pages} of {pages}" in text


async def test_chosen_ids_are_downloaded_settled_and_medical_aid_included(pharmacy, ids) -> None:
    """Issue 20 §7: explicit debtor_ids give those debtors (amount filters still apply); the
    medical-aid exclusion is for choosing by filters, and a settled debtor chosen is still shown."""
    # A newer whole-book report without A3 settles it.
    await pharmacy.uploaded(build_report([r for r in ROWS if r.acc_no != "A3"]))
    chosen = [ids["A3"], ids["M1"], ids["A1"]]
    rows = _csv(await pharmacy.post("/download-csv", {"debtor_ids": chosen}))
    assert [row[0] for row in rows[1:]] == ["A1", "A3", "M1"]
    rows = _csv(await pharmacy.post("/download-csv", {"debtor_ids": chosen, "exclude_medical_aid": True}))
    assert [row[0] for row in rows[1:]] == ["A1", "A3", "M1"]
    rows = _csv(await pharmacy.post("/download-csv", {"debtor_ids": chosen, "min_balance": 75}))
    assert [row[0] for row in rows[1:]] == ["A1", "M1"]  # 60+ day arrears: A3 has only 30 days
    rows = _csv(await pharmacy.post("/download-csv", {"debtor_ids": chosen, "ageing_buckets": ["d30"]}))
    assert [row[0] for row in rows[1:]] == []  # settled by a whole-book report, A3 owes nothing any more (issue 21)
    rows = _csv(await pharmacy.post("/download-csv", {"debtor_ids": [ids["A3"]]}))
    assert rows[1][0] == "A3" and all(Decimal(v) == 0 for v in rows[1][2:10])  # the buckets and the balance
    # Chosen by filters, the settled and the medical-aid accounts stay out.
    rows = _csv(await pharmacy.post("/download-csv", {}))
    assert [row[0] for row in rows[1:]] == ["A1", "A2"]
    r = await pharmacy.post("/download-pdf", {"debtor_ids": chosen})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert ["A1", "A3", "M1"] == [c for c in ("A1", "A2", "A3", "M1") if c in _pdf_text(r.content)[1]]
