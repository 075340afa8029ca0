"""Issue 21: the PDF reader's skip rules never swallow accounts: a heading that says "summary"
between accounts, a scheme's name indented like a patient's name, a footer right under an account
and a total that a later account shows to be a group's, not the report's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from arrears.debtors.pdf import extract_debtors
from tests.corpus.pdfs import Col, E, Money, Piece, Plan, Row, Table


def _table(plan: Plan) -> Table:
    cols = [Col("acc", "Acc No", 30), Col("name", "Patient Name", 80), Col("current", "Current", 420),
            Col("d30", "30 Days", 490), Col("d60", "60 Days", 560), Col("balance", "Balance", 640)]
    return Table(plan, cols, Money())


def test_a_heading_that_says_summary_between_accounts_keeps_the_accounts(tmp_path: Path) -> None:
    plan = Plan()
    plan.page()
    t = _table(plan)
    t.header(None)
    first, second = Row(E("1001", "ONE A", "10.00", current="10.00")), Row(E("1002", "TWO B", "20.00", d30="20.00"))
    t.row(first)
    plan.line(Piece(30, "Summary accounts (weekly statements)"))
    t.row(second)
    t.total("Total", 30, [first, second])
    result = extract_debtors(plan.draw(tmp_path / "r.pdf"))
    assert [d.acc_no for d in result.debtors] == ["1001", "1002"]
    assert result.skipped == {"heading": 1, "total": 1}
    assert result.printed_total == Decimal("30.00")


def test_a_scheme_indented_like_a_name_is_a_heading_and_a_group_total_is_not_the_report_total(
        tmp_path: Path) -> None:
    plan = Plan()
    plan.page()
    t = _table(plan)
    t.header(None)
    a, b = Row(E("2001", "KHAN F", "5.00", current="5.00")), Row(E("2002", "LEE G", "7.00", d60="7.00"))
    t.row(a)
    plan.line(Piece(80, "DISCOVERY HEALTH", bold=True))  # right under the row, where names start
    t.row(b)
    t.total("Total", 30, [a])  # labelled "Total" but an account follows: a group's total
    c = Row(E("2003", "MOYO H", "1.00", current="1.00"))
    t.row(c)
    plan.line(Piece(30, "Printed by: CLERK"), Piece(640, "Page 1 of 1", True))
    result = extract_debtors(plan.draw(tmp_path / "r.pdf"))
    assert [(d.acc_no, d.name) for d in result.debtors] == [("2001", "KHAN F"), ("2002", "LEE G"), ("2003", "MOYO H")]
    assert result.skipped == {"heading": 1, "total": 1, "footer": 1}
    assert result.printed_total is None and result.warnings == []


def test_a_grand_total_that_differs_is_named_with_the_difference(tmp_path: Path) -> None:
    plan = Plan()
    plan.page()
    plan.line(Piece(30, "Debtors Age Analysis as at 31/10/2026"))
    t = _table(plan)
    t.header(None)
    rows = [Row(E("3001", "NEL P", "1234.56", current="1234.56"))]
    t.row(rows[0])
    t.total("Grand Total", 30, [Row(E("X", "X", "1200.00", current="1200.00"))])
    result = extract_debtors(plan.draw(tmp_path / "r.pdf"))
    assert result.title_lines == ["Debtors Age Analysis as at 31/10/2026"]
    assert result.printed_total == Decimal("1200.00")
    assert result.warnings == ["The debtors add up to 1,234.56 but the report's total is 1,200.00 "
                               "(difference -34.56)."]


def test_a_header_over_two_rows_is_one_header(tmp_path: Path) -> None:
    plan = Plan()
    for page in (1, 2):
        plan.page()
        plan.line(Piece(30, f"Debtors Age Analysis - page {page}"))
        plan.line(Piece(30, "Acc", bold=True), Piece(80, "Patient", bold=True), Piece(420, "Current", True, True),
                  Piece(490, "30", True, True), Piece(560, "60", True, True), Piece(640, "Balance", True, True))
        plan.line(Piece(30, "No", bold=True), Piece(80, "Name", bold=True), Piece(490, "Days", True, True),
                  Piece(560, "Days", True, True))
        t = Table(plan, [Col("acc", "", 30), Col("name", "", 80), Col("current", "", 420), Col("d30", "", 490),
                         Col("d60", "", 560), Col("balance", "", 640)], Money())
        t.row(Row(E(f"40{page}", "VAN ZYL R", "3.00", d60="3.00")))
    result = extract_debtors(plan.draw(tmp_path / "r.pdf"))
    assert [(d.acc_no, d.name, d.d60) for d in result.debtors] == [("401", "VAN ZYL R", Decimal("3.00")),
                                                                  ("402", "VAN ZYL R", Decimal("3.00"))]
    assert result.skipped == {"title": 2, "repeated_header": 1}
