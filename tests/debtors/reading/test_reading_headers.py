"""Header recognition: aliases, day-count buckets, title rows and the fatal header errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from arrears.debtors.reading import (
    MISSING_COLUMNS,
    NO_DATA_ROWS,
    AccountRow,
    AliasTable,
    ReadError,
    bucket_days,
    read_age_analysis,
)

D = Decimal


@pytest.mark.parametrize(
    ("header", "field"),
    [
        *[(h, "account") for h in ("Account", "Account Code", "Account Number", "Acc Code", "Acc No",
                                   "Account No", "Acc", "ACC. NO.", "acc#", "Debtor", "Debtor Code",
                                   "Customer Code", "Acct No")],
        *[(h, "name") for h in ("Name", "Customer Name", "Customer", "Client Name", "Company", "NAME ",
                                "Debtor Name", "customer_name")],
        *[(h, "contact") for h in ("Contact", "Contact Person", "Rep", "Account Manager")],
        *[(h, "telephone") for h in ("Telephone", "Phone", "Mobile", "Cell", "Contact Number", "Cell No",
                                     "Cell No.", "Tel", "Tel.", "Tél", "TELEPHONE NUMBER", "Cellphone",
                                     "Mobile No")],
        *[(h, "current") for h in ("Current", "Current Balance", "0-30", "0 Days", "0 - 30 Days", "1-30")],
        *[(h, "d30") for h in ("30 Days", "Days 30", "30", "30-60", "31-60 Days", "30-59 Days", "30D",
                               "1 Month")],
        *[(h, "d60") for h in ("60 Days", "60-90", "61-90 Days", "60-89 Days", "Days 60", "2 Months")],
        *[(h, "d90") for h in ("90 Days", "90-120", "91-120 Days", "90-119 Days", "90")],
        *[(h, "d120") for h in ("120 Days", "120+", "120+ Days", "Over 120", "120 Plus", "121+", "> 120 days",
                                "120")],
        *[(h, "total_balance") for h in ("Total Balance", "Total", "Balance", "Amount", "Outstanding",
                                         "Balance Due", "Total Due", "Outstanding Balance", "TOTAL-BALANCE")],
        *[(h, "d150") for h in ("150 Days", "150", "151-180", "Days 150", "5 Months")],
        ("180+", "d180"),
        ("210", "d210"),
        ("360+", "d360"),
        ("720 Days", "d720"),
    ],
)  # fmt: skip
def test_header_aliases(header: str, field: str) -> None:
    found = AliasTable().classify(header)
    assert found is not None, header
    assert found[0] == field


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Address",
        "Email",
        "Notes",
        "45 Days",
        "0-60",
        "750 Days",
        "2025",
        "Tel 2",
        "Credit Limit",
        "Terms",
    ],
)
def test_unknown_headers(header: str) -> None:
    assert AliasTable().classify(header) is None


@pytest.mark.parametrize(
    ("header", "days"),
    [("30 Days", 30), ("Days 30", 30), ("31-60", 30), ("0-30", 0), ("121+", 120), ("Over 150 days", 150),
     ("3 Months", 90), ("720", 720), ("750", None), ("45", None), ("0-60", None), ("Name", None)],
)  # fmt: skip
def test_bucket_days(header: str, days: int | None) -> None:
    assert bucket_days(header) == days


def test_explicit_alias_beats_a_bare_day_count() -> None:
    match = AliasTable().match_row(["Account", "Name", "Tel", "0-30", "Current", "Total"])
    assert match.columns["current"] == 4
    assert match.unmapped_headers == ["0-30"]


def test_best_alias_wins_when_two_columns_claim_a_field() -> None:
    match = AliasTable().match_row(["Account", "Name", "Tel", "Balance", "Total Balance", "Amount"])
    assert match.mapping["total_balance"] == "Total Balance"
    # ...and the leftmost when the aliases rank the same
    match = AliasTable().match_row(["Account", "Name", "Cell", "Cell", "Total"])
    assert match.columns["telephone"] == 2


def test_organisation_aliases(book) -> None:
    rows = [
        ["Kliëntnommer", "Naam", "Selnommer", "Huidig", "5 Maande", "Saldo"],
        ["K1", "Piet", "082 123 4567", 10, 5, 15],
    ]
    aliases = {
        "account": ["Kliëntnommer"],
        "name": ["Naam"],
        "telephone": "Selnommer",  # a single alias given bare
        "current": ["huidig"],
        "d150": ["5 maande"],
        "total_balance": ["SALDO"],
    }
    reader = read_age_analysis(book("xlsx", rows), extra_aliases=aliases)
    assert reader.header.mapping == {
        "account": "Kliëntnommer",
        "name": "Naam",
        "telephone": "Selnommer",
        "current": "Huidig",
        "d150": "5 Maande",
        "total_balance": "Saldo",
    }
    [row] = list(reader)
    assert isinstance(row, AccountRow)
    assert (row.account, row.telephone, row.d120, row.extra_buckets) == (
        "K1",
        "27821234567",
        D("5.00"),
        {150: D("5.00")},
    )


def test_organisation_alias_overrides_ours(book) -> None:
    # This organisation's "Balance" column is the current bucket; its total is "Due".
    rows = [["Account", "Name", "Cell", "Balance", "30 Days", "Due"], ["A1", "Ann", "0821234567", 7, 3, 10]]
    reader = read_age_analysis(
        book("csv", rows), extra_aliases={"current": ["Balance"], "total_balance": ["Due"]}
    )
    [row] = list(reader)
    assert isinstance(row, AccountRow)
    assert (row.current, row.d30, row.total_balance) == (D("7.00"), D("3.00"), D("10.00"))


def test_unknown_alias_field_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown column 'balance'"):
        AliasTable({"balance": ["Saldo"]})
    with pytest.raises(ValueError):
        AliasTable({"d45": ["45 Days"]})


def test_missing_columns_names_them_and_the_headers_found(book) -> None:
    rows: list[list[Any]] = [
        ["Debtors report"],
        [],
        ["Acc No", "Customer", "Email", "Current", "30 Days"],
        ["A1", "Ann", "ann@example.com", 1, 2],
    ]
    for kind in ("xlsx", "xls", "ods", "csv"):
        with pytest.raises(ReadError) as caught:
            read_age_analysis(book(kind, rows))
        error = caught.value
        assert error.code == MISSING_COLUMNS
        assert "missing required columns: Telephone, Total Balance" in error.message
        assert "'Acc No', 'Customer', 'Email', 'Current', '30 Days'" in error.message
        assert "row 3" in error.message
        assert error.details["missing"] == ["Telephone", "Total Balance"]
        assert error.details["found_headers"] == ["Acc No", "Customer", "Email", "Current", "30 Days"]
        assert str(error) == error.message


def test_missing_columns_without_any_header_like_row(book) -> None:
    rows = [["Minutes of the meeting"], ["Present", "Absent"], ["Ann", "Ben"]]
    with pytest.raises(ReadError) as caught:
        read_age_analysis(book("xlsx", rows))
    assert caught.value.code == MISSING_COLUMNS
    assert "Account, Name, Telephone, Total Balance" in caught.value.message
    assert "'Minutes of the meeting'" in caught.value.message


@pytest.mark.parametrize(
    "rows",
    [
        [["Account", "Name", "Telephone", "Total Balance"]],
        [["Account", "Name", "Telephone", "Total Balance"], [], [None, None, None, None]],
        [["Account", "Name", "Telephone", "Total Balance"], ["Grand Total", "", "", 0]],
    ],
    ids=["header only", "header and blank rows", "header and a total row"],
)
def test_header_without_data_rows(book, rows: list[list[Any]]) -> None:
    for kind in ("xlsx", "xls", "ods", "csv"):
        with pytest.raises(ReadError) as caught:
            read_age_analysis(book(kind, rows))
        assert caught.value.code == NO_DATA_ROWS
        assert "no account rows" in caught.value.message
        assert caught.value.details == {"sheet": caught.value.details["sheet"], "row": 1}


def test_file_without_rows(book, tmp_path) -> None:
    empty_sheet = book("xlsx", [])
    blank_csv = tmp_path / "blank.csv"
    blank_csv.write_text("\r\n \r\n,,,\r\n")
    for path in (empty_sheet, blank_csv):
        with pytest.raises(ReadError) as caught:
            read_age_analysis(path)
        assert caught.value.code == NO_DATA_ROWS
