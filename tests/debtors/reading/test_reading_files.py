"""End to end: real files in every format -> AccountRow / RowError streams."""

from __future__ import annotations

import zipfile
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from arrears.debtors.reading import (
    MISSING_COLUMNS,
    AccountRow,
    FileFormat,
    ReadError,
    RowError,
    iter_rows,
    read_age_analysis,
)

D = Decimal


def _accounts(path: Path, **kwargs: Any) -> list[AccountRow]:
    results = list(read_age_analysis(path, **kwargs))
    assert all(isinstance(r, AccountRow) for r in results), results
    return [r for r in results if isinstance(r, AccountRow)]


def _assert_sample_debtors(rows: list[AccountRow], first_row: int = 5) -> None:
    """The three DEBTORS of conftest, whatever format they travelled in."""
    assert [r.account for r in rows] == ["1001", "0042", "ACC-7"]
    assert [r.sheet_row for r in rows] == [first_row, first_row + 1, first_row + 2]
    zoe, bongani, elan = rows
    assert zoe.name == "Zoë Müller"
    assert zoe.contact == "Zoë"
    assert (zoe.telephone_raw, zoe.telephone, zoe.phone_valid) == ("082 123 4567", "27821234567", True)
    assert (zoe.current, zoe.d30, zoe.d60, zoe.d90, zoe.d120) == (D("100.50"), D("50.00"), 0, 0, 0)
    assert zoe.total_balance == D("150.50")
    assert zoe.extra_buckets == {}
    assert bongani.contact is None
    assert (bongani.telephone, bongani.phone_valid) == ("27837654321", True)
    assert (bongani.d90, bongani.d120, bongani.total_balance) == (D("20.00"), D("1234.56"), D("1254.56"))
    assert elan.name == "Élan Café CC"
    assert (elan.telephone, elan.phone_valid) == ("27117654321", True)
    for row in rows:  # money is Decimal with cents, never float
        for amount in (row.current, row.d30, row.d60, row.d90, row.d120, row.total_balance):
            assert type(amount) is Decimal and amount.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("kind", "expected_format"),
    [("xlsx", FileFormat.XLSX), ("xls", FileFormat.XLS), ("ods", FileFormat.ODS)],
)
def test_workbook_formats_read_the_same_rows(book, age_analysis_rows, kind, expected_format) -> None:
    path = book(kind, age_analysis_rows)
    reader = read_age_analysis(path)
    assert reader.header.file_format is expected_format
    assert reader.header.sheet_name == "Debtors"
    assert reader.header.header_row == 4  # below two title lines and a blank line
    assert reader.header.mapping == {
        "account": "Acc No",
        "name": "Customer Name",
        "contact": "Contact Person",
        "telephone": "Cell No",
        "current": "Current",
        "d30": "30 Days",
        "d60": "60 Days",
        "d90": "90 Days",
        "d120": "120 Days",
        "total_balance": "Total Balance",
    }
    assert reader.header.last_row == 7
    assert reader.header.rows_estimate == 3
    rows = list(reader)
    assert all(isinstance(r, AccountRow) for r in rows)
    _assert_sample_debtors(rows)  # type: ignore[arg-type]


def test_xlsm_is_read_like_xlsx(book, age_analysis_rows, tmp_path) -> None:
    source = book("xlsx", age_analysis_rows)
    target = tmp_path / "macro.xlsm"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "[Content_Types].xml":
                xlsx_type = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
                assert xlsx_type in data
                data = data.replace(xlsx_type, b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
            dst.writestr(item, data)
    reader = read_age_analysis(target)
    assert reader.header.file_format is FileFormat.XLSM
    _assert_sample_debtors(list(reader))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("encoding", "delimiter", "expected_encoding"),
    [
        ("utf-8", ",", "utf-8"),
        ("utf-8-sig", ",", "utf-8-sig"),
        ("cp1252", ",", "cp1252"),
        ("utf-8", "\t", "utf-8"),
        ("cp1252", ";", "cp1252"),
        ("utf-8", "|", "utf-8"),
        ("utf-16", "\t", "utf-16"),  # Excel's "Unicode text"
    ],
)
def test_delimited_text_in_every_encoding_and_delimiter(
    book, age_analysis_rows, encoding, delimiter, expected_encoding
) -> None:
    path = book("csv", age_analysis_rows, encoding=encoding, delimiter=delimiter)
    reader = read_age_analysis(path)
    assert reader.header.file_format is FileFormat.CSV
    assert (reader.header.encoding, reader.header.delimiter) == (expected_encoding, delimiter)
    assert reader.header.header_row == 4
    assert reader.header.last_row is None
    _assert_sample_debtors(list(reader))  # type: ignore[arg-type]


