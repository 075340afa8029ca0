"""The pharmacy downloads read back as a user would: the CSV with the csv module, the PDF's text
with pypdfium2 (PDFium, the engine Chrome uses to show PDFs)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pypdfium2 as pdfium
import pytest

from arrears.pharmacy import exports
from arrears.pharmacy.exports import debtors_csv, debtors_pdf

SPEC_COLUMNS = [
    "Account No",
    "Name",
    "Current",
    "30 Days",
    "60 Days",
    "90 Days",
    "120 Days",
    "150 Days",
    "180 Days",
    "Balance",
    "Email",
    "Phone",
]
BUCKETS = ["current", "d30", "d60", "d90", "d120", "d150", "d180"]


def debtor(n: int, **over: Any) -> dict[str, Any]:
    amounts = {b: Decimal(n % 97 * (i + 1)) + Decimal("0.25") * i for i, b in enumerate(BUCKETS)}
    row: dict[str, Any] = {
        "id": n,
        "pharmacy_id": 1,
        "acc_no": f"AC{n:05d}",
        "name": f"Debtor {n}",
        **amounts,
        "balance": sum(amounts.values(), Decimal(0)),
        "email": f"d{n}@example.com",
        "phone": "0821234567",
        "is_medical_aid_control": False,
    }
    row.update(over)
    return row


def read_csv(chunks: Iterator[bytes]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8"), newline="")))


# ------------------------------------------------------------------------------------------ CSV


def test_csv_has_the_spec_columns_and_plain_two_decimal_amounts() -> None:
    rows = [
        debtor(
            1,
            acc_no="123456",
            name="John Doe",
            current=Decimal("100.50"),
            d30=Decimal("200"),
            d60=Decimal("150.00"),
            d90=Decimal("75.00"),
            d120=Decimal("50.00"),
            d150=Decimal("25.00"),
            d180=Decimal("10.00"),
            balance=Decimal("610.50"),
            email="john@example.com",
            phone="0821234567",
        ),
        debtor(
            2, current=Decimal("-45.00"), d30=Decimal("1234567.89"), d60=Decimal("0"), email=None, phone=None
        ),
    ]
    table = read_csv(debtors_csv(rows, ["d60", "d90"]))
    assert table[0] == SPEC_COLUMNS
    assert table[1] == [
        "123456",
        "John Doe",
        "100.50",
        "200.00",
        "150.00",
        "75.00",
        "50.00",
        "25.00",
        "10.00",
        "610.50",
        "john@example.com",
        "0821234567",
    ]
    # A negative amount stays a number (no quote prefix), no thousands separator, no rounding.
    assert table[2][2:5] == ["-45.00", "1234567.89", "0.00"]
    assert table[2][10:] == ["", ""]
    assert len(table) == 3


def test_csv_amounts_from_floats_and_ints_keep_their_value() -> None:
    table = read_csv(debtors_csv([debtor(1, current=100.1, d30=5, d60="7.5")], []))
    assert table[1][2:5] == ["100.10", "5.00", "7.50"]


def test_csv_refuses_to_round_an_amount_finer_than_a_cent() -> None:
    with pytest.raises(ValueError, match="more than two decimals"):
        b"".join(debtors_csv([debtor(1, d60=Decimal("1.005"))], []))


@pytest.mark.parametrize("field", ["acc_no", "name", "email", "phone"])
@pytest.mark.parametrize(
    "start",
    ["=", "+", "-", "@", "\t", "\r"],
    ids=["equals", "plus", "minus", "at", "tab", "cr"],
)
def test_csv_neutralises_formula_starts_in_text_cells(field: str, start: str) -> None:
    value = f'{start}HYPERLINK("http://evil.example","x")'
    table = read_csv(debtors_csv([debtor(1, **{field: value})], []))
    column = {"acc_no": 0, "name": 1, "email": 10, "phone": 11}[field]
    assert table[1][column] == "'" + value
    # Only that cell changed.
    clean = read_csv(debtors_csv([debtor(1)], []))[1]
    assert [c for i, c in enumerate(table[1]) if i != column] == [
        c for i, c in enumerate(clean) if i != column
    ]


@pytest.mark.parametrize(
    ("phone", "written"),
    [
        ("+27821234567", "+27821234567"),
        ("+1", "+1"),
        ("+27 82 123 4567", "'+27 82 123 4567"),
        ("+27-82-123", "'+27-82-123"),
        ("+", "'+"),
        ("+2782=1+1", "'+2782=1+1"),
        ("-0821234567", "'-0821234567"),
        ("082 123 4567", "082 123 4567"),
    ],
    ids=["e164", "short", "spaced", "dashed", "bare-plus", "formula", "minus", "local"],
)
def test_csv_keeps_a_plain_international_phone_number(phone: str, written: str) -> None:
    assert read_csv(debtors_csv([debtor(1, phone=phone)], []))[1][11] == written


def test_csv_plus_in_a_name_is_neutralised_even_when_it_looks_like_a_number() -> None:
    # The phone exemption is for the phone column only.
    assert read_csv(debtors_csv([debtor(1, name="+27821234567")], []))[1][1] == "'+27821234567"


def test_csv_quotes_commas_quotes_and_newlines_and_keeps_unicode() -> None:
    name = 'Dlamini, "Zoë" Nomsa\nsecond line 王'
    table = read_csv(debtors_csv([debtor(1, name=name)], []))
    assert table[1][1] == name


def test_csv_streams_in_chunks_without_reading_every_row_first() -> None:
    consumed = 0

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal consumed
        for n in range(exports.CSV_CHUNK_ROWS * 2 + 7):
            consumed += 1
            yield debtor(n)

    stream = debtors_csv(rows(), BUCKETS)
    first = next(stream)
    assert consumed == exports.CSV_CHUNK_ROWS
    assert first.startswith(b"Account No,Name,Current,")
    rest = list(stream)
    assert len(rest) == 2
    table = read_csv(iter([first, *rest]))
    assert len(table) == 1 + exports.CSV_CHUNK_ROWS * 2 + 7
    assert [r[0] for r in table[1:]] == [f"AC{n:05d}" for n in range(len(table) - 1)]


def test_csv_of_no_rows_is_the_header_alone() -> None:
    assert read_csv(debtors_csv([], [])) == [SPEC_COLUMNS]


@pytest.mark.parametrize("bad", [["d45"], ["d60", "D90"], ["60"]], ids=["d45", "upper", "bare"])
def test_unknown_bucket_names_are_refused(bad: list[str]) -> None:
    with pytest.raises(ValueError, match="unknown ageing bucket"):
        next(debtors_csv([debtor(1)], bad))
    with pytest.raises(ValueError, match="unknown ageing bucket"):
        debtors_pdf([debtor(1)], pharmacy_name="P", generated_at=datetime.now(UTC), buckets=bad, totals={})


# ------------------------------------------------------------------------------------------ PDF


def pdf_pages(data: bytes) -> list[str]:
    doc = pdfium.PdfDocument(data)
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def lines_of(pages: list[str]) -> list[str]:
    return [line.strip() for page in pages for line in page.splitlines()]


GENERATED = datetime(2026, 12, 2, 5, 40, tzinfo=timezone(timedelta(hours=2)))  # 03:40 UTC


def test_pdf_has_title_pharmacy_date_buckets_totals_and_page_number() -> None:
    rows = [
        debtor(1, acc_no="123456", name="John Doe", d60=Decimal("150.00"), d90=Decimal("75.00")),
        debtor(2, acc_no="AB-2", name="Jane (Pty) Ltd", d60=Decimal("1000.10"), d90=Decimal("-5.00")),
    ]
    totals = {
        "total_accounts": 2,
        "total_outstanding": Decimal("125000.50"),
        "current": Decimal("50000.00"),
        "d30": Decimal("30000.00"),
        "d60": Decimal("25000.00"),
        "d90": Decimal("15000.00"),
        "d120": Decimal("5000.00"),
        "d150": Decimal("0.00"),
        "d180": Decimal("0.00"),
    }
    data = debtors_pdf(
        rows,
        pharmacy_name="Main Street Pharmacy",
        generated_at=GENERATED,
        buckets=["d90", "d60"],
        totals=totals,
    )
    assert data.startswith(b"%PDF-")
    pages = pdf_pages(data)
    assert len(pages) == 1
    text = pages[0]
    assert "Debtors Age Analysis" in text
    assert "Main Street Pharmacy" in text
    assert "Generated 2026-12-02 03:40 UTC" in text
    assert "Buckets: 60 Days, 90 Days" in text  # the book's order, whatever order was asked
    assert "Accounts: 2" in text
    assert "Total outstanding: 125,000.50" in text
    assert "Selected buckets total: 40,000.00" in text
    assert "60 Days: 25,000.00" in text and "120 Days: 5,000.00" in text
    assert "Page 1 of 1" in text

    lines = lines_of(pages)
    header = next(line for line in lines if line.startswith("Account No"))
    assert header.split(" ", 2)[2].startswith("Name 60 Days 90 Days Selected Balance Phone Email")
    assert "30 Days" not in header and "120 Days" not in header

    jane = next(line for line in lines if line.startswith("AB-2 "))
    balance = rows[1]["balance"]
    assert jane == f"AB-2 Jane (Pty) Ltd 1,000.10 -5.00 995.10 {balance:,.2f} 0821234567 d2@example.com"
    total_line = next(line for line in lines if line.startswith("Totals"))
    assert total_line == "Totals 2 accounts 25,000.00 15,000.00 40,000.00 125,000.50"


def test_pdf_totals_missing_from_the_mapping_are_summed_from_the_rows() -> None:
    rows = [debtor(n) for n in range(1, 4)]
    data = debtors_pdf(rows, pharmacy_name="P", generated_at=GENERATED, buckets=BUCKETS, totals={})
    text = pdf_pages(data)[0]
    outstanding = sum((r["balance"] for r in rows), Decimal(0))
    d180 = sum((r["d180"] for r in rows), Decimal(0))
    assert "Accounts: 3" in text
    assert f"Total outstanding: {outstanding:,.2f}" in text
    assert f"180 Days: {d180:,.2f}" in text
    # All seven selected: no "Selected" column (it would repeat the balance).
    header = next(line for line in lines_of([text]) if line.startswith("Account No"))
    assert "Selected" not in header
    assert "Current 30 Days 60 Days 90 Days 120 Days 150 Days 180 Days Balance" in header


def test_pdf_with_no_buckets_shows_all_seven() -> None:
    data = debtors_pdf([debtor(1)], pharmacy_name="P", generated_at=GENERATED, buckets=[], totals={})
    assert "Buckets: Current, 30 Days, 60 Days, 90 Days, 120 Days, 150 Days, 180 Days" in pdf_pages(data)[0]


def test_pdf_naive_time_is_taken_as_utc() -> None:
    data = debtors_pdf(
        [], pharmacy_name="P", generated_at=datetime(2026, 1, 2, 3, 4), buckets=["d60"], totals={}
    )
    text = pdf_pages(data)[0]
    assert "Generated 2026-01-02 03:04 UTC" in text
    assert "Accounts: 0" in text
    assert "Totals 0 accounts 0.00 0.00" in text
    assert "Page 1 of 1" in text


def test_pdf_long_or_odd_text_is_cut_to_its_column_not_lost() -> None:
    long_name = "Nomvula Thandiwe Mkhize-Van der Merwe (Estate Late) Trust Account Number Two"
    rows = [debtor(1, name=long_name, email=None, phone=None), debtor(2, name="Zoë \\ ) ( 王")]
    data = debtors_pdf(rows, pharmacy_name="P", generated_at=GENERATED, buckets=["d60"], totals={})
    lines = lines_of(pdf_pages(data))
    first = next(line for line in lines if line.startswith("AC00001 "))
    cut = first.split(" ", 1)[1].split("\u2026")[0]
    assert "\u2026" in first and long_name.startswith(cut) and len(cut) > 20
    second = next(line for line in lines if line.startswith("AC00002 "))
    assert second.startswith("AC00002 Zoë \\ ) ( ?")  # no glyph in the standard fonts


def test_pdf_of_a_large_book_spans_pages_with_every_debtor_once() -> None:
    rows = [debtor(n) for n in range(2000)]
    data = debtors_pdf(
        rows, pharmacy_name="Big Pharmacy", generated_at=GENERATED, buckets=["d120"], totals={}
    )
    pages = pdf_pages(data)
    assert len(pages) > 30
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert "Debtors Age Analysis" in text and "Big Pharmacy" in text
        assert "Account No Name 120 Days Balance Phone Email" in text  # header on every page
    assert ("Accounts: 2000" in pages[0]) and all("Accounts:" not in p for p in pages[1:])
    accounts = [m for p in pages for m in re.findall(r"^(AC\d{5}) ", p, flags=re.M)]
    assert accounts == [f"AC{n:05d}" for n in range(2000)]
    assert "Totals 2000 accounts" in pages[-1]
    assert all("Totals" not in p for p in pages[:-1])
