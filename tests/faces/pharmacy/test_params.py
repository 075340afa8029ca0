"""The pharmacy face's reading of query strings and bodies, without HTTP: filters, buckets,
ids, booleans, amounts and the page."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arrears.errors import ValidationFailed
from arrears.faces.pharmacy.params import (
    debtor_filter,
    page_request,
    parse_amount,
    parse_bool,
    parse_buckets,
    parse_ids,
)
from arrears.pharmacy.debtors import ARREARS_BUCKETS

D = Decimal


def test_buckets_in_the_specs_order() -> None:
    assert parse_buckets("d90, D60,d60") == ("d60", "d90")
    assert parse_buckets(["balance", "current"]) == ("current", "balance")
    assert parse_buckets(None) is None and parse_buckets(" , ") is None
    for bad in ("d45", "60", ["d60", 3]):
        with pytest.raises(ValidationFailed):
            parse_buckets(bad)
    with pytest.raises(ValidationFailed, match="at least one"):
        parse_buckets([])


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("Yes", True), ("false", False),
                                                 ("0", False), ("", None), (None, None), (False, False)])
def test_booleans(value, expected) -> None:
    assert parse_bool(value, "x") is expected


def test_numbers() -> None:
    assert page_request("7").page == 7 and page_request(None).page == 1
    assert parse_amount("100.5", "m") == D("100.5") and parse_amount(100, "m") == D("100")
    assert parse_amount(12.25, "m") == D("12.25")
    for bad in ("0", "-3", "1.5", "x", True):
        with pytest.raises(ValidationFailed):
            page_request(bad)
    for bad in ("-0.01", "inf", "1e12", True, "x"):
        with pytest.raises(ValidationFailed):
            parse_amount(bad, "m")


def test_ids() -> None:
    assert parse_ids([3, 1, 3], required=True) == (3, 1)
    assert parse_ids(None, required=False) is None
    for bad in (None, [], "1,2", [1, True], [1.0], {"a": 1}):
        with pytest.raises(ValidationFailed):
            parse_ids(bad, required=True)
    with pytest.raises(ValidationFailed, match="at most 2"):
        parse_ids([1, 2, 3], required=True, limit=2)


def test_filter_defaults() -> None:
    f = debtor_filter()
    assert f.exclude_medical_aid is True and f.amount_buckets == ARREARS_BUCKETS and f.search is None
    f = debtor_filter(exclude_medical_aid="false", search="  ann ", ageing_buckets="d30")
    assert f.exclude_medical_aid is False and f.search == "ann" and f.amount_buckets == ("d30",)
