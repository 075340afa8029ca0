"""Days past due, pure: a loan's level monthly schedule (month ends included) and a book
account's oldest overdue bucket counted on from its report's date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from arrears.accounts.ageing import (
    add_months,
    book_days_past_due,
    level_schedule,
    loan_days_past_due,
    oldest_unpaid,
)

D = Decimal


def test_add_months_keeps_the_day_or_takes_the_month_end_counted_from_the_start():
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)  # leap year
    assert add_months(date(2025, 1, 31), 2) == date(2025, 3, 31)  # not chained through 28 Feb
    assert add_months(date(2025, 1, 31), 3) == date(2025, 4, 30)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 15)
    assert add_months(date(2025, 3, 9), 24) == date(2027, 3, 9)


def test_level_schedule_sums_to_the_principal_and_the_last_takes_the_rounding():
    s = level_schedule(D("1000.00"), 3, date(2025, 1, 31))
    assert [(i.number, i.due, i.amount) for i in s] == [
        (1, date(2025, 2, 28), D("333.33")), (2, date(2025, 3, 31), D("333.33")), (3, date(2025, 4, 30), D("333.34"))]
    assert sum(i.amount for i in s) == D("1000.00")
    assert level_schedule(D("50000.00"), 12, date(2025, 3, 9))[0].amount == D("4166.67")


def test_payments_fill_instalments_in_date_order():
    s = level_schedule(D("300.00"), 3, date(2025, 1, 10))
    assert oldest_unpaid(s, D("0")).number == 1
    assert oldest_unpaid(s, D("99.99")).number == 1  # a partial instalment is still unpaid
    assert oldest_unpaid(s, D("100.00")).number == 2
    assert oldest_unpaid(s, D("250.00")).number == 3
    assert oldest_unpaid(s, D("300.00")) is None


def test_loan_days_past_due_from_the_oldest_unpaid_instalment():
    p, n, start = D("1200.00"), 12, date(2025, 1, 31)
    # The first instalment falls due on 28 Feb 2025: not late that day, one day late on 1 March.
    assert loan_days_past_due(p, n, start, D("0"), date(2025, 2, 27)) == 0
    assert loan_days_past_due(p, n, start, D("0"), date(2025, 2, 28)) == 0
    assert loan_days_past_due(p, n, start, D("0"), date(2025, 3, 1)) == 1
    assert loan_days_past_due(p, n, start, D("0"), date(2025, 4, 30)) == 61  # 28 Feb → 30 Apr
    # One instalment paid: the second (31 Mar) is the oldest unpaid.
    assert loan_days_past_due(p, n, start, D("100.00"), date(2025, 4, 30)) == 30
    # Paid ahead: nothing late.
    assert loan_days_past_due(p, n, start, D("300.00"), date(2025, 4, 30)) == 0
    # Paid off, and long after the schedule ended.
    assert loan_days_past_due(p, n, start, D("1200.00"), date(2030, 1, 1)) == 0
    assert loan_days_past_due(p, n, start, D("1100.00"), date(2026, 2, 1)) == 1  # the last one: 31 Jan 2026


def test_book_days_past_due_from_the_oldest_non_zero_bucket_and_the_report_date():
    report = date(2025, 5, 31)
    buckets = {"d30": D("10"), "d60": D("0"), "d90": D("5"), "d120": D("0"), "d150": D("0"), "d180": D("0")}
    assert book_days_past_due(buckets, report, report) == 90
    assert book_days_past_due(buckets, report, date(2025, 6, 30)) == 120
    assert book_days_past_due({"d30": D("1")}, report, date(2025, 6, 1)) == 31
    assert book_days_past_due({"d180": D("1"), "d120": D("1")}, report, report) == 180
    # Only current (or credits) owed: nothing past due, whatever the date.
    assert book_days_past_due({"d30": D("0"), "d60": D("-5")}, report, date(2026, 1, 1)) == 0
    # No report date known: the bucket's age alone; a report dated after today counts no days.
    assert book_days_past_due({"d60": D("1")}, None, date(2025, 6, 1)) == 60
    assert book_days_past_due({"d60": D("1")}, date(2025, 7, 1), date(2025, 6, 1)) == 60