def test_semicolon_csv_with_decimal_commas_and_space_thousands(book) -> None:
    rows = [
        ["Account", "Name", "Telephone", "Current", "30 Days", "Total Balance"],
        ["A1", "Müller", "0821234567", "1 234,50", "0,50", "1 235,00"],
        ["A2", "Smit", "0831234567", "12,5", "-", "12,50"],
    ]
    reader = read_age_analysis(book("csv", rows, encoding="cp1252", delimiter=";"))
    assert reader.header.delimiter == ";"
    first, second = _accounts(reader.path)
    assert (first.current, first.d30, first.total_balance) == (D("1234.50"), D("0.50"), D("1235.00"))
    assert (second.current, second.d30, second.total_balance) == (D("12.50"), D("0.00"), D("12.50"))


def test_format_is_judged_by_content_not_name(book, age_analysis_rows, tmp_path) -> None:
    xls_named_xlsx = book("xls", age_analysis_rows, name="really-an-xls.xlsx")
    csv_named_xls = book("csv", age_analysis_rows, name="export.xls")
    assert read_age_analysis(xls_named_xlsx).header.file_format is FileFormat.XLS
    assert read_age_analysis(csv_named_xls).header.file_format is FileFormat.CSV
    _assert_sample_debtors(list(read_age_analysis(csv_named_xls)))  # type: ignore[arg-type]


def test_the_first_sheet_with_a_header_is_used(book) -> None:
    sheets = {
        "Notes": [["Prepared by Accounts"], ["Account", "Remarks"], ["x", "y"]],
        "Summary": [["Total debtors", 3], ["Total due", 999]],
        "Ageing": [["Account", "Name", "Tel", "Balance"], ["A1", "Ann", "0821234567", "5"]],
        "Old": [["Account", "Name", "Tel", "Balance"], ["B1", "Bob", "0821234567", "7"]],
    }
    for kind in ("xlsx", "xls", "ods"):
        reader = read_age_analysis(book(kind, sheets))
        assert reader.header.sheet_name == "Ageing"
        assert reader.header.header_row == 1
        [row] = list(reader)
        assert isinstance(row, AccountRow)
        assert (row.account, row.total_balance, row.sheet_row) == ("A1", D("5.00"), 2)


def test_hidden_sheets_come_after_visible_ones(tmp_path) -> None:
    workbook = openpyxl.Workbook()
    hidden = workbook.active
    hidden.title = "Last month"
    hidden.sheet_state = "hidden"
    hidden.append(["Account", "Name", "Telephone", "Total"])
    hidden.append(["OLD", "Old", "0821234567", 1])
    visible = workbook.create_sheet("This month")
    visible.append(["Account", "Name", "Telephone", "Total"])
    visible.append(["NEW", "New", "0821234567", 2])
    workbook.save(tmp_path / "hidden.xlsx")
    reader = read_age_analysis(tmp_path / "hidden.xlsx")
    assert reader.header.sheet_name == "This month"
    assert [r.account for r in reader if isinstance(r, AccountRow)] == ["NEW"]


def test_header_beyond_the_scan_window_is_not_found(book) -> None:
    rows: list[list[Any]] = [[f"note {i}"] for i in range(31)]
    rows += [["Account", "Name", "Telephone", "Total"], ["A1", "Ann", "082", "1"]]

    with pytest.raises(ReadError) as caught:
        read_age_analysis(book("xlsx", rows))
    assert caught.value.code == MISSING_COLUMNS


def test_extra_buckets_are_summed_into_d120_and_kept(book) -> None:
    rows = [
        [
            "Account",
            "Name",
            "Telephone",
            "Current",
            "30 Days",
            "60 Days",
            "90 Days",
            "120 Days",
            "150 Days",
            "180 Days",
            "210",
            "360+",
            "Total Balance",
        ],  # fmt: skip
        ["A1", "Ann", "0821234567", 1, 2, 3, 4, 5, 6, 7, 8, 9, 45],
        ["A2", "Ben", "0821234568", 0, 0, 0, 0, "", "", "", "", "1 000.00", "1,000.00"],
    ]
    for kind in ("xlsx", "csv"):
        reader = read_age_analysis(book(kind, rows))
        assert reader.header.extra_buckets == {150: "150 Days", 180: "180 Days", 210: "210", 360: "360+"}
        first, second = _accounts(reader.path)
        assert first.d120 == D("35.00")  # 5 + 6 + 7 + 8 + 9
        assert first.extra_buckets == {150: D("6.00"), 180: D("7.00"), 210: D("8.00"), 360: D("9.00")}
        assert first.overdue == D("44.00")
        assert second.d120 == D("1000.00")
        assert second.extra_buckets[360] == D("1000.00")


