from __future__ import annotations

from decimal import Decimal

import pytest

from arrears.messaging.ageing import AgeBuckets, oldest_age_bracket, oldest_days_range, overdue_amount

D = Decimal


def test_overdue_is_everything_past_current() -> None:
    b = AgeBuckets(current=D("5000"), d30=D("2500"), d60=D("1000"), d90=D("500"), d120=D("0"))
    assert overdue_amount(b) == D("4000")


def test_overdue_includes_older_buckets_and_never_goes_negative() -> None:
    assert overdue_amount(AgeBuckets(d120=D("1"), d150=D("2"), d180=D("3"))) == D("6")
    assert overdue_amount(AgeBuckets(d30=D("-200"), d60=D("500"))) == D("300")
    assert overdue_amount(AgeBuckets(current=D("100"), d30=D("-50"))) == D("0")


@pytest.mark.parametrize(("buckets", "label", "days_range"), [
    (AgeBuckets(), "Current", "0 days"),
    (AgeBuckets(current=D("10")), "Current", "0 days"),
    (AgeBuckets(current=D("10"), d30=D("1")), "30 days", "30-59 days"),
    (AgeBuckets(d60=D("1"), d30=D("1")), "60 days", "60-89 days"),
    (AgeBuckets(d90=D("0.01")), "90 days", "90-119 days"),
    (AgeBuckets(d120=D("1")), "120+ days", "120+ days"),
    (AgeBuckets(d180=D("1")), "120+ days", "120+ days"),
    # A credit in an old bucket is not a debt there.
    (AgeBuckets(d30=D("100"), d120=D("-5")), "30 days", "30-59 days"),
])
def test_oldest_bracket(buckets: AgeBuckets, label: str, days_range: str) -> None:
    assert oldest_age_bracket(buckets) == label
    assert oldest_days_range(buckets) == days_range
