"""Issue 21: the pharmacy upload's optional `mapping` form field. A PDF report's header columns are
indexed left to right from 0 (the answer's and the preview's `columns`); a mapping says what a
column the header misread holds, and the report is read with it. A mapping that does not fit is a
400 `{"detail": ...}` naming each bad entry, and stores nothing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from arrears.db import transaction
from arrears.debtors.models import DebtorAccount, DebtorReport, DebtorRowError
from tests.debtors.pdf.make_pdfs import simple_table

D = Decimal
# "Overdue" is no heading the reader knows: its figures are nobody's, and the rows that have some
# do not add up to their balance.
HEADER = ["Acc No", "Name", "Current", "30 Days", "60 Days", "Overdue", "Balance"]
ROWS = [["AC1001", "Doe J", "10.00", "20.00", "30.00", "40.00", "100.00"],
        ["AC1002", "Roe K", "1.00", "2.00", "3.00", "4.50", "10.50"],
        ["AC1003", "Moe L", "5.00", "0.00", "0.00", "0.00", "5.00"]]


def report() -> bytes:
    return simple_table(HEADER, ROWS)


async def _upload(pharmacy, **fields: str):
    return await pharmacy.client.post(pharmacy.url("/upload"), headers=pharmacy.writer, data=fields,
                                      files={"file": ("report.pdf", report(), "application/pdf")})


async def _stored() -> tuple[int, dict[str, tuple[Decimal, Decimal]], int]:
    async with transaction(readonly=True) as s:
        reports = int(await s.scalar(select(func.count()).select_from(DebtorReport)) or 0)
        accounts = {a.account_code: (a.d90, a.total_balance) for a in await s.scalars(select(DebtorAccount))}
        errors = int(await s.scalar(select(func.count()).select_from(DebtorRowError)) or 0)
    return reports, accounts, errors


async def test_a_misread_column_is_corrected_by_a_mapping(pharmacy) -> None:
    r = await _upload(pharmacy)
    assert r.status_code == 200, r.text
    body = r.json()
    # As the header reads: column 5 is no field, so two rows do not add up and are not stored.
    assert [(c["index"], c["label"], c["field"]) for c in body["columns"]] == [
        (0, "Acc No", "account"), (1, "Name", "name"), (2, "Current", "current"), (3, "30 Days", "d30"),
        (4, "60 Days", "d60"), (5, "Overdue", None), (6, "Balance", "total_balance")]
    assert [d["acc_no"] for d in body["debtors"]] == ["AC1003"]
    assert sorted(i["acc_no"] for i in body["issues"]) == ["AC1001", "AC1002"]

    r = await _upload(pharmacy, mapping=json.dumps({"5": "d90"}))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"][5] == {"index": 5, "label": "Overdue", "field": "d90", "read": None,
                                  "reason": "your mapping"}
    assert "issues" not in body
    assert [(d["acc_no"], d["d90"], d["balance"]) for d in body["debtors"]] == [
        ("AC1001", 40.0, 100.0), ("AC1002", 4.5, 10.5), ("AC1003", 0.0, 5.0)]
    reports, accounts, _ = await _stored()
    assert reports == 2
    assert accounts == {"AC1001": (D("40.00"), D("100.00")), "AC1002": (D("4.50"), D("10.50")),
                        "AC1003": (D("0.00"), D("5.00"))}


async def test_a_column_can_be_ignored(pharmacy) -> None:
    # The name column ignored: the debtors are stored without names, everything else as read.
    body = (await _upload(pharmacy, mapping=json.dumps({"1": None, "5": "d90"}))).json()
    assert [(d["acc_no"], d["name"]) for d in body["debtors"]] == [("AC1001", ""), ("AC1002", ""), ("AC1003", "")]
    assert body["columns"][1]["field"] is None and body["columns"][1]["reason"] == "your mapping"


@pytest.mark.parametrize(("mapping", "named"), [
    ({"9": "d90"}, ["Column 9 is not in the report's header (its columns are 0 to 6)."]),
    ({"5": "d365"}, ["Column 5: 'd365' is not a field"]),
    ({"5": "d30"}, ["Columns 3 and 5 both map to d30"]),
    ({"0": None}, ["The required field account (or account_name) is not mapped"]),
    ({"2": None, "3": None, "4": None}, ["No ageing bucket (current, d30 … d180) is mapped"]),
    ({"9": "d90", "5": "d365", "4": "d30", "0": "name"},
     ["Column 5: 'd365' is not a field", "Column 9 is not in", "Columns 0 and 1 both map to name",
      "Columns 3 and 4 both map to d30", "The required field account"]),
])
async def test_a_mapping_that_does_not_fit_is_a_400_naming_each_entry(pharmacy, mapping, named) -> None:
    r = await _upload(pharmacy, mapping=json.dumps(mapping))
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"detail"} and body["detail"].startswith("The column mapping is not valid: ")
    for words in named:
        assert words in body["detail"], (words, body["detail"])
    assert await _stored() == (0, {}, 0)


@pytest.mark.parametrize(("text", "named"), [
    ("{not json", "The mapping must be JSON"),
    ('["d90"]', "The mapping must be a JSON object"),
    ('{"five": "d90", "6": 7}', "Column 'five' is not a column index (0, 1, 2 ...). Column 6: the field must be "
                                "a field name or null."),
])
async def test_a_mapping_that_is_not_index_to_field_json_is_a_400(pharmacy, text, named) -> None:
    r = await _upload(pharmacy, mapping=text)
    assert r.status_code == 400, r.text
    assert named in r.json()["detail"]
    assert await _stored() == (0, {}, 0)


async def test_an_empty_mapping_field_reads_by_the_header(pharmacy) -> None:
    body = (await _upload(pharmacy, mapping="")).json()
    assert [d["acc_no"] for d in body["debtors"]] == ["AC1003"]