def test_buckets_beyond_720_days_are_not_mapped(book) -> None:
    rows = [["Account", "Name", "Telephone", "750 Days", "Total"], ["A1", "Ann", "0821234567", 99, 10]]
    reader = read_age_analysis(book("xlsx", rows))
    assert reader.header.unmapped_headers == ["750 Days"]
    [row] = _accounts(reader.path)
    assert row.total_balance == D("10.00") and row.extra_buckets == {}


def test_blank_total_and_repeated_header_rows_are_skipped_silently(book) -> None:
    header = ["Account", "Name", "Telephone", "Current", "Total"]
    rows = [
        header,
        ["A1", "Ann", "0821234567", 10, 10],
        [None, None, None, None, None],
        ["", "  ", "", "", ""],
        header,  # the header again at the top of a printed page
        ["A2", "Ben", "0821234568", 5, 5],
        ["Total", None, None, 15, 15],
        [None, "Grand Total", None, 15, 15],
        ["TOTALS:", "", "", 15, 15],
        ["", "Sub-total Gauteng", "", 15, 15],
    ]
    for kind in ("xlsx", "xls", "ods", "csv"):
        results = list(read_age_analysis(book(kind, rows)))
        assert [(r.account, r.sheet_row) for r in results if isinstance(r, AccountRow)] == [
            ("A1", 2),
            ("A2", 6),
        ]
        assert not [r for r in results if isinstance(r, RowError)]


def test_a_real_account_named_total_is_not_skipped(book) -> None:
    rows = [["Account", "Name", "Telephone", "Total"], ["TOT1", "Total", "0821234567", 5]]
    [row] = _accounts(book("csv", rows))
    assert (row.account, row.name) == ("TOT1", "Total")


def test_account_codes_are_text(book) -> None:
    rows = [
        ["Account", "Name", "Telephone", "Total"],
        [1001.0, "Float code", "", 1],
        [1002, "Int code", "", 1],
        ["00123", "Leading zeros", "", 1],
        ["  AB 12  ", "Spaces", "", 1],
    ]
    for kind in ("xlsx", "xls", "ods", "csv"):
        assert [r.account for r in _accounts(book(kind, rows))] == ["1001", "1002", "00123", "AB 12"]


def test_phone_cells_in_every_shape(book) -> None:
    rows = [
        ["Account", "Name", "Cellphone", "Total"],
        ["A1", "numeric cell lost its 0", 821234567, 1],
        ["A2", "national", "082-123-4567", 1],
        ["A3", "international", "+44 20 7946 0958", 1],
        ["A4", "blank", None, 1],
        ["A5", "rubbish", "n/a", 1],
        ["A6", "too short", "08212", 1],
    ]
    results = _accounts(book("xlsx", rows))
    assert [(r.telephone, r.phone_valid) for r in results] == [
        ("27821234567", True),
        ("27821234567", True),
        ("442079460958", True),
        (None, False),
        (None, False),
        ("08212", False),  # invalid: digits as written, no guessed country code
    ]
    assert results[0].telephone_raw == "821234567"
    assert results[3].telephone_raw == ""


# --- row failures ---------------------------------------------------------------------------


def _failures(path: Path) -> tuple[list[AccountRow], list[RowError]]:
    results = list(read_age_analysis(path))
    return (
        [r for r in results if isinstance(r, AccountRow)],
        [r for r in results if isinstance(r, RowError)],
    )


def test_every_row_failure_reason(book) -> None:
    rows = [
        ["Acc No", "Name", "Tel", "Current", "30 Days", "Balance"],
        ["A1", "good", "0821234567", 60, 40, 100],  # row 2
        [None, "no account", "0821234567", 1, 0, 1],  # row 3
        ["A1", "repeated", "0821234567", 1, 0, 1],  # row 4
        ["A4", "bad amount", "0821234567", "abc", 0, 1],  # row 5
        ["A5", "bad total", "0821234567", 1, 0, "12..5"],  # row 6
        ["A6", "over 1%", "0821234567", 100, 0, 98.99],  # row 7: off by 1.01 of 98.99
        ["A7", "within 1%", "0821234567", 100, 0, 99.5],  # row 8: off by 0.50
        ["A8", "zero total", "0821234567", 0.02, 0, 0],  # row 9
        ["A9", "zero total, a cent", "0821234567", 0.01, 0, 0],  # row 10
        ["A10", "bad phone is fine", "12", 1, 0, 1],  # row 11
        ["A11", "credit balance", "0821234567", -50, 0, -50],  # row 12
        ["A12", "", "", "", "", ""],  # row 13: only an account code, all zero
    ]
    for kind in ("xlsx", "csv"):
        accounts, failures = _failures(book(kind, rows))
        assert [(a.account, a.sheet_row) for a in accounts] == [
            ("A1", 2), ("A7", 8), ("A9", 10), ("A10", 11), ("A11", 12), ("A12", 13),
        ]  # fmt: skip
        by_row = {f.sheet_row: f for f in failures}
        assert sorted(by_row) == [3, 4, 5, 6, 7, 9]

        assert (by_row[3].code, by_row[3].column, by_row[3].value) == ("MISSING_ACCOUNT", "Acc No", "")
        assert "missing" in by_row[3].reason

        assert (by_row[4].code, by_row[4].column, by_row[4].value) == ("DUPLICATE_ACCOUNT", "Acc No", "A1")
        assert "more than once" in by_row[4].reason and "row 2" in by_row[4].reason

        assert (by_row[5].code, by_row[5].column, by_row[5].value) == ("INVALID_AMOUNT", "Current", "abc")
        assert "'abc' is not an amount" in by_row[5].reason
        assert (by_row[6].code, by_row[6].column, by_row[6].value) == ("INVALID_AMOUNT", "Balance", "12..5")

        mismatch = by_row[7]
        assert (mismatch.code, mismatch.column, mismatch.account) == ("BALANCE_MISMATCH", "Balance", "A6")
        assert "100.00" in mismatch.reason and "98.99" in mismatch.reason and "1%" in mismatch.reason
        assert by_row[9].code == "BALANCE_MISMATCH"

        phone = next(a for a in accounts if a.account == "A10")
        assert (phone.telephone, phone.phone_valid) == ("12", False)
        credit = next(a for a in accounts if a.account == "A11")
        assert credit.total_balance == D("-50.00")


