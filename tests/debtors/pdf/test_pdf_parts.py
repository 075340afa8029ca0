"""The pieces of the PDF reader on their own: amounts, header labels, contact lines, medical aids."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.debtors.pdf.amounts import joins, parse_amount
from arrears.debtors.pdf.contacts import find_email, find_phone, phone_normalised
from arrears.debtors.pdf.header import parse_header
from arrears.debtors.pdf.medical import MedicalAidMatcher
from arrears.debtors.pdf.reader import Line, Word
from tests.debtors.pdf.make_pdfs import Layout, fmt_amount

D = Decimal


@pytest.mark.parametrize(("text", "value"), [
    ("1,234.56", D("1234.56")), ("1 234,56", D("1234.56")), ("1.234,56", D("1234.56")),
    ("12 345 678.90", D("12345678.90")), ("0.00", D("0.00")), ("1234.50", D("1234.50")),
    ("-45.00", D("-45.00")), ("(45.00)", D("-45.00")), ("(1 234.00)", D("-1234.00")), ("45.00-", D("-45.00")),
    ("45.00 CR", D("-45.00")), ("45.00 DR", D("45.00")), ("R1 234.00", D("1234.00")), ("R 45.00", D("45.00")),
    ("-R45.00", D("-45.00")), ("-", D("0.00")), ("nil", D("0.00")),
])
def test_amounts(text: str, value: Decimal) -> None:
    assert parse_amount(text) == value


@pytest.mark.parametrize("text", ["AC10001", "2024", "082", "1,234", "1.234", "15/01/2025", "10:30", "v4.2",
                                  "(Pty)", "(45.00", "45.00)", "R", "Maria"])
def test_not_amounts(text: str) -> None:
    assert parse_amount(text) is None


def test_amount_pieces_that_join() -> None:
    assert joins("12", "345.67") and joins("1 234", "567.89") and joins("(12", "345.00)")
    assert joins("R", "45.00") and joins("45.00", "CR")
    assert not joins("0.00", "115") and not joins("1,404.79", "200.00") and not joins("Maria", "CR")


@given(st.decimals(min_value=D("-99999999.99"), max_value=D("99999999.99"), places=2),
       st.sampled_from([",", " "]), st.sampled_from(["minus", "parens"]))
def test_printed_amounts_read_back(value: Decimal, thousands: str, negatives: str) -> None:
    text = fmt_amount(value, Layout(thousands=thousands, negatives=negatives))
    # The PDF splits "12 345.67" into words at the spaces; the reader joins them again.
    pieces = text.split(" ")
    while len(pieces) > 1 and joins(pieces[0], pieces[1]):
        pieces[:2] = [f"{pieces[0]} {pieces[1]}"]
    assert pieces == [text]
    assert parse_amount(text) == value


def _line(*labels: str, gap: float = 30.0) -> Line:
    words, x = [], 30.0
    for label in labels:
        for i, part in enumerate(label.split(" ")):
            width = 5.0 * len(part)
            words.append(Word(part, x, x + width, 100.0, 108.0))
            x += width + (2.0 if i < len(label.split(" ")) - 1 else gap)
    return Line(words, 100.0, 108.0, 8.0)


@pytest.mark.parametrize(("labels", "kinds"), [
    (["Acc No", "Name", "Current", "30 Days", "60 Days", "90 Days", "120 Days", "150 Days", "180 Days", "Balance"],
     ["acc", "name", "current", "d30", "d60", "d90", "d120", "d150", "d180", "balance"]),
    (["Account", "Debtor Name", "Current", "30", "60", "90", "120+", "Total Due", "Tel No", "E-mail Address"],
     ["acc", "name", "current", "d30", "d60", "d90", "d120", "balance", "phone", "email"]),
    (["A/C", "Patient", "0-30", "31-60", "61-90", "91-120", "Over 120", "Outstanding"],
     ["acc", "name", "current", "d30", "d60", "d90", "d120", "balance"]),
    (["Code", "Customer", "Cur", "30 Days", "60 Days", "150+", "180 Days+", "Last Payment", "Balance"],
     ["acc", "name", "current", "d30", "d60", "d150", "d180", "other", "balance"]),
    (["Acc No", "Name", "Current", "30 Days", "180 Days", "210 Days", "Total", "Balance"],
     ["acc", "name", "current", "d30", "d180", "d180", "other", "balance"]),
])
def test_header_vocabularies(labels: list[str], kinds: list[str]) -> None:
    cols = parse_header(_line(*labels))
    assert cols is not None
    assert [c.kind for c in cols] == kinds
    assert [c.label for c in cols] == labels


@pytest.mark.parametrize("labels", [
    ["Debtors Age Analysis", "Current Balance Report"],  # a title
    ["Page Total", "1,234.00", "200.00"],
    ["Printed by: ADMIN", "Page 1 of 3"],
    ["Acc No", "Name", "Current", "Balance"],  # one ageing bucket is not an age analysis
])
def test_lines_that_are_not_headers(labels: list[str]) -> None:
    assert parse_header(_line(*labels)) is None


def test_contact_lines() -> None:
    line = "Email: maria.patel1@example.co.za   Cell: 082 481 2596"
    assert (find_email(line), find_phone(line)) == ("maria.patel1@example.co.za", "082 481 2596")
    assert find_phone("Tel: 011 555 1234   Cell: +27 82 123 4567") == "+27 82 123 4567"
    assert find_phone("Fax: 011 555 1234   Tel (011) 444-1234") == "(011) 444-1234"
    assert find_phone("ID: 8001015009087") is None  # an identity number, not a phone
    assert find_phone("082 123 4567") == "082 123 4567"
    assert find_email("no address here") is None


@pytest.mark.parametrize(("printed", "digits"), [
    ("082 123 4567", "27821234567"), ("+27 82 123 4567", "27821234567"), ("(011) 555-1234", "27115551234"),
    ("0821234567", "27821234567"), ("12345", None), ("", None), (None, None),
])
def test_phone_normalised(printed: str | None, digits: str | None) -> None:
    assert phone_normalised(printed) == digits


def test_medical_aid_names() -> None:
    match = MedicalAidMatcher(["Acme Care"])
    for name in ["DISCOVERY HEALTH", "Bonitas Medical Fund", "GEMS", "Med-Aid control", "MEDICAL AID: POLMED",
                 "Sizwe Hosmed", "Profmed", "Keyhealth", "CompCare Wellness", "acme  care", "Medical Scheme Control"]:
        assert match(name), name
    for name in ["Maria Patel", "John Gemsbok", "Medihelpers Pharmacy Staff", "Acme Carers"]:
        assert not match(name), name


@pytest.mark.parametrize("layout", [Layout(), Layout(ruled=False, contacts="second_line", thousands=" ")],
                         ids=["ruled", "text"])
def test_character_by_character_reading_agrees_with_the_fast_path(layout: Layout) -> None:
    """The fast path asks two boxes per word; the fallback splits one character at a time by gaps."""
    import pypdfium2 as pdfium

    from arrears.debtors.pdf.reader import _WordReader
    from tests.debtors.pdf.make_pdfs import build_report, sample_debtors

    pdf = pdfium.PdfDocument(build_report(sample_debtors(20), layout))
    textpage = pdf[0].get_textpage()
    reader = _WordReader()
    fast = reader.words(textpage.raw)
    text = reader.page_text(textpage.raw, textpage.count_chars())
    slow = reader._split(textpage.raw, text, 0, len(text))

    def key(w: Word) -> tuple[str, float, float]:
        return (w.text, round(w.x0, 2), round(w.x1, 2))

    assert len(fast) > 300
    assert [key(w) for w in slow] == [key(w) for w in fast]
