"""/api/v1/payments through HTTP: recording one and in bulk, idempotency by external id, matching
by reference and by hand, loan and book balances net of payments (never counting a payment a newer
report already holds), allocation oldest first, reversal, paid_up, the events and their audit.
Both databases."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from arrears.accounts.models import Account, AccountStatusChange
from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.payments.models import Payment
from tests.faces.repaysync.conftest import RS
from tests.payments.helpers import book_account, loan_account, upload_book


async def _count(model: type, **where: object) -> int:
    async with transaction() as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return int(await s.scalar(q) or 0)


async def test_record_one_against_a_loan_lowers_its_balance_and_fills_instalments(rs: RS):
    t = await rs.tenant()
    loan, acc = await loan_account(t, principal_amount="12000.00", tenure_months=12)
    h = await t.h("manager")
    r = await t.client.post("/api/v1/payments", headers=h,
                            json={"account": acc, "amount": 1500.5, "paidOn": "2025-04-10", "method": "EFT",
                                  "externalId": "BANK-1", "note": "first"})
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["status"] == "recorded" and p["accountId"] == acc and p["amount"] == 1500.5 and p["created"] is True
    assert '"amount":1500.50' in r.text and p["method"] == "eft" and p["source"] == "api"
    body = (await t.client.get(f"/api/v1/accounts/{acc}", headers=await t.h())).json()
    assert body["balance"] == 10499.5 and [x["id"] for x in body["payments"]] == [p["id"]]
    inst = body["allocation"]["instalments"]
    assert inst[0] == {"number": 1, "dueDate": "2025-04-09", "amount": 1000, "paid": 1000}
    assert inst[1]["paid"] == 500.5 and inst[2]["paid"] == 0
    # The same external id again adds nothing and answers the payment made the first time.
    again = await t.client.post("/api/v1/payments", headers=h,
                                json={"account": acc, "amount": "99.00", "paidOn": "2025-04-11", "externalId": "BANK-1"})
    assert again.status_code == 200 and again.json()["id"] == p["id"] and again.json()["created"] is False
    assert await _count(Payment, org_id=t.org.id) == 1
    # Audited: one payment.recorded with its after, naming the actor.
    async with transaction() as s:
        ev = (await s.scalars(select(DomainEvent).where(DomainEvent.type == "payment.recorded",
                                                        DomainEvent.org_id == t.org.id))).one()
    assert ev.before is None and ev.after["amount"] == "1500.50" and ev.after["accountId"] == acc
    assert ev.actor.startswith("user:") and ev.data["paymentId"] == p["id"]


async def test_reference_matching_unmatched_then_matched_by_hand(rs: RS):
    t = await rs.tenant()
    loan, acc = await loan_account(t, principal_amount="1000.00")
    h = await t.h("manager")
    by_ref = await t.client.post("/api/v1/payments", headers=h, json={
        "reference": loan["loan_account_number"], "amount": "100", "paidOn": "2025-05-01"})
    assert by_ref.status_code == 201 and by_ref.json()["accountId"] == acc and by_ref.json()["status"] == "recorded"
    lost = await t.client.post("/api/v1/payments", headers=h, json={
        "reference": "NOBODY-42", "amount": "250.00", "paidOn": "2025-05-02"})
    assert lost.status_code == 201 and lost.json()["status"] == "unmatched" and lost.json()["accountId"] is None
    listed = (await t.client.get("/api/v1/payments", params={"status": "unmatched"}, headers=h)).json()
    assert [x["id"] for x in listed["data"]] == [lost.json()["id"]] and listed["pagination"]["total"] == 1
    assert (await t.client.get(f"/api/v1/accounts/{acc}", headers=h)).json()["balance"] == 900
    # Matched by hand: it counts from then on; a second match is refused.
    m = await t.client.post(f"/api/v1/payments/{lost.json()['id']}/match", json={"accountId": acc}, headers=h)
    assert m.status_code == 200, m.text
    assert m.json()["status"] == "recorded" and m.json()["accountId"] == acc and m.json()["matchedBy"].startswith("user:")
    assert (await t.client.get(f"/api/v1/accounts/{acc}", headers=h)).json()["balance"] == 650
    again = await t.client.post(f"/api/v1/payments/{lost.json()['id']}/match", json={"accountId": acc}, headers=h)
    assert again.status_code == 409 and again.json()["error"] == "PAYMENT_NOT_UNMATCHED"
    # Filters: by account and by dates.
    rows = (await t.client.get("/api/v1/payments", params={"accountId": acc, "dateFrom": "2025-05-02"},
                               headers=h)).json()["data"]
    assert [x["id"] for x in rows] == [lost.json()["id"]]


async def test_bulk_all_checked_first_then_recorded(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    h = await t.h("admin")
    bad = await t.client.post("/api/v1/payments", headers=h, json={"payments": [
        {"account": acc, "amount": "10.00", "paidOn": "2025-05-01"},
        {"account": acc, "amount": "-5", "paidOn": "2025-05-01"},
        {"account": acc, "amount": "1.001", "paidOn": "nope"}]})
    assert bad.status_code == 400 and bad.json()["error"] == "VALIDATION_ERROR"
    assert {"payments[1].amount", "payments[2].amount", "payments[2].paidOn"} <= set(bad.json()["details"])
    assert await _count(Payment, org_id=t.org.id) == 0
    ok = await t.client.post("/api/v1/payments", headers=h, json={"payments": [
        {"account": acc, "amount": "10.00", "paidOn": "2025-05-01", "externalId": "X1"},
        {"account": acc, "amount": "20.00", "paidOn": "2025-05-02", "externalId": "X1"},
        {"reference": "nobody", "amount": "30.00", "paidOn": "2025-05-03"}]})
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert body["created"] == 2 and body["existing"] == 1
    assert [x["status"] for x in body["data"]] == ["recorded", "recorded", "unmatched"]
    assert body["data"][0]["id"] == body["data"][1]["id"]
    for payload in ({}, {"account": acc}, {"amount": 1, "paidOn": "2025-01-01"}, [1, 2], {"payments": "x"},
                    {"account": acc, "amount": 1, "paidOn": "2025-01-01", "colour": "red"}):
        r = await t.client.post("/api/v1/payments", headers=h, json=payload)
        assert r.status_code == 400, (payload, r.text)
    assert await _count(Payment, org_id=t.org.id) == 2


async def test_book_balance_net_of_payments_after_the_report_date_only(rs: RS, tmp_path):
    t = await rs.tenant()
    # current 20, 30 days 50, 90 days 100: 170 owed as of 2025-06-30.
    await upload_book(t, tmp_path / "june.csv", [["B1", "Bravo", "", "0821234567", 20, 50, 0, 100, 0, 170]],
                      "2025-06-30")
    acc = await book_account(t, "B1")
    h = await t.h("manager")
    body = (await t.client.get(f"/api/v1/accounts/{acc}", headers=h)).json()
    assert body["balance"] == 170 and body["reportDate"] == "2025-06-30"
    # Paid on the report's date: taken as already in the report, not counted.
    r = await t.client.post("/api/v1/payments", headers=h, json={"account": acc, "amount": "30", "paidOn": "2025-06-30"})
    assert r.status_code == 201
    assert (await t.client.get(f"/api/v1/accounts/{acc}", headers=h)).json()["balance"] == 170
    # Paid after it: counted, oldest bucket first (90 days, then 30 days, then current).
    await t.client.post("/api/v1/payments", headers=h, json={"account": acc, "amount": "120", "paidOn": "2025-07-05"})
    body = (await t.client.get(f"/api/v1/accounts/{acc}", headers=h)).json()
    assert body["balance"] == 50
    buckets = body["allocation"]["buckets"]
    assert buckets["d90"] == 0 and buckets["d30"] == 30 and buckets["current"] == 20 and body["allocation"]["paid"] == 120
    # A newer report drawn after the payment holds it already (50 owed): never counted twice.
    await upload_book(t, tmp_path / "july.csv", [["B1", "Bravo", "", "0821234567", 20, 30, 0, 0, 0, 50]],
                      "2025-07-31")
    body = (await t.client.get(f"/api/v1/accounts/{acc}", headers=h)).json()
    assert body["balance"] == 50 and body["reportDate"] == "2025-07-31" and body["allocation"]["paid"] == 0
    assert len(body["payments"]) == 2  # still listed


async def test_paid_up_when_covered_and_active_again_when_reversed(rs: RS, tmp_path):
    t = await rs.tenant()
    await upload_book(t, tmp_path / "b.csv", [["P1", "Papa", "", "0821234567", 40, 60, 0, 0, 0, 100]], "2025-06-30")
    acc = await book_account(t, "P1")
    _, loan_acc = await loan_account(t, principal_amount="300.00", tenure_months=3)
    h = await t.h("manager")
    pays = (await t.client.post("/api/v1/payments", headers=h, json={"payments": [
        {"account": acc, "amount": "60", "paidOn": "2025-07-01"},
        {"account": acc, "amount": "40", "paidOn": "2025-07-02"},
        {"account": loan_acc, "amount": "300", "paidOn": "2025-07-02"}]})).json()["data"]
    for a in (acc, loan_acc):
        body = (await t.client.get(f"/api/v1/accounts/{a}", headers=h)).json()
        assert body["status"] == "paid_up" and body["balance"] == 0
        assert body["statusHistory"][-1]["to"] == "paid_up" and body["statusHistory"][-1]["actor"] == "system"
    # A bounced payment: reversed, no longer counted, the account owes again.
    r = await t.client.post(f"/api/v1/payments/{pays[1]['id']}/reverse", json={"reason": "R04 insufficient funds"},
                            headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reversed" and r.json()["reversalReason"] == "R04 insufficient funds"
    body = (await t.client.get(f"/api/v1/accounts/{acc}", headers=h)).json()
    assert body["status"] == "active" and body["balance"] == 40
    assert body["allocation"]["buckets"]["d30"] == 0 and body["allocation"]["buckets"]["current"] == 40
    again = await t.client.post(f"/api/v1/payments/{pays[1]['id']}/reverse", json={"reason": "x"}, headers=h)
    assert again.status_code == 409
    no_reason = await t.client.post(f"/api/v1/payments/{pays[0]['id']}/reverse", json={"reason": " "}, headers=h)
    assert no_reason.status_code == 400
    async with transaction() as s:
        ev = (await s.scalars(select(DomainEvent).where(DomainEvent.type == "payment.reversed",
                                                        DomainEvent.org_id == t.org.id))).one()
        changes = list(await s.scalars(select(AccountStatusChange.to_status).where(
            AccountStatusChange.account_id == Account.id, Account.org_id == t.org.id)
            .order_by(AccountStatusChange.id)))
        statuses = list(await s.scalars(select(DomainEvent.data).where(DomainEvent.type == "account.status_changed",
                                                                       DomainEvent.org_id == t.org.id)))
    assert ev.before["status"] == "recorded" and ev.after["status"] == "reversed" and ev.data["reason"]
    assert sorted(changes) == ["active", "paid_up", "paid_up"]
    assert sorted(d["to"] for d in statuses) == ["active", "paid_up", "paid_up"]


async def test_amounts_are_exact_decimals(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t, principal_amount="0.30")
    h = await t.h()
    for amount in ("0.10", "0.20"):
        assert (await t.client.post("/api/v1/payments", headers=h,
                                    json={"account": acc, "amount": amount, "paidOn": "2025-05-01"})).status_code == 201
    body = (await t.client.get(f"/api/v1/accounts/{acc}", headers=h)).json()
    assert body["balance"] == 0 and body["status"] == "paid_up"
    async with transaction() as s:
        total = await s.scalar(select(func.sum(Payment.amount)).where(Payment.org_id == t.org.id))
    assert Decimal(str(total)) == Decimal("0.30")


async def test_the_same_external_id_at_once_is_one_payment(rs: RS):
    import asyncio

    t = await rs.tenant()
    _, acc = await loan_account(t)
    h = await t.h("manager")
    body = {"account": acc, "amount": "10.00", "paidOn": "2025-05-01", "externalId": "RACE-1"}
    answers = await asyncio.gather(*(t.client.post("/api/v1/payments", headers=h, json=body) for _ in range(4)))
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert await _count(Payment, org_id=t.org.id) == 1