def test_without_bucket_columns_the_total_is_not_checked(book) -> None:
    rows = [["Account", "Name", "Telephone", "Total Balance"], ["A1", "Ann", "0821234567", "R 1,500.00"]]
    [row] = _accounts(book("xlsx", rows))
    assert row.total_balance == D("1500.00")
    assert (row.current, row.d30, row.d60, row.d90, row.d120) == (0, 0, 0, 0, 0)


def test_repeated_account_fails_even_when_the_first_row_failed(book) -> None:
    rows = [
        ["Account", "Name", "Telephone", "Current", "Total"],
        ["A1", "first, bad", "0821234567", "x", 1],
        ["A1", "second", "0821234567", 1, 1],
    ]
    accounts, failures = _failures(book("csv", rows))
    assert accounts == []
    assert [(f.sheet_row, f.code) for f in failures] == [(2, "INVALID_AMOUNT"), (3, "DUPLICATE_ACCOUNT")]


# --- progress and streaming -----------------------------------------------------------------


def test_progress_is_reported_every_n_rows_and_at_the_end(book) -> None:
    rows: list[list[Any]] = [["Account", "Name", "Telephone", "Total"]]
    rows += [[f"A{i}", "x", "0821234567", i] for i in range(25)]
    calls: list[int] = []
    results = list(read_age_analysis(book("xlsx", rows), on_progress=calls.append, progress_every=10))
    assert len(results) == 25
    assert calls == [10, 20, 25]


def test_progress_every_must_be_positive(book, age_analysis_rows) -> None:
    with pytest.raises(ValueError):
        read_age_analysis(book("csv", age_analysis_rows), progress_every=0)


@pytest.mark.slow
def test_200k_row_csv_streams(tmp_path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Account,Name,Cell,Current,30 Days,Total\r\n")
        for i in range(200_000):
            fh.write(f"A{i},Debtor {i},08{i % 10}{i:07d},{i % 500}.25,1,{i % 500 + 1}.25\r\n")
    calls: list[int] = []
    reader = read_age_analysis(path, on_progress=calls.append, progress_every=1000)
    # Rows are read on demand: after ten results, only the first thousand-row batch has been touched.
    first = list(islice(reader, 10))
    assert [r.account for r in first if isinstance(r, AccountRow)] == [f"A{i}" for i in range(10)]
    assert calls == []
    count = sum(1 for r in reader if isinstance(r, AccountRow))
    assert count + 10 == 200_000
    assert calls[-1] == 200_000 and len(calls) == 200


def test_reader_closes_its_file(book, age_analysis_rows) -> None:
    path = book("csv", age_analysis_rows)
    with read_age_analysis(path) as reader:
        next(reader)
    with pytest.raises(StopIteration):
        next(reader)


def test_iter_rows_numbers_rows_per_sheet(book) -> None:
    sheets = {"One": [[None], ["title"], [], ["a", 1]], "Two": [["b", 2.5]]}
    for kind in ("xlsx", "xls", "ods"):
        rows = [(s, n, [c for c in cells if c != ""]) for s, n, cells in iter_rows(book(kind, sheets))]
        assert rows == [
            ("One", 1, []),
            ("One", 2, ["title"]),
            ("One", 3, []),
            ("One", 4, ["a", 1]),
            ("Two", 1, ["b", 2.5]),
        ]
