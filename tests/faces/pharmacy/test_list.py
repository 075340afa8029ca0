"""GET /pharmacies/{id}/debtors and …/statistics: every filter of the spec, pagination, and
out-of-range values as a 400 with a `detail` string."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.debtors.pdf.make_pdfs import Debtor, build_report

D = Decimal

# d120 here is the 120-day bucket alone (the book keeps 120+ with 150/180 split out beside it).
BOOK = [
    Debtor("A1", "Ann Smith", {"current": D("10.00"), "d60": D("100.00")}, email="ann@example.com",
           phone="082 123 4567"),
    Debtor("A2", "Ben Jones", {"d90": D("50.00"), "d180": D("25.00")}, phone="083 555 0000"),
    Debtor("A3", "Cai_Wong 100%", {"d30": D("300.00")}, email="cai@example.com"),
    Debtor("A4", "Dee Ndlovu", {"d120": D("40.00"), "d150": D("7.50")}),
    Debtor("M1", "Discovery Health", {"d60": D("999.00")}),
    Debtor("A5", "Eve Credit", {"current": D("-20.00")}),
]


@pytest.fixture
async def book(pharmacy):
    body = await pharmacy.uploaded(build_report(BOOK))
    return {d["acc_no"]: d for d in body["debtors"]}


async def _accs(pharmacy, **params) -> list[str]:
    r = await pharmacy.get(**params)
    assert r.status_code == 200, r.text
    return [d["acc_no"] for d in r.json()["debtors"]]


async def test_default_list_leaves_out_medical_aid(pharmacy, book) -> None:
    r = await pharmacy.get()
    body = r.json()
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (5, 1, 100, 1)
    assert [d["acc_no"] for d in body["debtors"]] == ["A1", "A2", "A3", "A4", "A5"]
    assert await _accs(pharmacy, exclude_medical_aid="false") == ["A1", "A2", "A3", "A4", "A5", "M1"]
    a4 = next(d for d in body["debtors"] if d["acc_no"] == "A4")
    assert (a4["d120"], a4["d150"], a4["d180"], a4["balance"]) == (40.0, 7.5, 0.0, 47.5)


@pytest.mark.parametrize(("params", "expected"), [
    ({"min_balance": "45"}, ["A1", "A2", "A4"]),  # d60+…+d180: A1 100, A2 75, A4 47.5
    ({"min_balance": "50"}, ["A1", "A2"]),
    ({"min_balance": "75"}, ["A1", "A2"]),
    ({"min_balance": "0"}, ["A1", "A2", "A3", "A4", "A5"]),
    ({"min_balance": "200", "ageing_buckets": "d30"}, ["A3"]),
    ({"min_balance": "26", "ageing_buckets": "d90,d180"}, ["A2"]),
    ({"ageing_buckets": "d180"}, ["A2"]),
    ({"ageing_buckets": "d120,d150"}, ["A4"]),
    ({"ageing_buckets": "current"}, ["A1"]),  # A5's credit is not money owed
    ({"ageing_buckets": "balance", "min_balance": "100"}, ["A1", "A3"]),
    ({"ageing_buckets": ""}, ["A1", "A2", "A3", "A4", "A5"]),
    ({"has_email": "true"}, ["A1", "A3"]),
    ({"has_email": "false"}, ["A2", "A4", "A5"]),
    ({"has_phone": "true"}, ["A1", "A2"]),
    ({"has_phone": "0"}, ["A3", "A4", "A5"]),
    ({"search": "smith"}, ["A1"]),
    ({"search": "A2"}, ["A2"]),
    ({"search": "CAI@EXAMPLE"}, ["A3"]),
    ({"search": "083 555"}, ["A2"]),
    ({"search": "_"}, ["A3"]),  # LIKE wildcards are literal
    ({"search": "100%"}, ["A3"]),
    ({"search": "discovery"}, []),
    ({"search": "discovery", "exclude_medical_aid": "false"}, ["M1"]),
    ({"has_email": "true", "min_balance": "60"}, ["A1"]),
], ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None)
async def test_filters(pharmacy, book, params, expected) -> None:
    assert await _accs(pharmacy, **params) == expected


async def test_pages(pharmacy, book) -> None:
    r = (await pharmacy.get(per_page="2", page="2")).json()
    assert (r["total"], r["page"], r["per_page"], r["pages"]) == (5, 2, 2, 3)
    assert [d["acc_no"] for d in r["debtors"]] == ["A3", "A4"]
    r = (await pharmacy.get(per_page="2", page="9")).json()
    assert r["debtors"] == [] and r["total"] == 5
    assert (await pharmacy.get(per_page="1000")).status_code == 200


@pytest.mark.parametrize(("params", "words"), [
    ({"page": "0"}, "page: must be 1 or more"),
    ({"page": "-1"}, "page"),
    ({"page": "x"}, "page: must be a whole number"),
    ({"per_page": "0"}, "per_page: must be between 1 and 1000"),
    ({"per_page": "1001"}, "per_page: must be between 1 and 1000"),
    ({"per_page": "2.5"}, "per_page"),
    ({"min_balance": "abc"}, "min_balance: must be a number"),
    ({"min_balance": "-1"}, "min_balance"),
    ({"min_balance": "NaN"}, "min_balance"),
    ({"min_balance": "1e20"}, "min_balance"),
    ({"ageing_buckets": "d45"}, "unknown bucket 'd45'"),
    ({"ageing_buckets": "d60,,total"}, "unknown bucket 'total'"),
    ({"has_email": "maybe"}, "has_email: must be true or false"),
    ({"has_phone": "2"}, "has_phone"),
    ({"exclude_medical_aid": "nope"}, "exclude_medical_aid"),
    ({"search": "x" * 201}, "search: must be at most 200"),
], ids=lambda v: ",".join(f"{k}={x[:12]}" for k, x in v.items()) if isinstance(v, dict) else None)
async def test_out_of_range_values_are_400_with_a_detail_string(pharmacy, book, params, words) -> None:
    r = await pharmacy.get(**params)
    assert r.status_code == 400
    assert list(r.json()) == ["detail"] and words in r.json()["detail"]


async def test_statistics(pharmacy, book) -> None:
    r = await pharmacy.get("/statistics")
    assert r.status_code == 200
    assert r.json() == {"total_accounts": 5, "total_outstanding": 512.5, "current": -10.0, "d30": 300.0,
                        "d60": 100.0, "d90": 50.0, "d120": 40.0, "d150": 7.5, "d180": 25.0}
    everyone = (await pharmacy.get("/statistics", exclude_medical_aid="false")).json()
    assert everyone["total_accounts"] == 6 and everyone["total_outstanding"] == 1511.5 and everyone["d60"] == 1099.0
    assert (await pharmacy.get("/statistics", exclude_medical_aid="x")).status_code == 400


async def test_an_empty_pharmacy(pharmacy) -> None:
    assert (await pharmacy.get()).json() == {"total": 0, "page": 1, "per_page": 100, "pages": 0, "debtors": []}
    stats = (await pharmacy.get("/statistics")).json()
    assert stats["total_accounts"] == 0 and stats["total_outstanding"] == 0
