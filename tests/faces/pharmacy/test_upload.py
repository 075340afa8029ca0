"""POST /pharmacies/{id}/debtors/upload: PDFs drawn in four layouts read back to the exact
debtors, stored as one report; files that are not usable reports are a 400 that changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from arrears.db import transaction
from arrears.debtors.models import DebtorAccount, DebtorReport, DebtorRowError, DebtorSnapshot
from tests.debtors.pdf.make_pdfs import (
    BUCKETS,
    Debtor,
    Layout,
    broken_pdf,
    build_report,
    encrypted_pdf,
    sample_debtors,
    scanned_pdf,
    text_without_table_pdf,
)
from tests.debtors.pdf.test_pdf_golden import GOLDEN_ROWS, LAYOUTS

D = Decimal


def _money(value: object) -> Decimal:
    return D(str(value)).quantize(D("0.01"))


def _shown(d: dict) -> tuple:
    return (d["acc_no"], d["name"], *(_money(d[b]) for b in BUCKETS), _money(d["balance"]), d["email"], d["phone"],
            d["is_medical_aid_control"])


def _source(d: Debtor, medical: bool = False) -> tuple:
    return (d.acc_no, d.name, *(d.amount(b) for b in BUCKETS), d.balance, d.email, d.phone, medical)


async def _count(model) -> int:
    async with transaction(readonly=True) as s:
        return await s.scalar(select(func.count()).select_from(model))


MEDICAL = {"AC1002", "AC1006"}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
async def test_every_layout_reads_back_to_the_printed_debtors(pharmacy, layout: Layout) -> None:
    body = await pharmacy.uploaded(build_report(GOLDEN_ROWS, layout))

    good = [d for d in GOLDEN_ROWS if d.acc_no != "AC1004"]  # AC1004's buckets do not add up
    assert [_shown(d) for d in body["debtors"]] == [_source(d, d.acc_no in MEDICAL) for d in good]
    first = body["debtors"][0]
    assert set(first) == {"id", "pharmacy_id", "report_id", "acc_no", "name", *BUCKETS, "balance", "email",
                          "phone", "is_medical_aid_control", "created_at", "updated_at"}
    assert isinstance(first["id"], int) and first["pharmacy_id"] == pharmacy.org.id
    assert first["report_id"] == body["report_id"] and first["created_at"].endswith("Z")
    # Money is a JSON number; the totals leave the medical-aid control accounts out.
    assert isinstance(first["balance"], float) and first["balance"] == 13550.67
    kept = [d for d in good if d.acc_no not in MEDICAL]
    assert body["total_accounts"] == len(kept) == 3
    assert _money(body["total_outstanding"]) == sum(d.balance for d in kept)
    # The row that does not add up is reported, not stored.
    [issue] = body["issues"]
    assert issue["acc_no"] == "AC1004" and issue["code"] == "BUCKETS_DO_NOT_ADD_UP" and "15.00" in issue["error"]
    async with transaction(readonly=True) as s:
        codes = set(await s.scalars(select(DebtorAccount.account_code)))
        errors = (await s.scalars(select(DebtorRowError))).all()
        report = await s.get(DebtorReport, body["report_id"])
    assert codes == {d.acc_no for d in good}
    assert [e.account_code for e in errors] == ["AC1004"]
    assert report.source == "pdf" and report.status == "completed" and report.org_id == pharmacy.org.id


async def test_normalised_number_is_kept_beside_the_printed_one(pharmacy) -> None:
    body = await pharmacy.uploaded(build_report(GOLDEN_ROWS, LAYOUTS["ruled"]))
    phones = {d["acc_no"]: d["phone"] for d in body["debtors"]}
    assert phones["AC1001"] == "082 123 4567" and phones["1005"] == "12345"
    async with transaction(readonly=True) as s:
        rows = dict((await s.execute(select(DebtorAccount.account_code, DebtorAccount.telephone))).all())
    assert rows["AC1001"] == "27821234567" and rows["AC1003"] == "27115551234" and rows["1005"] is None


async def test_a_long_multi_page_report_with_totals(pharmacy) -> None:
    source = sample_debtors(230)
    layout = Layout(contacts="second_line", subtotals=True, rows_per_page=20)
    body = await pharmacy.uploaded(build_report(source, layout))
    assert len(body["debtors"]) == 230 and "issues" not in body
    names = {d.acc_no: d for d in source}
    for shown in body["debtors"]:
        d = names[shown["acc_no"]]
        assert _shown(shown)[:-1] == _source(d)[:-1]
    medical = [d["acc_no"] for d in body["debtors"] if d["is_medical_aid_control"]]
    assert medical == [d.acc_no for i, d in enumerate(source) if i % 17 == 5]


async def test_the_organisations_own_scheme_names_are_medical_aid(pharmacy) -> None:
    from tests.faces.messaging.helpers import set_org

    rows = [Debtor("A1", "Acme Health Plan", {"d60": D("10.00")}), Debtor("A2", "Jane Doe", {"d60": D("5.00")})]
    body = await pharmacy.uploaded(build_report(rows))
    assert [d["is_medical_aid_control"] for d in body["debtors"]] == [False, False]
    await set_org(pharmacy.org, medical_aid_names="Acme Health; Other Fund")
    body = await pharmacy.uploaded(build_report(rows))
    assert [d["is_medical_aid_control"] for d in body["debtors"]] == [True, False]


async def test_a_second_report_keeps_ids_and_settles_the_missing(pharmacy) -> None:
    first = [Debtor("A1", "Ann", {"d60": D("100.00")}, email="ann@example.com"),
             Debtor("A2", "Ben", {"d90": D("200.00")}), Debtor("A3", "Cai", {"current": D("5.00")})]
    one = await pharmacy.uploaded(build_report(first))
    ids = {d["acc_no"]: d["id"] for d in one["debtors"]}

    second = [Debtor("A1", "Ann", {"d60": D("150.00")}), Debtor("A4", "Dee", {"d30": D("1.00")})]
    two = await pharmacy.uploaded(build_report(second))
    assert two["report_id"] != one["report_id"] and two["settled"] == 2
    again = {d["acc_no"]: d for d in two["debtors"]}
    assert again["A1"]["id"] == ids["A1"] and again["A1"]["balance"] == 150.0
    assert again["A1"]["email"] == "ann@example.com"  # not printed this time: the last known address stays
    listed = (await pharmacy.get(exclude_medical_aid="false")).json()
    assert [d["acc_no"] for d in listed["debtors"]] == ["A1", "A4"]
    async with transaction(readonly=True) as s:
        accounts = {a.account_code: a for a in (await s.scalars(select(DebtorAccount))).all()}
    assert accounts["A2"].settled_at is not None and accounts["A2"].id == ids["A2"]  # kept, not deleted
    assert accounts["A1"].settled_at is None
    # Back in a later report: listed again, with the same id.
    three = await pharmacy.uploaded(build_report(first))
    assert {d["acc_no"]: d["id"] for d in three["debtors"]} == ids and three["settled"] == 1
    assert (await pharmacy.get()).json()["total"] == 3


async def test_a_row_that_does_not_add_up_is_not_settled(pharmacy) -> None:
    await pharmacy.uploaded(build_report([Debtor("A1", "Ann", {"d60": D("100.00")}),
                                          Debtor("A2", "Ben", {"d90": D("200.00")})]))
    body = await pharmacy.uploaded(build_report([
        Debtor("A1", "Ann", {"d60": D("100.00")}, printed_balance=D("90.00")),
        Debtor("A2", "Ben", {"d90": D("200.00")})]))
    assert body["settled"] == 0 and [i["acc_no"] for i in body["issues"]] == ["A1"]
    listed = (await pharmacy.get()).json()["debtors"]
    assert [(d["acc_no"], d["balance"]) for d in listed] == [("A1", 100.0), ("A2", 200.0)]


BAD_FILES = {
    "not_a_pdf": (b"Account,Name,Balance\n1,John,10\n", "not a PDF"),
    "xlsx": (b"PK\x03\x04" + b"\x00" * 200, "Excel"),
    "empty": (b"", "empty"),
    "broken": (broken_pdf(), "damaged"),
    "scanned": (scanned_pdf(), "scanned"),
    "encrypted": (encrypted_pdf(), "password"),
    "no_table": (text_without_table_pdf(), "No debtors table"),
    "header_only": (build_report([]), "no debtors"),
}


@pytest.mark.parametrize("name", BAD_FILES, ids=list(BAD_FILES))
async def test_unusable_files_are_400_and_change_nothing(pharmacy, name: str) -> None:
    await pharmacy.uploaded(build_report([Debtor("A1", "Ann", {"d60": D("100.00")})]))
    before = (await _count(DebtorReport), await _count(DebtorSnapshot))
    data, words = BAD_FILES[name]
    r = await pharmacy.upload(data)
    assert r.status_code == 400, r.text
    assert list(r.json()) == ["detail"] and isinstance(r.json()["detail"], str)
    assert words.lower() in r.json()["detail"].lower()
    assert (await _count(DebtorReport), await _count(DebtorSnapshot)) == before
    assert (await pharmacy.get()).json()["total"] == 1  # nothing settled by a failed upload


async def test_a_file_over_the_upload_limit_is_400(pharmacy, monkeypatch) -> None:
    from arrears import config

    monkeypatch.setenv("UPLOAD_MAX_SIZE", "4096")
    config.reset_settings()
    r = await pharmacy.upload(build_report(sample_debtors(60)))
    assert r.status_code == 400 and "larger than the maximum upload size" in r.json()["detail"]
    assert await _count(DebtorReport) == 0


async def test_no_file_is_400(pharmacy) -> None:
    r = await pharmacy.client.post(pharmacy.url("/upload"), headers=pharmacy.writer, data={"other": "x"},
                                   files={"not_file": ("a.pdf", b"%PDF-1.4", "application/pdf")})
    assert r.status_code == 400 and "No file provided" in r.json()["detail"]
    r = await pharmacy.client.post(pharmacy.url("/upload"), headers=pharmacy.writer, json={"file": "x"})
    assert r.status_code == 400 and "No file provided" in r.json()["detail"]
