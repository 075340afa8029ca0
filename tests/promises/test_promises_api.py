"""/api/v1/promises through HTTP: recording (an amount by a date, a plan), validation, cancelling,
lists and filters, /api/v1/accounts/{id} showing the account's promises, every role, read access,
ins_ keys by scope, another organisation's ids (404 on every endpoint), a promise completing the
account's open tasks, the customer's timeline, and `arrears promises check`. Both databases."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from arrears.accounts.models import Account
from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.tasks.models import Task
from tests.faces.accounts.test_accounts_api import _key
from tests.faces.repaysync.conftest import RS
from tests.inprocess_cli import arrears_async
from tests.promises.helpers import days, loan_account, pay, promise, run, today

ROLES = ("admin", "manager", "collection_officer", "calling_agent", "field_officer")


async def test_record_a_promise_or_a_plan_and_read_it_back(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    r = await t.client.post("/api/v1/promises", headers=await t.h("calling_agent"), json={
        "accountId": acc, "amount": 1234.56, "date": (day + days(3)).isoformat(), "note": "on payday"})
    assert r.status_code == 201, r.text
    p = r.json()
    assert '"amount":1234.56' in r.text and p["paidAmount"] == 0 and p["status"] == "open"
    assert p["agentId"] == (await t.member("calling_agent")).id and p["note"] == "on payday"
    assert p["account"]["kind"] == "loan" and p["instalments"] == [
        {"number": 1, "amount": 1234.56, "dueDate": (day + days(3)).isoformat(), "covered": 0}]
    got = await t.client.get(f"/api/v1/promises/{p['id']}", headers=await t.h("field_officer", access="read"))
    assert got.status_code == 200 and got.json()["id"] == p["id"]
    ev = (await _events("promise.created"))[0]
    assert ev.subject_id == p["id"] and ev.data["promise"]["amount"] == "1234.56"

    plan = await promise(t, acc, [("100.00", day + days(30)), ("100.00", day + days(60))])
    assert plan["amount"] == 200 and len(plan["instalments"]) == 2
    # The account shows its promises (the first was superseded by the plan).
    body = (await t.client.get(f"/api/v1/accounts/{acc}", headers=await t.h())).json()
    assert [(x["id"], x["status"]) for x in body["promises"]] == [(p["id"], "cancelled"), (plan["id"], "open")]
    assert body["status"] == "promised"


async def _events(kind: str) -> list[DomainEvent]:
    async with transaction() as s:
        return list(await s.scalars(select(DomainEvent).where(DomainEvent.type == kind).order_by(DomainEvent.id)))


async def test_invalid_promises_are_refused_with_their_fields(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    h = await t.h()
    cases = [
        ({"accountId": acc}, "instalments"),
        ({"accountId": acc, "amount": "10.00"}, "date"),
        ({"accountId": acc, "amount": "0", "date": day.isoformat()}, "instalments[0].amount"),
        ({"accountId": acc, "amount": "10.001", "date": day.isoformat()}, "instalments[0].amount"),
        ({"accountId": acc, "amount": "10", "date": (day - days(1)).isoformat()}, "instalments[0].date"),
        ({"accountId": acc, "amount": "10", "date": "tomorrow"}, "instalments[0].date"),
        ({"accountId": acc, "instalments": [{"amount": "1", "date": day.isoformat()}] * 37}, "instalments"),
        ({"accountId": acc, "amount": "1", "date": day.isoformat(),
          "instalments": [{"amount": "1", "date": day.isoformat()}]}, "instalments"),
    ]
    for body, field in cases:
        r = await t.client.post("/api/v1/promises", json=body, headers=h)
        assert r.status_code == 400 and field in r.json()["details"], (body, r.text)
    r = await t.client.post("/api/v1/promises", json={"accountId": str(uuid.uuid4()), "amount": "1",
                                                       "date": day.isoformat()}, headers=h)
    assert r.status_code == 404
    async with transaction() as s:
        assert (await s.scalars(select(DomainEvent).where(DomainEvent.type == "promise.created"))).all() == []


async def test_every_role_records_read_access_reads_only(rs: RS):
    t = await rs.tenant()
    day = await today(t)
    officer = await t.member("collection_officer")
    for role in ROLES:
        customer = await t.customer(assigned_collection_officer=officer.id)
        loan = await t.loan(customer["id"])
        async with transaction() as s:
            acc = str((await s.scalars(select(Account.id).where(Account.loan_id == loan["id"]))).one())
        r = await t.client.post("/api/v1/promises", json={"accountId": acc, "amount": "5", "date": day.isoformat()},
                                headers=await t.h(role))
        assert r.status_code == 201, (role, r.text)
        r = await t.client.post("/api/v1/promises", json={"accountId": acc, "amount": "5", "date": day.isoformat()},
                                headers=await t.h(role, access="read"))
        assert r.status_code == 403, role
        listed = await t.client.get("/api/v1/promises", headers=await t.h(role, access="read"))
        # (The read-only officer is another user, assigned no customer: sees none.)
        assert listed.status_code == 200 and (listed.json()["pagination"]["total"] >= 1) == (role != "collection_officer")


async def test_a_collection_officer_sees_only_assigned_customers(rs: RS):
    t = await rs.tenant()
    day = await today(t)
    _, acc = await loan_account(t)  # a customer nobody is assigned to
    await promise(t, acc, [("5.00", day)])
    officer = await t.h("collection_officer")
    r = await t.client.post("/api/v1/promises", json={"accountId": acc, "amount": "5", "date": day.isoformat()},
                            headers=officer)
    assert r.status_code == 404
    assert (await t.client.get("/api/v1/promises", headers=officer)).json()["data"] == []


async def test_cancel_by_its_agent_or_a_manager_only(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    p = await promise(t, acc, [("50.00", day + days(2))], role="calling_agent")
    url = f"/api/v1/promises/{p['id']}/cancel"
    other = await t.member("field_officer")
    r = await t.client.post(url, headers=other.headers)
    assert r.status_code == 403
    r = await t.client.post(url, json={"reason": "wrong amount"}, headers=await t.h("calling_agent"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["closedBy"].startswith("user:")
    assert (await t.client.get(f"/api/v1/accounts/{acc}", headers=await t.h())).json()["status"] == "active"
    r = await t.client.post(url, headers=await t.h("manager"))
    assert r.status_code == 409 and r.json()["error"] == "PROMISE_CLOSED"


async def test_lists_filter_and_page(rs: RS):
    t = await rs.tenant()
    day = await today(t)
    ids = []
    for n in range(3):
        _, acc = await loan_account(t)
        ids.append((await promise(t, acc, [("10.00", day + days(n + 1))], role="calling_agent"))["id"])
    _, acc = await loan_account(t)
    kept = await promise(t, acc, [("10.00", day + days(9))])
    await pay(t, acc, "10.00", day)
    h = await t.h()
    page = (await t.client.get("/api/v1/promises", params={"limit": 2}, headers=h)).json()
    assert page["pagination"] == {"page": 1, "limit": 2, "total": 4, "totalPages": 2}
    assert [x["id"] for x in page["data"]] == ids[:2]
    by = (await t.client.get("/api/v1/promises", params={"status": "kept"}, headers=h)).json()
    assert [x["id"] for x in by["data"]] == [kept["id"]]
    agent = (await t.member("calling_agent")).id
    by = (await t.client.get("/api/v1/promises", params={"agentId": agent}, headers=h)).json()
    assert [x["id"] for x in by["data"]] == ids
    by = (await t.client.get("/api/v1/promises", params={"accountId": acc}, headers=h)).json()
    assert [x["id"] for x in by["data"]] == [kept["id"]]
    window = {"dateFrom": (day + days(2)).isoformat(), "dateTo": (day + days(3)).isoformat()}
    by = (await t.client.get("/api/v1/promises", params=window, headers=h)).json()
    assert [x["id"] for x in by["data"]] == ids[1:]
    for bad in ({"status": "nope"}, {"accountId": "x"}, {"dateFrom": "soon"}, {"limit": 101}):
        assert (await t.client.get("/api/v1/promises", params=bad, headers=h)).status_code == 400, bad


async def test_keys_by_scope_and_another_organisations_ids_are_404(rs: RS):
    t, other = await rs.tenant(), await rs.tenant("Other Lending")
    day = await today(t)
    _, acc = await loan_account(t)
    p = await promise(t, acc, [("10.00", day + days(1))])
    reader, writer, none = (await _key(t, ["promises:read"]), await _key(t, ["promises:write"]),
                            await _key(t, ["accounts:read"]))
    assert (await t.client.get(f"/api/v1/promises/{p['id']}", headers=reader)).status_code == 200
    assert (await t.client.get("/api/v1/promises", headers=writer)).status_code == 200
    r = await t.client.get("/api/v1/promises", headers=none)
    assert r.status_code == 403 and "promises:read" in r.json()["message"]
    body = {"accountId": acc, "amount": "3", "date": day.isoformat()}
    assert (await t.client.post("/api/v1/promises", json=body, headers=reader)).status_code == 403
    made = await t.client.post("/api/v1/promises", json=body, headers=writer)
    assert made.status_code == 201 and made.json()["agentId"] is None and made.json()["createdBy"].startswith("api_key:")
    # The other organisation: every endpoint says 404 for these ids, its lists hold none of them.
    for h in (await other.h(), await _key(other, ["*"])):
        assert (await t.client.get(f"/api/v1/promises/{p['id']}", headers=h)).status_code == 404
        assert (await t.client.post(f"/api/v1/promises/{p['id']}/cancel", headers=h)).status_code == 404
        assert (await t.client.post("/api/v1/promises", json=body, headers=h)).status_code == 404
        assert (await t.client.get(f"/api/v1/accounts/{acc}", headers=h)).status_code == 404
        assert (await t.client.get("/api/v1/promises", params={"accountId": acc}, headers=h)).json()["data"] == []


async def test_a_promise_completes_the_accounts_open_tasks(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    r = await t.client.post("/api/v1/tasks", json={"accountId": acc, "kind": "call", "dueDate": day.isoformat()},
                            headers=await t.h("calling_agent"))
    assert r.status_code == 201
    p = await promise(t, acc, [("10.00", day + days(1))], role="calling_agent")
    async with transaction() as s:
        task = (await s.scalars(select(Task).where(Task.id == uuid.UUID(r.json()["id"])))).one()
    assert task.status == "done" and task.closed_by == f"promise:{p['id']}"


async def test_the_customer_timeline_shows_promises_made_and_broken(rs: RS):
    t = await rs.tenant()
    loan, acc = await loan_account(t)
    day = await today(t)
    p = await promise(t, acc, [("70.00", day)])
    await run(t, day + days(3))
    r = await t.client.get(f"/api/customers/{loan['customer']}/timeline/", headers=await t.h())
    assert r.status_code == 200, r.text
    mine = [e for e in r.json() if e["type"].startswith("promise.")]
    assert [e["type"] for e in mine] == ["promise.broken", "promise.created"], r.json()  # newest first
    assert "promise broken (0.00 paid of 70.00" in mine[0]["summary"] and p["id"] == mine[0]["data"]["promise_id"]


async def test_the_cli_check_prints_counts(rs: RS):
    t = await rs.tenant()
    day = await today(t)
    accs = [(await loan_account(t))[1] for _ in range(3)]
    await promise(t, accs[0], [("10.00", day)])
    await promise(t, accs[1], [("10.00", day)])
    await promise(t, accs[2], [("10.00", day + days(30))])
    await pay(t, accs[0], "10.00", day)
    out = await arrears_async("promises", "check", "--org", str(t.org.id), "--date", (day + days(3)).isoformat(),
                              "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    got = json.loads(out.stdout)
    assert (got["kept"], got["broken"], got["open"], got["tasks"]) == (0, 1, 1, 1)
    human = await arrears_async("promises", "check", "--org", str(t.org.id))
    assert human.returncode == 0 and "0 kept, 0 broken, 1 open" in human.stdout + human.stderr
    bad = await arrears_async("promises", "check", "--org", str(t.org.id), "--date", "soon")
    assert bad.returncode != 0
