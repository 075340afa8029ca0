"""The pharmacy domain's rules, without HTTP: amounts of buckets, totals, scheme names."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from arrears.pharmacy.debtors import ARREARS_BUCKETS, amount_of, totals_of
from arrears.pharmacy.upload import medical_aid_names

D = Decimal


def test_amount_of_selected_buckets() -> None:
    amounts = {"current": D("1"), "d30": D("2"), "d60": D("4"), "d90": D("8"), "d120": D("16"), "d150": D("32"),
               "d180": D("64"), "balance": D("127")}
    assert amount_of(amounts, ARREARS_BUCKETS) == D("124")
    assert amount_of(amounts, ("current", "d30")) == D("3")
    assert amount_of(amounts, ("d30", "balance")) == D("127")  # the balance is everything


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
