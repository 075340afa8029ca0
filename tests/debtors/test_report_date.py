"""The report's as-at date read from its title block or its file name (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from arrears.debtors.report_date import find_report_date

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(("lines", "expected"), [
    (["Customer Age Analysis", "as at 30/11/2026"], date(2026, 11, 30)),
    (["ACME Pharmacy", "As at: 30 November 2026"], date(2026, 11, 30)),
    (["Aged Receivables", "Period ending 2026-11-30"], date(2026, 11, 30)),
    (["Age Analysis Nov 2026"], date(2026, 11, 30)),
    (["Age Analysis February 2024"], date(2024, 2, 29)),  # the month's last day, leap year
    (["Debtors", "Date: 31.10.2026"], date(2026, 10, 31)),
    (["A/R Aging Summary", "As of November 30, 2026"], date(2026, 11, 30)),
    (["Balances at 2026/11/30"], date(2026, 11, 30)),
    (["Debtors age analysis 5/11/2026"], date(2026, 11, 5)),  # day first (South Africa)
    (["Age analysis as at 30-Nov-2026"], date(2026, 11, 30)),
    (["Printed on 06/12/2026 10:15", "Age analysis as at 30/11/2026"], date(2026, 11, 30)),
    (["Age analysis as at 30/11/2026   Printed 06/12/2026"], date(2026, 11, 30)),
    (["SUNNINGHILL MEDICAL CENTRE", "Age Analysis at 30 November 2026 Page 1 of 2"], date(2026, 11, 30)),
    (["Printed on 06/12/2026"], None),  # when it was printed is not what it reports
    (["Age analysis as at 31/12/2026"], None),  # after today: no report's date
    (["Acc 123456 balances"], None),
    ([], None),
])
def test_title_lines(lines: list[str], expected: date | None) -> None:
    assert find_report_date(lines, "report.xlsx", today=TODAY) == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("debtors 2026-11-30.xlsx", date(2026, 11, 30)),
    ("AgeAnalysis_20261130.xlsx", date(2026, 11, 30)),
    ("Age Analysis Nov 2026.pdf", date(2026, 11, 30)),
    ("age_analysis_nov2026.csv", date(2026, 11, 30)),
    ("debtors 30.11.2026.pdf", date(2026, 11, 30)),
    ("C:\\exports\\debtors_2026-10.xlsx", date(2026, 10, 31)),
    ("debtors.xlsx", None),
    ("debtors 2027-01-31.xlsx", None),  # in the future
])
def test_file_name(name: str, expected: date | None) -> None:
    assert find_report_date([], name, today=TODAY) == expected


def test_title_before_file_name() -> None:
    assert find_report_date(["As at 31 October 2026"], "debtors 2026-11-30.xlsx", today=TODAY) == date(2026, 10, 31)
    # A labelled line wins over an unlabelled date higher up.
    assert find_report_date(["Report 01/09/2026", "As at 31/10/2026"], "x.xlsx", today=TODAY) == date(2026, 10, 31)
