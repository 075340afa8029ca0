"""The pharmacy domain's parsing rules, without HTTP: filters, buckets, ids, scheme names."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from arrears.errors import ValidationFailed
from arrears.pharmacy.debtors import (
    ARREARS_BUCKETS,
    DebtorFilter,
    amount_of,
    parse_amount,
    parse_bool,
    parse_buckets,
    parse_ids,
    parse_int,
    totals_of,
)
from arrears.pharmacy.upload import medical_aid_names

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


def test_amount_of_selected_buckets() -> None:
    amounts = {"current": D("1"), "d30": D("2"), "d60": D("4"), "d90": D("8"), "d120": D("16"), "d150": D("32"),
               "d180": D("64"), "balance": D("127")}
    assert amount_of(amounts, ARREARS_BUCKETS) == D("124")
    assert amount_of(amounts, ("current", "d30")) == D("3")
    assert amount_of(amounts, ("d30", "balance")) == D("127")  # the balance is everything


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("Yes", True), ("false", False),
                                                 ("0", False), ("", None), (None, None), (False, False)])
def test_booleans(value, expected) -> None:
    assert parse_bool(value, "x") is expected


def test_numbers() -> None:
    assert parse_int("7", "page", 1, 1) == 7 and parse_int(None, "page", 1, 1) == 1
    assert parse_amount("100.5", "m") == D("100.5") and parse_amount(100, "m") == D("100")
    assert parse_amount(12.25, "m") == D("12.25")
    for bad in ("0", "-3", "1.5", "x", True):
        with pytest.raises(ValidationFailed):
            parse_int(bad, "page", 1, 1)
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
    f = DebtorFilter.parse()
    assert f.exclude_medical_aid is True and f.amount_buckets == ARREARS_BUCKETS and f.search is None
    f = DebtorFilter.parse(exclude_medical_aid="false", search="  ann ", ageing_buckets="d30")
    assert f.exclude_medical_aid is False and f.search == "ann" and f.amount_buckets == ("d30",)


def test_totals_of_rows() -> None:
    rows = [{"balance": D("10.00"), **{b: D("1.00") for b in ("current", "d30", "d60", "d90", "d120", "d150",
                                                            "d180")}}] * 3
    totals = totals_of(rows)
    assert totals["total_accounts"] == 3 and totals["total_outstanding"] == D("30.00") and totals["d90"] == D("3.00")


def test_scheme_names_from_settings() -> None:
    org = SimpleNamespace(settings={"medical_aid_names": "Acme Health; Foo Med ,, "})
    assert medical_aid_names(org) == ["Acme Health", "Foo Med"]
    assert medical_aid_names(SimpleNamespace(settings={"medical_aid_names": ["A", " "]})) == ["A"]
    assert medical_aid_names(SimpleNamespace(settings={})) == []
