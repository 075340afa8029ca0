"""Issue 21: every spreadsheet layout of the corpus is read exactly, by the plain reader and by the
isolated child reader the import uses: each account's code, name, buckets, total and phones, the
lines skipped per reason, the printed total, and nothing else."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from arrears.debtors.reading import AccountRow, RowError, read_age_analysis
from arrears.debtors.reading.isolated import open_isolated
from tests.corpus import spreadsheets
from tests.corpus.model import Expected, Layout
from tests.corpus.spreadsheets import LAYOUTS

FIELDS = ("current", "d30", "d60", "d90", "d120")
Reading = tuple[str, str, dict[str, Decimal], Decimal, str | None, str | None]


def _expected(account: Expected) -> Reading:
    buckets = {name: amount for name, amount in account.buckets.items() if amount}
    return account.code, account.name, buckets, account.total, account.phone, account.phone2


def _read(row: AccountRow) -> Reading:
    buckets = {name: getattr(row, name) for name in FIELDS}
    buckets.update({f"d{days}": amount for days, amount in row.extra_buckets.items()})
    return (row.account, row.name, {k: v for k, v in buckets.items() if v}, row.total_balance, row.telephone,
            row.phone2)


def _check_report(layout: Layout, reader: object) -> None:
    assert reader.skipped == {k: v for k, v in layout.skipped.items() if v}  # type: ignore[attr-defined]
    assert reader.printed_total == layout.printed_total  # type: ignore[attr-defined]
    for expected in layout.warnings:
        assert any(expected in warning for warning in reader.warnings), reader.warnings  # type: ignore[attr-defined]
    if layout.printed_total is not None and not any("difference" in w for w in layout.warnings):
        assert any("matches the report's total" in w for w in reader.warnings)  # type: ignore[attr-defined]


@pytest.mark.parametrize("layout", LAYOUTS, ids=[item.name for item in LAYOUTS])
def test_the_reader_reads_the_layout_exactly(layout: Layout, tmp_path: Path) -> None:
    path = layout.build(tmp_path)
    with read_age_analysis(path) as reader:
        results = list(reader)
    assert [r for r in results if isinstance(r, RowError)] == []
    assert [_read(r) for r in results if isinstance(r, AccountRow)] == [_expected(a) for a in layout.accounts]
    _check_report(layout, reader)
    assert reader.header_rows and reader.sheet_name
    assert all(column.reason for column in reader.columns)


@pytest.mark.parametrize("layout", LAYOUTS, ids=[item.name for item in LAYOUTS])
def test_the_import_path_reads_the_layout_exactly(layout: Layout, tmp_path: Path) -> None:
    """The blocks made in the parse child (the import's fast path), in blocks of a few rows so that
    skipped lines fall in the middle and at the edges of blocks."""
    path = layout.build(tmp_path)
    with open_isolated(path, block_rows=4) as reader:
        blocks = list(reader.blocks())
    rows = [row for block in blocks for row in block.rows()]
    errors = [error for block in blocks for error in block.errors]
    assert errors == []
    assert [_read(r) for r in rows] == [_expected(a) for a in layout.accounts]
    _check_report(layout, reader)
    assert reader.sheet_name and reader.header_rows and reader.columns


@pytest.mark.parametrize("layout", LAYOUTS, ids=[item.name for item in LAYOUTS])
def test_the_preview_s_count_reads_the_layout_exactly(layout: Layout, tmp_path: Path) -> None:
    """The preview's pass (the first accounts kept, the rest counted, in blocks of a few rows so
    that counted blocks hold skipped lines, totals and headings) finds every account, their
    total, and the same skipped lines, printed total and warnings; and so does the preview."""
    from arrears.debtors.preview import preview_file

    path = layout.build(tmp_path)
    expected = [_expected(a) for a in layout.accounts]
    with read_age_analysis(path) as reader:
        tally = reader.tally(2, size=4)
        assert (tally.account_count, tally.failed_count, tally.failed) == (len(expected), 0, [])
        assert [_read(r) for r in tally.accounts] == expected[:2]
        assert tally.total_cents == sum(int(a.total * 100) for a in layout.accounts)
        _check_report(layout, reader)
    preview = preview_file(str(path), None, None, None)
    assert (preview.account_count, preview.failed_count) == (len(expected), 0)
    assert [_read(r) for r in preview.accounts] == expected[:20]
    assert preview.accounts_total == sum((a.total for a in layout.accounts), Decimal("0.00"))
    assert preview.skipped == {k: v for k, v in layout.skipped.items() if v}
    assert preview.printed_total == layout.printed_total


def test_the_corpus_covers_every_skip_reason_and_format(tmp_path: Path) -> None:
    reasons = {reason for layout in LAYOUTS for reason, count in layout.skipped.items() if count}
    assert reasons == {"title", "heading", "total", "repeated_header", "footer", "blank", "summary"}
    assert len(LAYOUTS) >= 20
    suffixes = {path.suffix for path in spreadsheets.build_all(tmp_path).values()}
    assert {".xlsx", ".xls", ".xlsb", ".ods", ".csv"} <= suffixes, suffixes


def test_the_cover_sheet_is_passed_over_and_named(tmp_path: Path) -> None:
    (layout,) = [item for item in LAYOUTS if item.name == "cover_sheet_then_detail"]
    with read_age_analysis(layout.build(tmp_path)) as reader:
        assert reader.sheet_name == "Detail"
        assert reader.header_rows == [10]
        assert reader.title_lines[0] == "Bellville Pharmacy"


def test_a_two_row_header_names_both_rows_and_why_each_column_maps(tmp_path: Path) -> None:
    (layout,) = [item for item in LAYOUTS if item.name == "two_row_ageing_header"]
    with read_age_analysis(layout.build(tmp_path)) as reader:
        assert reader.header_rows == [3, 4]
        fields = [column.field for column in reader.columns]
        assert fields == ["account", "name", "telephone", "current", "d30", "d60", "d90", "d120", "total_balance"]


def test_days_past_due_columns_say_so(tmp_path: Path) -> None:
    (layout,) = [item for item in LAYOUTS if item.name == "quickbooks_ar_aging_summary"]
    with read_age_analysis(layout.build(tmp_path)) as reader:
        by_label = {column.label: column for column in reader.columns}
        assert by_label["1 - 30"].field == "d30" and "past due" in by_label["1 - 30"].reason
        assert by_label["91 and over"].field == "d120"


AFRIKAANS = "Rekening,Naam,Selfoon,Huidig,30 Dae,Totaal\r\nR001,Jansen P,082 123 4567,10.00,5.50,15.50\r\n"
MAPPING = {0: "account", 1: "name", 2: "telephone", 3: "current", 4: "d30", 5: "total_balance"}


def test_a_mapping_reads_a_header_we_do_not_know(tmp_path: Path) -> None:
    path = tmp_path / "ouderdom.csv"
    path.write_text(AFRIKAANS)
    with pytest.raises(Exception, match="missing required columns"):
        read_age_analysis(path)
    with read_age_analysis(path, mapping=MAPPING) as reader:
        (row,) = list(reader)
    assert isinstance(row, AccountRow)
    assert (row.account, row.name, row.telephone, row.current, row.d30, row.total_balance) == (
        "R001", "Jansen P", "27821234567", Decimal("10.00"), Decimal("5.50"), Decimal("15.50"))
    assert [(c.field, c.reason) for c in reader.columns][4] == ("d30", "your mapping")
    with open_isolated(path, mapping=MAPPING) as isolated:
        (block,) = list(isolated.blocks())
    assert [r.account for r in block.rows()] == ["R001"] and isolated.skipped == {}


def test_a_mapping_can_ignore_a_column_and_the_warnings_name_it(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("Account,Name,Cell,Current,45 Days,Total\r\nA1,Jo,0821234567,10.00,0,10.00\r\n")
    with read_age_analysis(path) as reader:
        list(reader)
    assert any("'45 Days' looks like an ageing bucket but is not read" in w for w in reader.warnings)
    with read_age_analysis(path, mapping={3: None}) as reader:
        (row,) = list(reader)
    assert isinstance(row, AccountRow) and row.current == 0
    assert [c.field for c in reader.columns][3] is None


def test_an_account_below_the_grand_total_is_read_and_the_difference_named(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_text("Account,Name,Cell,Current,30 Days,Total\r\nA1,Jo,0821234567,10.00,0,10.00\r\n"
                    ",Grand Total,,10.00,0,10.00\r\n\r\nSummary\r\nCurrent,,,10.00\r\n"
                    "B2,Late Payer,0831234567,0,5.00,5.00\r\n")
    for block_rows in (1, 5000):
        with open_isolated(path, block_rows=block_rows) as reader:
            blocks = list(reader.blocks())
        assert [r.account for b in blocks for r in b.rows()] == ["A1", "B2"]
        assert reader.skipped == {"total": 1, "blank": 1, "summary": 2}
        assert reader.printed_total == Decimal("10.00")
        assert any("(difference 5.00)" in w for w in reader.warnings), reader.warnings


def test_plain_totals_under_groups_without_headings_are_group_totals(tmp_path: Path) -> None:
    head = "Account,Name,Cell,Current,Total\r\n"
    groups = "A1,Jo,0821234567,10.00,10.00\r\n,Total,,10.00,10.00\r\nB2,Ann,0821234568,5.00,5.00\r\n,Total,,5.00,5.00\r\n"
    for tail, printed in (("", None), (",Total,,15.00,15.00\r\n", Decimal("15.00"))):
        path = tmp_path / "groups.csv"
        path.write_text(head + groups + tail)
        with read_age_analysis(path) as reader:
            assert [r.account for r in reader if isinstance(r, AccountRow)] == ["A1", "B2"]
        assert reader.skipped == {"total": 2 + bool(tail)}
        assert reader.printed_total == printed
        assert not any("difference" in w for w in reader.warnings)


def test_split_labels_beside_columns_we_do_not_read(tmp_path: Path) -> None:
    path = tmp_path / "split.csv"
    path.write_text("Debtors\r\nAccount,Customer,E-mail,Cell,Current,30,Total\r\nNo,Name,Address,Number,,Days,Balance\r\n"
                    "A1,Jo,jo@example.com,0821234567,10.00,5.00,15.00\r\n")
    with read_age_analysis(path) as reader:
        (row,) = list(reader)
    assert isinstance(row, AccountRow) and (row.account, row.d30, row.total_balance) == ("A1", 5, 15)
    assert reader.header_rows == [2, 3] and reader.title_lines == ["Debtors"]
    assert reader.skipped == {"title": 1}
