"""Who may do what on /api/v1/payments: every role with write and read access, ins_ keys by scope,
and another organisation's ids on every endpoint (404, nothing changed). Both databases."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from arrears.db import transaction
from arrears.payments.models import Payment
from tests.faces.repaysync.conftest import RS
from tests.payments.helpers import import_file, key, loan_account, write_csv

PAY = {"amount": "10.00", "paidOn": "2025-05-01"}


async def test_roles_record_match_reverse_and_read(rs: RS, tmp_path):
    t = await rs.tenant()
    loan, acc = await loan_account(t)
    ref = loan["loan_account_number"]
    # Recording (by reference: collection officers see only their assigned customers' accounts).
    for role, expected in (("admin", 201), ("manager", 201), ("collection_officer", 201),
                           ("calling_agent", 403), ("field_officer", 403)):
        r = await t.client.post("/api/v1/payments", json={"reference": ref, **PAY}, headers=await t.h(role))
        assert r.status_code == expected, (role, r.text)
    for role in ("admin", "manager", "collection_officer"):
        r = await t.client.post("/api/v1/payments", json={"reference": ref, **PAY},
                                headers=await t.h(role, access="read"))
        assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN", role
    unmatched = (await t.client.post("/api/v1/payments", json={"reference": "??", **PAY},
                                     headers=await t.h())).json()["id"]
    recorded = (await t.client.post("/api/v1/payments", json={"account": acc, **PAY, "amount": "5"},
                                    headers=await t.h())).json()["id"]
    # Matching: recorders only.
    for role in ("calling_agent", "field_officer"):
        r = await t.client.post(f"/api/v1/payments/{unmatched}/match", json={"accountId": acc}, headers=await t.h(role))
        assert r.status_code == 403, role
    r = await t.client.post(f"/api/v1/payments/{unmatched}/match", json={"accountId": acc},
                            headers=await t.h("manager", access="read"))
    assert r.status_code == 403
    # Reversing: admins and managers only.
    for role in ("collection_officer", "calling_agent", "field_officer"):
        r = await t.client.post(f"/api/v1/payments/{recorded}/reverse", json={"reason": "bounced"},
                                headers=await t.h(role))
        assert r.status_code == 403, role
    r = await t.client.post(f"/api/v1/payments/{recorded}/reverse", json={"reason": "bounced"},
                            headers=await t.h("admin", access="read"))
    assert r.status_code == 403
    assert (await t.client.post(f"/api/v1/payments/{recorded}/reverse", json={"reason": "bounced"},
                                headers=await t.h("manager"))).status_code == 200
    # Reading: everyone, read access too.
    for role in ("admin", "manager", "collection_officer", "calling_agent", "field_officer"):
        h = await t.h(role, access="read")
        assert (await t.client.get("/api/v1/payments", headers=h)).status_code == 200, role
        assert (await t.client.get(f"/api/v1/payments/{unmatched}", headers=h)).status_code == 200, role
    # Importing: recorders with write access.
    f = write_csv(tmp_path / "p.csv", [["Date", "Reference", "Amount"], ["2025-05-01", ref, "1.00"]])
    assert (await import_file(t, f, await t.h("calling_agent"))).status_code == 403
    assert (await import_file(t, f, await t.h("manager", access="read"), preview=True)).status_code == 403
    assert (await import_file(t, f, await t.h("collection_officer"))).status_code == 201


async def test_another_organisations_ids_are_404_everywhere(rs: RS, tmp_path):
    a, b = await rs.tenant("Alpha"), await rs.tenant("Beta")
    _, acc_a = await loan_account(a)
    _, acc_b = await loan_account(b)
    pay_a = (await a.client.post("/api/v1/payments", json={"account": acc_a, **PAY}, headers=await a.h())).json()["id"]
    lost_a = (await a.client.post("/api/v1/payments", json={"reference": "zz", **PAY}, headers=await a.h())).json()["id"]
    hb = await b.h("admin")
    assert (await b.client.get(f"/api/v1/payments/{pay_a}", headers=hb)).status_code == 404
    r = await b.client.post(f"/api/v1/payments/{pay_a}/reverse", json={"reason": "x"}, headers=hb)
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"
    assert (await b.client.post(f"/api/v1/payments/{lost_a}/match", json={"accountId": acc_b},
                                headers=hb)).status_code == 404
    # B's own unmatched payment matched to A's account: 404, nothing changes.
    lost_b = (await b.client.post("/api/v1/payments", json={"reference": "zz", **PAY}, headers=hb)).json()["id"]
    assert (await b.client.post(f"/api/v1/payments/{lost_b}/match", json={"accountId": acc_a},
                                headers=hb)).status_code == 404
    assert (await b.client.post("/api/v1/payments", json={"account": acc_a, **PAY}, headers=hb)).status_code == 404
    assert (await b.client.post("/api/v1/payments", json={"payments": [{"account": acc_a, **PAY}]},
                                headers=hb)).status_code == 404
    listed = (await b.client.get("/api/v1/payments", params={"accountId": acc_a}, headers=hb)).json()
    assert listed["data"] == [] and listed["pagination"]["total"] == 0
    assert {x["id"] for x in (await b.client.get("/api/v1/payments", headers=hb)).json()["data"]} == {lost_b}
    imp = await import_file(a, write_csv(tmp_path / "a.csv", [["Date", "Reference", "Amount"], ["2025-05-01", "q", "1"]]))
    assert (await b.client.get(f"/api/v1/payments/imports/{imp.json()['id']}", headers=hb)).status_code == 404
    assert (await a.client.get(f"/api/v1/payments/imports/{imp.json()['id']}", headers=await a.h())).status_code == 200
    # A's payment is as it was; unknown and malformed ids are 404 too.
    async with transaction() as s:
        p = await s.get(Payment, uuid.UUID(pay_a))
        assert p is not None and p.status == "recorded"
        lost = await s.get(Payment, uuid.UUID(lost_a))
        assert lost is not None and lost.status == "unmatched"
    for bad in (str(uuid.uuid4()), "not-a-uuid"):
        assert (await b.client.get(f"/api/v1/payments/{bad}", headers=hb)).status_code == 404


async def test_ins_keys_by_scope(rs: RS, tmp_path):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    reader, writer, other = (await key(t, ["payments:read"]), await key(t, ["payments:write"]),
                             await key(t, ["accounts:read"]))
    r = await t.client.post("/api/v1/payments", json={"account": acc, **PAY}, headers=writer)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.json()["createdBy"].startswith("api_key:")
    assert (await t.client.get(f"/api/v1/payments/{pid}", headers=reader)).status_code == 200
    assert (await t.client.get("/api/v1/payments", headers=writer)).status_code == 200
    r = await t.client.post("/api/v1/payments", json={"account": acc, **PAY}, headers=reader)
    assert r.status_code == 403 and "payments:write" in r.json()["message"]
    assert (await t.client.get("/api/v1/payments", headers=other)).status_code == 403
    assert (await t.client.get(f"/api/v1/payments/{pid}", headers=other)).status_code == 403
    lost = (await t.client.post("/api/v1/payments", json={"reference": "zz", **PAY}, headers=writer)).json()["id"]
    assert (await t.client.post(f"/api/v1/payments/{lost}/match", json={"accountId": acc},
                                headers=reader)).status_code == 403
    assert (await t.client.post(f"/api/v1/payments/{lost}/match", json={"accountId": acc},
                                headers=writer)).status_code == 200
    # Keys never reverse, whatever their scopes.
    for h in (writer, await key(t, ["*"])):
        assert (await t.client.post(f"/api/v1/payments/{pid}/reverse", json={"reason": "x"},
                                    headers=h)).status_code == 403
    f = write_csv(tmp_path / "k.csv", [["Date", "Reference", "Amount"], ["2025-05-01", "q", "1"]])
    assert (await import_file(t, f, reader)).status_code == 403
    assert (await import_file(t, f, writer)).status_code == 201
    async with transaction() as s:
        assert (await s.scalar(select(Payment.status).where(Payment.id == uuid.UUID(pid)))) == "recorded"
