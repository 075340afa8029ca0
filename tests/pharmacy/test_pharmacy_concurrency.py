"""Races on the pharmacy face: two PDF reports of one pharmacy uploaded at once (one integer
debtor id per account number, no debtor of the newest report marked settled, never a 500), and
reminders to the same debtor sent at once (the contact cap holds). On SQLite writes serialise;
the races show on PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal as D

from sqlalchemy import func, select

from arrears.customers.models import Customer
from arrears.db import transaction
from arrears.debtors.models import DebtorAccount, DebtorReport
from arrears.messaging.models import Message
from tests.debtors.pdf.make_pdfs import Debtor, build_report, sample_debtors
from tests.faces.messaging.helpers import quick, set_org  # noqa: F401
from tests.faces.pharmacy.conftest import pharmacy  # noqa: F401


def _reports(round_: int) -> tuple[list[Debtor], list[Debtor]]:
    """Two reports sharing 200 account numbers (in opposite orders), 50 of each their own."""
    rows = sample_debtors(300, seed=round_ + 1, medical_every=0)
    bump = D(round_ + 1)
    first = rows[:250]
    second = [replace(d, amounts={**d.amounts, "d60": d.amount("d60") + bump}) for d in reversed(rows[50:])]
    return first, second


async def _accounts(org_id: int) -> list[DebtorAccount]:
    async with transaction(readonly=True) as s:
        return list((await s.scalars(select(DebtorAccount).where(DebtorAccount.org_id == org_id))).all())


async def test_two_reports_uploaded_at_once(pharmacy) -> None:  # noqa: F811
    """Two PDF reports sharing 200 account numbers (printed in opposite orders) uploaded at once,
    three times: both 200, one integer id per account number across every answer and round, one
    customer per code, and the newest report's debtors listed (none of them settled)."""
    seen: dict[str, int] = {}  # acc_no -> debtor id, across rounds
    for round_ in range(3):
        first, second = _reports(round_)
        pdfs = [build_report(first), build_report(second)]
        responses = await asyncio.gather(*(pharmacy.upload(pdf, filename=f"r{round_}-{n}.pdf")
                                           for n, pdf in enumerate(pdfs)))
        assert [r.status_code for r in responses] == [200, 200], [r.text[:300] for r in responses]
        bodies = [r.json() for r in responses]
        # Each answer lists every debtor of its report, each with one id per account number.
        for body, rows in zip(bodies, (first, second), strict=True):
            assert sorted(d["acc_no"] for d in body["debtors"]) == sorted(d.acc_no for d in rows)
            for d in body["debtors"]:
                assert seen.setdefault(d["acc_no"], d["id"]) == d["id"], d["acc_no"]
        accounts = await _accounts(pharmacy.org.id)
        assert len(accounts) == len({d.acc_no for d in (*first, *second)} | set(seen))
        assert {a.account_code: a.id for a in accounts} == seen
        async with transaction(readonly=True) as s:
            codes = (await s.execute(select(Customer.customer_code, func.count())
                                     .where(Customer.org_id == pharmacy.org.id)
                                     .group_by(Customer.customer_code))).all()
            reports = (await s.scalars(select(DebtorReport).where(DebtorReport.org_id == pharmacy.org.id)
                                       .order_by(DebtorReport.created_at.desc(), DebtorReport.id.desc()))).all()
        assert [c for c, n in codes if n != 1] == []
        # The newest report is the book: its debtors are listed with its balances, the rest settled.
        newest = reports[0]
        rows = first if newest.id == bodies[0]["report_id"] else second
        assert newest.id in (bodies[0]["report_id"], bodies[1]["report_id"])
        listed = {a.account_code for a in accounts if a.settled_at is None}
        assert listed == {d.acc_no for d in rows}
        assert {a.account_code for a in accounts if a.latest_report_id == newest.id} == listed
        by_code = {a.account_code: a for a in accounts}
        assert all(by_code[d.acc_no].total_balance == d.balance for d in rows)
        stats = await pharmacy.get("/statistics")
        assert stats.status_code == 200 and stats.json()["total_accounts"] == len(rows)


async def test_reminders_to_one_debtor_at_once_keep_the_contact_cap(pharmacy, quick) -> None:  # noqa: F811
    """Four SMS reminders to one debtor at once with a cap of one a day: one is sent, three are
    refused for the cap (messaging's contact-cap lock), all 200."""
    rows = [Debtor("A1", "Ann Smith", {"d60": D("100.00")}, email="ann@example.com", phone="082 123 4567")]
    body = await pharmacy.uploaded(build_report(rows))
    debtor = body["debtors"][0]["id"]
    await set_org(pharmacy.org, smsportal_client_id="client-1", smsportal_api_secret="s3cret", contact_cap="1")
    responses = await asyncio.gather(*(pharmacy.post("/send-sms", {"debtor_ids": [debtor]}) for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4, [r.text[:300] for r in responses]
    answers = [r.json() for r in responses]
    assert sum(len(a["sent"]) for a in answers) == 1
    assert sum(len(a["errors"]) for a in answers) == 3
    assert all("cap" in e["error"] for a in answers for e in a["errors"])
    async with transaction(readonly=True) as s:
        sent = (await s.scalars(select(Message).where(Message.org_id == pharmacy.org.id,
                                                      Message.status != "failed"))).all()
    assert len(sent) == 1 and sent[0].debtor_account_id == debtor


async def test_reminders_with_one_idempotency_key_at_once_are_one_message(pharmacy, quick) -> None:  # noqa: F811
    """The same Idempotency-Key sent three times at once: one message; every answer names it as
    sent, or says it is being sent by the first call (never that it is held by contact hours)."""
    rows = [Debtor("A1", "Ann Smith", {"d60": D("100.00")}, email="ann@example.com", phone="082 123 4567")]
    debtor = (await pharmacy.uploaded(build_report(rows)))["debtors"][0]["id"]
    await set_org(pharmacy.org, smsportal_client_id="client-1", smsportal_api_secret="s3cret", contact_cap="0")
    headers = {**pharmacy.writer, "Idempotency-Key": "remind-ann-1"}
    responses = await asyncio.gather(*(pharmacy.post("/send-sms", {"debtor_ids": [debtor]}, headers=headers)
                                       for _ in range(3)))
    assert [r.status_code for r in responses] == [200] * 3, [r.text[:300] for r in responses]
    answers = [r.json() for r in responses]
    sent = [a["sent"][0] for a in answers if a["sent"]]
    assert len(sent) >= 1 and len({x["external_id"] for x in sent}) == 1, answers
    # A replay that finds the first call's message still in flight says so (it is not held by
    # the contact hours, which are off here).
    waiting = [e["error"] for a in answers for e in a["errors"]]
    assert len(sent) + len(waiting) == 3
    assert all("being sent" in e for e in waiting), waiting
    async with transaction(readonly=True) as s:
        keyed = await s.scalar(select(func.count()).select_from(Message).where(
            Message.org_id == pharmacy.org.id, Message.idempotency_key.is_not(None)))
    assert keyed == 1
