"""Golden extraction tests: PDFs drawn by make_pdfs in several layouts, read back to the exact rows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from arrears.debtors.pdf import (
    BUCKETS_DO_NOT_ADD_UP,
    DUPLICATE_ACCOUNT,
    NO_ACCOUNT_NUMBER,
    UNREADABLE_AMOUNT,
    PdfDebtor,
    PdfExtraction,
    extract_debtors,
)
from tests.debtors.pdf.make_pdfs import (
    BUCKETS,
    PLUS_150,
    PLUS_180,
    STANDARD,
    Debtor,
    Layout,
    build_report,
    sample_debtors,
    simple_table,
)

D = Decimal

# Four ways the same report is printed.
RULED = Layout(ruled=True, contacts="columns")  # (1) grid lines, contacts in their own columns
TEXT = Layout(ruled=False, contacts="columns", font_size=6.3)  # (2) Courier, whitespace-aligned
SECOND_LINE = Layout(ruled=True, contacts="second_line", header_align="left")  # (3) contacts under each debtor
MULTI_PAGE = Layout(ruled=True, contacts="second_line", rows_per_page=9, subtotals=True)  # (4) headers, footers, totals
LAYOUTS = {"ruled": RULED, "text": TEXT, "second_line": SECOND_LINE, "multi_page": MULTI_PAGE}

GOLDEN_ROWS = [
    Debtor("AC1001", "Maria Patel", {"current": D("1250.00"), "d30": D("-45.00"), "d60": D("12345.67")},
           email="maria.patel@example.co.za", phone="082 123 4567"),
    Debtor("AC1002", "DISCOVERY HEALTH", {"d90": D("1000000.00"), "d120": D("0.50")}),
    Debtor("AC1003", "Smith & Sons (Pty) Ltd", {"d150": D("0.01"), "d180": D("99.99")}, phone="+27 11 555 1234"),
    Debtor("AC1004", "Thandi Nkosi", {"current": D("10.00")}, email="thandi@example.co.za",
           printed_balance=D("15.00")),  # does not add up
    Debtor("1005", "Johan O'Brien", {"current": D("-300.00"), "d30": D("300.00")}, email="j.obrien@mail.co.za",
           phone="12345"),  # a number that is not a phone number
    Debtor("AC1006", "Bonitas Medical Fund", {"current": D("2000.00"), "d60": D("-2000.00")}),
]

GOLDEN_EXPECTED = [
    PdfDebtor(acc_no="AC1001", name="Maria Patel", current=D("1250.00"), d30=D("-45.00"), d60=D("12345.67"),
              balance=D("13550.67"), email="maria.patel@example.co.za", phone="082 123 4567",
              phone_normalised="27821234567", is_medical_aid_control=False, page=1),
    PdfDebtor(acc_no="AC1002", name="DISCOVERY HEALTH", d90=D("1000000.00"), d120=D("0.50"),
              balance=D("1000000.50"), is_medical_aid_control=True, page=1),
    PdfDebtor(acc_no="AC1003", name="Smith & Sons (Pty) Ltd", d150=D("0.01"), d180=D("99.99"), balance=D("100.00"),
              phone="+27 11 555 1234", phone_normalised="27115551234", page=1),
    PdfDebtor(acc_no="1005", name="Johan O'Brien", current=D("-300.00"), d30=D("300.00"), balance=D("0.00"),
              email="j.obrien@mail.co.za", phone="12345", phone_normalised=None, page=1),
    PdfDebtor(acc_no="AC1006", name="Bonitas Medical Fund", current=D("2000.00"), d60=D("-2000.00"),
              balance=D("0.00"), is_medical_aid_control=True, page=1),
]


def _expected_tuple(d: Debtor) -> tuple[object, ...]:
    return (d.acc_no, d.name, *(d.amount(b) for b in BUCKETS), d.balance, d.email, d.phone)


def _actual_tuple(d: PdfDebtor) -> tuple[object, ...]:
    return (d.acc_no, d.name, *(getattr(d, b) for b in BUCKETS), d.balance, d.email, d.phone)


def _assert_reads_back(source: list[Debtor], result: PdfExtraction, layout: Layout) -> None:
    if layout.zero_blank:  # a row of blanks prints nothing owed: it is not a debtor
        source = [d for d in source if d.balance or any(d.amounts.values())]
    assert [_actual_tuple(d) for d in result.debtors] == [_expected_tuple(d) for d in source]
    assert result.issues == []


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_golden_rows_in_every_layout(layout: Layout, tmp_path: Path) -> None:
    path = tmp_path / "golden.pdf"
    build_report(GOLDEN_ROWS, layout, path)

    result = extract_debtors(path)

    assert result.debtors == GOLDEN_EXPECTED
    assert result.pages == 1
    assert result.buckets == BUCKETS
    [issue] = result.issues
    assert issue.code == BUCKETS_DO_NOT_ADD_UP
    assert (issue.acc_no, issue.name, issue.page) == ("AC1004", "Thandi Nkosi", 1)
    assert "10.00" in issue.message and "15.00" in issue.message
    # The row is kept on the issue, for a caller that wants to import it anyway.
    assert issue.debtor is not None
    assert (issue.debtor.current, issue.debtor.balance, issue.debtor.email) == (
        D("10.00"), D("15.00"), "thandi@example.co.za")


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_sixty_sampled_debtors_read_back_exactly(layout: Layout, tmp_path: Path) -> None:
    source = sample_debtors(60)
    result = extract_debtors(build_report(source, layout, tmp_path / "r.pdf"))
    _assert_reads_back(source, result, layout)
    assert all(isinstance(getattr(d, b), Decimal) for d in result.debtors for b in (*BUCKETS, "balance"))


def test_multi_page_skips_repeated_headers_footers_and_totals(tmp_path: Path) -> None:
    source = sample_debtors(40)
    data = build_report(source, MULTI_PAGE, tmp_path / "r.pdf")

    result = extract_debtors(data)

    assert result.pages == 5  # 9 debtors a page
    _assert_reads_back(source, result, MULTI_PAGE)
    assert [d.page for d in result.debtors] == [1 + i // 9 for i in range(40)]
    assert not any("total" in d.name.lower() or "page" in d.name.lower() for d in result.debtors)


def test_header_printed_on_the_first_page_only(tmp_path: Path) -> None:
    layout = Layout(contacts="second_line", rows_per_page=12, header_every_page=False)
    source = sample_debtors(30)
    _assert_reads_back(source, extract_debtors(build_report(source, layout)), layout)


VARIANTS = {
    "space_thousands_parens": Layout(thousands=" ", negatives="parens"),
    "text_space_thousands_second_line": Layout(ruled=False, contacts="second_line", thousands=" ",
                                               negatives="parens"),
    "plus_180_left_headers": Layout(buckets=PLUS_180, header_align="left"),
    "plus_150_total_label_text": Layout(ruled=False, buckets=PLUS_150, balance_label="Total", font_size=6.5),
    "centred_headers_blank_zeros": Layout(header_align="center", zero_blank=True),
    "no_contacts": Layout(contacts="none", negatives="parens"),
}


@pytest.mark.parametrize("layout", VARIANTS.values(), ids=VARIANTS.keys())
def test_layout_variants(layout: Layout) -> None:
    fields = [f for _, f in layout.buckets]
    source = sample_debtors(45, buckets=fields)
    if layout.contacts == "none":
        source = [Debtor(d.acc_no, d.name, d.amounts) for d in source]
    result = extract_debtors(build_report(source, layout))
    _assert_reads_back(source, result, layout)
    assert result.buckets == tuple(fields)


def test_plus_columns_map_to_their_bucket_and_missing_buckets_are_zero() -> None:
    source = [Debtor("A1", "Old Debt", {"current": D("1.00"), "d150": D("2.00")})]
    result = extract_debtors(build_report(source, Layout(buckets=PLUS_150)))
    [d] = result.debtors
    assert (d.current, d.d150, d.d180, d.balance) == (D("1.00"), D("2.00"), D("0.00"), D("3.00"))

    source = [Debtor("A2", "Older Debt", {"d180": D("1234567.89")})]
    [d] = extract_debtors(build_report(source, Layout(buckets=PLUS_180, thousands=" "))).debtors
    assert (d.d180, d.balance) == (D("1234567.89"), D("1234567.89"))


def test_negatives_in_both_notations() -> None:
    source = [Debtor("C1", "Credit Client", {"current": D("-45.00"), "d30": D("-1234.50"), "d60": D("100.00")})]
    for notation in ("minus", "parens"):
        [d] = extract_debtors(build_report(source, Layout(negatives=notation, thousands=" "))).debtors
        assert (d.current, d.d30, d.d60, d.balance) == (D("-45.00"), D("-1234.50"), D("100.00"), D("-1179.50"))


def test_rows_that_do_not_add_up_are_issues_not_debtors() -> None:
    source = sample_debtors(12)
    wrong = source[4]
    source[4] = Debtor(wrong.acc_no, wrong.name, wrong.amounts, wrong.email, wrong.phone,
                       printed_balance=wrong.balance + D("0.50"))
    # Within one cent per bucket is rounding in the source system, not an error.
    near = source[6]
    source[6] = Debtor(near.acc_no, near.name, near.amounts, near.email, near.phone,
                       printed_balance=near.balance + D("0.07"))

    result = extract_debtors(build_report(source, SECOND_LINE))

    assert [i.acc_no for i in result.issues] == [wrong.acc_no]
    assert result.issues[0].code == BUCKETS_DO_NOT_ADD_UP
    assert wrong.acc_no not in {d.acc_no for d in result.debtors}
    assert len(result.debtors) == 11
    assert result.issues[0].debtor is not None and result.issues[0].debtor.email == wrong.email


def test_medical_aid_accounts_are_flagged_including_caller_names() -> None:
    source = [
        Debtor("M1", "GEMS", {"current": D("1.00")}),
        Debtor("M2", "Medshield Medical Scheme", {"current": D("1.00")}),
        Debtor("M3", "Med Aid Control - Private", {"current": D("1.00")}),
        Debtor("M4", "Acme Health Plan", {"current": D("1.00")}),
        Debtor("P1", "Gemma Naidoo", {"current": D("1.00")}),
        Debtor("P2", "Sizwe Hosmed", {"current": D("1.00")}),
    ]
    data = build_report(source, RULED)

    flags = {d.acc_no: d.is_medical_aid_control for d in extract_debtors(data).debtors}
    assert flags == {"M1": True, "M2": True, "M3": True, "M4": False, "P1": False, "P2": True}

    flags = {d.acc_no: d.is_medical_aid_control
             for d in extract_debtors(data, extra_medical_aid_names=["Acme Health"]).debtors}
    assert flags["M4"] is True


def test_contacts_on_the_following_line_prefer_the_cell_number() -> None:
    data = simple_table(
        ["Account", "Debtor Name", "Current", "30 Days", "60 Days", "90+ Days", "Total Due"],
        [
            ["X-77", "Lindiwe Zulu", "1 200,00", "", "", "", "1 200,00"],
            "Tel: 011 555 1234   Cell: 072 555 0101",
            ["X-78", "Pieter Botha", "", "R 50.00", "", "", "R 50.00"],
            "E-mail: pieter@botha.co.za",
            ["X-79", "Sam Moyo", "45.00 CR", "", "", "100.00", "55.00"],
            "Fax: 011 000 0000  Mobile: 0825550102",
            "Email: sam@moyo.africa",
        ],
    )

    result = extract_debtors(data)

    got = [(d.acc_no, d.name, d.current, d.d30, d.d90, d.balance, d.email, d.phone, d.phone_normalised)
           for d in result.debtors]
    assert got == [
        ("X-77", "Lindiwe Zulu", D("1200.00"), D("0.00"), D("0.00"), D("1200.00"), None, "072 555 0101",
         "27725550101"),
        ("X-78", "Pieter Botha", D("0.00"), D("50.00"), D("0.00"), D("50.00"), "pieter@botha.co.za", None, None),
        ("X-79", "Sam Moyo", D("-45.00"), D("0.00"), D("100.00"), D("55.00"), "sam@moyo.africa", "0825550102",
         "27825550102"),
    ]
    assert result.buckets == ("current", "d30", "d60", "d90")
    assert result.issues == []


def test_rows_without_account_with_bad_amounts_or_printed_twice_are_issues() -> None:
    data = simple_table(
        ["Acc No", "Name", "Current", "30 Days", "60 Days", "Balance"],
        [
            ["A1", "Good Row", "10.00", "", "", "10.00"],
            ["", "Cash Sales", "99.00", "", "", "99.00"],
            ["A2", "Smudged Row", "12.3.4", "5.00", "", "5.00"],
            ["A1", "Good Row Again", "10.00", "", "", "10.00"],
            ["", "Sub-Total", "119.00", "5.00", "", "124.00"],
            ["", "", "119.00", "5.00", "", "124.00"],
            ["A3", "Total Health Pharmacy", "1.00", "", "", "1.00"],
        ],
    )

    result = extract_debtors(data)

    assert [(d.acc_no, d.name) for d in result.debtors] == [("A1", "Good Row"), ("A3", "Total Health Pharmacy")]
    assert [(i.code, i.acc_no, i.name) for i in result.issues] == [
        (NO_ACCOUNT_NUMBER, "", "Cash Sales"),
        (UNREADABLE_AMOUNT, "A2", "Smudged Row"),
        (DUPLICATE_ACCOUNT, "A1", "Good Row Again"),
    ]
    assert "'12.3.4'" in result.issues[1].message
    assert "page 1" in result.issues[2].message


def test_unlabelled_column_right_of_the_balance_is_not_an_amount() -> None:
    data = simple_table(
        ["Acc No", "Name", "Current", "30 Days", "Balance"],
        [
            ["A1", "Notes Person", "10.00", "", "10.00", "", "", "", "ref 2024/11 lisa@notes.co.za"],
            ["A2", "Plain Person", "5.00", "1.00", "6.00", "", "", "", "*"],
        ],
    )
    result = extract_debtors(data)
    assert result.issues == []
    assert [(d.acc_no, d.name, d.balance, d.email) for d in result.debtors] == [
        ("A1", "Notes Person", D("10.00"), "lisa@notes.co.za"), ("A2", "Plain Person", D("6.00"), None)]


def test_two_line_header_and_no_account_column() -> None:
    data = simple_table(
        ["", "Debtor", "Current", "30", "60", "Balance"],
        [
            ["", "", "", "Days", "Days", ""],
            ["", "AC77 Nomsa Mahlangu", "1.00", "2.00", "3.00", "6.00"],
        ],
    )
    [d] = extract_debtors(data).debtors
    assert (d.acc_no, d.name, d.current, d.d30, d.d60, d.balance) == (
        "AC77", "Nomsa Mahlangu", D("1.00"), D("2.00"), D("3.00"), D("6.00"))


def test_concurrent_uploads_from_threads_read_the_same() -> None:
    # PDFium is not thread-safe; the reader serialises its calls so a thread pool can use it.
    from concurrent.futures import ThreadPoolExecutor

    reports = [build_report(sample_debtors(120, seed=s), LAYOUTS["second_line"]) for s in range(4)]
    expected = [extract_debtors(r).debtors for r in reports]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda r: extract_debtors(r).debtors, reports * 3))
    assert got == expected * 3


def test_standard_columns_constant_matches_model() -> None:
    assert tuple(f for _, f in STANDARD) == BUCKETS
