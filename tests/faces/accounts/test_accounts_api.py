"""/api/v1/accounts/{id}, /api/v1/accounts/{id}/status and /api/v1/tasks through HTTP: users by
role and access, ins_ keys by scope, the partner face's error body and paging, another
organisation's ids (404), and RepaySync interactions naming an account (JSON and CSV) completing
its open tasks while /api/interactions/due/ lists loans only. Both databases."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from arrears.accounts.models import Account
from arrears.customers.models import Interaction
from arrears.db import transaction, utcnow
from arrears.debtors.book import zone_of
from arrears.events import DomainEvent
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book
from tests.faces.repaysync.conftest import RS, Tenant
from tests.partners.fixtures import Partner

BOOK = [["K1", "Kappa Ltd", "Kim", "082 123 4567", 0, 40, 60, 0, 0, 100]]


async def _loan_account(t: Tenant, role: str = "admin") -> tuple[dict[str, Any], str]:
    loan = await t.loan((await t.customer(role=role))["id"], role=role)
    async with transaction() as s:
        account = (await s.scalars(select(Account).where(Account.loan_id == loan["id"]))).one()
    return loan, str(account.id)


async def _book_account(t: Tenant, tmp_path) -> str:
    await import_file(t.client, await t.h("manager"), write_book(tmp_path / f"b{t.org.id}.csv", [HEADER, *BOOK]))
    async with transaction() as s:
        return str((await s.scalars(select(Account.id).where(Account.org_id == t.org.id,
                                                            Account.kind == "book"))).one())


async def _key(t: Tenant, scopes: list[str]) -> dict[str, str]:
    p = Partner(t.client, t.world)
    p.org, p.headers = t.org, await t.h("admin")
    c = await p.create_client(scopes=scopes)
    return p.key_headers((await p.create_key(c["id"], scopes=scopes))["key"])


async def test_account_shows_status_balance_days_and_tasks(rs: RS, tmp_path):
    t = await rs.tenant()
    book = await _book_account(t, tmp_path)
    r = await t.client.get(f"/api/v1/accounts/{book}", headers=await t.h("calling_agent"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "book" and body["reference"] == "K1" and body["status"] == "active"
    assert body["balance"] == 100 and '"balance":100.00' in r.text  # a JSON number, to the cent
    # No date in the file: the report is dated the upload's day in the organisation's zone (not UTC's).
    local_today = datetime.now(zone_of(t.org)).date()
    assert body["daysPastDue"] == 60 and body["reportDate"] == local_today.isoformat()
    assert body["customer"]["code"] == "K1" and body["tasks"] == [] and body["statusHistory"] == []

    loan, acc = await _loan_account(t)
    body = (await t.client.get(f"/api/v1/accounts/{acc}", headers=await t.h())).json()
    assert body["kind"] == "loan" and body["loanId"] == loan["id"] and body["balance"] == 50000
    assert body["reference"] == loan["loan_account_number"]


async def test_status_changes_by_role_with_history_event_and_audit(rs: RS):
    t = await rs.tenant()
    _, acc = await _loan_account(t)
    url = f"/api/v1/accounts/{acc}/status"
    # Read-only access reads only.
    r = await t.client.post(url, json={"status": "disputed", "reason": "x"}, headers=await t.h("calling_agent",
                                                                                                 access="read"))
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    # A dispute needs its reason; derived and unknown statuses are refused, and nothing changes.
    agent = await t.h("calling_agent")
    for bad, field in (({"status": "disputed"}, "reason"), ({"status": "paid_up", "reason": "x"}, "status"),
                       ({"status": "nonsense"}, "status")):
        r = await t.client.post(url, json=bad, headers=agent)
        assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR" and field in r.json()["details"]
    r = await t.client.post(url, json={"status": "disputed", "reason": "Never received the goods"}, headers=agent)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "disputed" and r.json()["statusReason"] == "Never received the goods"
    # Agents do not lift disputes, hand over or write off.
    for body in ({"status": "active"}, {"status": "handed_over", "reason": "Attorneys"},
                 {"status": "written_off", "reason": "x", "amount": 10}):
        r = await t.client.post(url, json=body, headers=agent)
        assert r.status_code == 403, r.text
    manager = await t.h("manager")
    r = await t.client.post(url, json={"status": "disputed", "reason": "again"}, headers=manager)
    assert r.status_code == 409 and r.json()["error"] == "STATUS_CHANGE_REFUSED"
    assert (await t.client.post(url, json={"status": "active"}, headers=manager)).status_code == 200
    r = await t.client.post(url, json={"status": "written_off", "reason": "Deceased"}, headers=manager)
    assert r.status_code == 400 and "amount" in r.json()["details"]
    r = await t.client.post(url, json={"status": "written_off", "reason": "Deceased", "amount": "1234.56"},
                            headers=manager)
    assert r.status_code == 200 and r.json()["writtenOffAmount"] == 1234.56
    assert [(h["from"], h["to"]) for h in r.json()["statusHistory"]] == [
        ("active", "disputed"), ("disputed", "active"), ("active", "written_off")]
    assert r.json()["statusHistory"][2]["amount"] == 1234.56
    async with transaction() as s:
        evs = list(await s.scalars(select(DomainEvent).where(DomainEvent.type == "account.status_changed")
                                   .order_by(DomainEvent.id)))
    assert [(e.data["from"], e.data["to"], e.data["why"]) for e in evs] == [
        ("active", "disputed", "Never received the goods"), ("disputed", "active", None),
        ("active", "written_off", "Deceased")]
    assert evs[2].before["status"] == "active" and evs[2].after["writtenOffAmount"] == "1234.56"
    assert evs[0].actor == f"user:{(await t.member('calling_agent')).id}"
    # The customer's timeline shows each change.
    customer_id = (await t.client.get(f"/api/v1/accounts/{acc}", headers=manager)).json()["customer"]["id"]
    timeline = (await t.client.get(f"/api/customers/{customer_id}/timeline/", headers=manager)).json()
    summaries = [e["summary"] for e in timeline if e["type"] == "account.status"]
    assert len(summaries) == 3 and any("active → written off (Deceased)" in x for x in summaries)


async def test_a_collection_officer_sees_only_assigned_customers_accounts(rs: RS):
    t = await rs.tenant()
    officer = await t.member("collection_officer")
    mine = await t.loan((await t.customer(assigned_collection_officer=officer.id))["id"])
    _, other = await _loan_account(t)
    async with transaction() as s:
        mine_acc = str((await s.scalars(select(Account.id).where(Account.loan_id == mine["id"]))).one())
    assert (await t.client.get(f"/api/v1/accounts/{mine_acc}", headers=officer.headers)).status_code == 200
    r = await t.client.get(f"/api/v1/accounts/{other}", headers=officer.headers)
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"


async def test_keys_by_scope(rs: RS):
    t = await rs.tenant()
    _, acc = await _loan_account(t)
    reader = await _key(t, ["accounts:read", "tasks:read"])
    writer = await _key(t, ["accounts:write", "tasks:write"])
    other = await _key(t, ["templates:read"])
    assert (await t.client.get(f"/api/v1/accounts/{acc}", headers=reader)).status_code == 200
    assert (await t.client.get(f"/api/v1/accounts/{acc}", headers=writer)).status_code == 200
    r = await t.client.get(f"/api/v1/accounts/{acc}", headers=other)
    assert r.status_code == 403 and "accounts:read" in r.json()["message"]
    assert (await t.client.get("/api/v1/tasks", headers=other)).status_code == 403
    r = await t.client.post(f"/api/v1/accounts/{acc}/status", json={"status": "disputed", "reason": "x"},
                            headers=reader)
    assert r.status_code == 403
    r = await t.client.post(f"/api/v1/accounts/{acc}/status", json={"status": "disputed", "reason": "Partner said"},
                            headers=writer)
    assert r.status_code == 200 and r.json()["status"] == "disputed"
    # Manager-only changes are not a key's.
    r = await t.client.post(f"/api/v1/accounts/{acc}/status", json={"status": "active"}, headers=writer)
    assert r.status_code == 403
    r = await t.client.post("/api/v1/tasks", json={"accountId": acc, "kind": "call", "dueDate": "2026-01-05"},
                            headers=writer)
    assert r.status_code == 201 and r.json()["assigneeId"] is None and r.json()["createdBy"].startswith("api_key:")
    assert (await t.client.post("/api/v1/tasks", json={"accountId": acc, "kind": "call", "dueDate": "2026-01-05"},
                                headers=reader)).status_code == 403
    assert (await t.client.get("/api/v1/tasks", headers=reader)).json()["pagination"]["total"] == 1


async def test_another_organisations_ids_are_404_everywhere(rs: RS):
    t, other = await rs.tenant(), await rs.tenant("Other Lender")
    _, acc = await _loan_account(other)
    r = await other.client.post("/api/v1/tasks", json={"accountId": acc, "kind": "visit", "dueDate": "2026-01-05"},
                                headers=await other.h())
    task = r.json()["id"]
    key = await _key(t, ["*"])
    for h in (await t.h(), key):
        assert (await t.client.get(f"/api/v1/accounts/{acc}", headers=h)).status_code == 404
        r = await t.client.post(f"/api/v1/accounts/{acc}/status", json={"status": "disputed", "reason": "x"},
                                headers=h)
        assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"
        assert (await t.client.get(f"/api/v1/tasks/{task}", headers=h)).status_code == 404
        assert (await t.client.patch(f"/api/v1/tasks/{task}", json={"status": "done"}, headers=h)).status_code == 404
        r = await t.client.post("/api/v1/tasks", json={"accountId": acc, "kind": "call", "dueDate": "2026-01-05"},
                                headers=h)
        assert r.status_code == 404
        assert (await t.client.get("/api/v1/tasks", headers=h)).json()["data"] == []
        r = await t.client.get("/api/v1/tasks", params={"accountId": acc}, headers=h)
        assert r.status_code == 200 and r.json()["data"] == []
        assert (await t.client.get(f"/api/v1/accounts/{uuid.uuid4()}", headers=h)).status_code == 404
        assert (await t.client.get("/api/v1/accounts/not-a-uuid", headers=h)).status_code == 404
    # Untouched.
    r = await other.client.get(f"/api/v1/tasks/{task}", headers=await other.h())
    assert r.json()["status"] == "open"
    assert (await other.client.get(f"/api/v1/accounts/{acc}", headers=await other.h())).json()["status"] == "active"


async def test_tasks_create_list_filter_page_and_close(rs: RS):
    t = await rs.tenant()
    _, acc = await _loan_account(t)
    manager, agent = await t.h("manager"), await t.member("calling_agent")
    today = utcnow().date()
    made = []
    for days, kind, who in ((2, "call", agent.id), (0, "visit", agent.id), (5, "call", None)):
        body = {"accountId": acc, "kind": kind, "dueDate": (today + timedelta(days=days)).isoformat(),
                "note": f"in {days} days"}
        if who is not None:
            body["assigneeId"] = who
        r = await t.client.post("/api/v1/tasks", json=body, headers=manager)
        assert r.status_code == 201, r.text
        assert r.json()["source"] == "manual" and r.json()["status"] == "open"
        assert r.json()["account"] == {"kind": "loan", "reference": r.json()["account"]["reference"]}
        made.append(r.json())
    assert made[2]["assigneeId"] == (await t.member("manager")).id  # default: the creator
    # Bad input: every bad field named, nothing made.
    r = await t.client.post("/api/v1/tasks", json={"accountId": acc, "kind": "email", "dueDate": "31/01/2026",
                                                   "assigneeId": 999999}, headers=manager)
    assert r.status_code == 400 and set(r.json()["details"]) == {"kind", "dueDate", "assigneeId"}
    # An agent assigns to nobody else.
    r = await t.client.post("/api/v1/tasks", json={"accountId": acc, "kind": "call", "dueDate": "2026-01-01",
                                                   "assigneeId": (await t.member("manager")).id},
                            headers=agent.headers)
    assert r.status_code == 400 and "assigneeId" in r.json()["details"]

    r = await t.client.get("/api/v1/tasks", params={"assigneeId": agent.id}, headers=manager)
    assert [x["id"] for x in r.json()["data"]] == [made[1]["id"], made[0]["id"]]  # due date order
    r = await t.client.get("/api/v1/tasks", params={"kind": "call", "sortBy": "dueDate", "sortOrder": "desc"},
                           headers=manager)
    assert [x["id"] for x in r.json()["data"]] == [made[2]["id"], made[0]["id"]]
    r = await t.client.get("/api/v1/tasks", params={"dateTo": today.isoformat()}, headers=manager)
    assert [x["id"] for x in r.json()["data"]] == [made[1]["id"]]
    r = await t.client.get("/api/v1/tasks", params={"limit": 2, "page": 2}, headers=manager)
    assert r.json()["pagination"] == {"page": 2, "limit": 2, "total": 3, "totalPages": 2}
    assert len(r.json()["data"]) == 1
    for params in ({"limit": 101}, {"page": 0}, {"status": "late"}, {"sortBy": "name"}, {"dateFrom": "soon"},
                   {"accountId": "nope"}):
        r = await t.client.get("/api/v1/tasks", params=params, headers=manager)
        assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR", params

    # The assignee closes their own; another agent may not; a closed task stays closed.
    other_agent = await t.h("calling_agent", key="2")
    r = await t.client.patch(f"/api/v1/tasks/{made[0]['id']}", json={"status": "done"}, headers=other_agent)
    assert r.status_code == 403
    r = await t.client.patch(f"/api/v1/tasks/{made[0]['id']}", json={"status": "done"}, headers=agent.headers)
    assert r.status_code == 200 and r.json()["status"] == "done" and r.json()["closedBy"] == f"user:{agent.id}"
    r = await t.client.patch(f"/api/v1/tasks/{made[0]['id']}", json={"status": "open"}, headers=manager)
    assert r.status_code == 409 and r.json()["error"] == "TASK_CLOSED"
    r = await t.client.patch(f"/api/v1/tasks/{made[1]['id']}", json={"status": "cancelled"}, headers=manager)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = await t.client.get("/api/v1/tasks", params={"status": "open"}, headers=manager)
    assert [x["id"] for x in r.json()["data"]] == [made[2]["id"]]
    async with transaction() as s:
        created = await s.scalar(select(DomainEvent).where(DomainEvent.type == "task.created"))
        assert created is not None and created.data["task"]["accountId"] == acc
    # The account shows its tasks.
    body = (await t.client.get(f"/api/v1/accounts/{acc}", headers=manager)).json()
    assert [x["status"] for x in body["tasks"]] == ["cancelled", "done", "open"]


async def test_an_interaction_on_an_account_completes_its_tasks_and_due_lists_loans_only(rs: RS, tmp_path):
    t = await rs.tenant()
    book = await _book_account(t, tmp_path)
    loan, loan_acc = await _loan_account(t)
    manager = await t.h("manager")
    tasks = {}
    for acc in (book, loan_acc):
        r = await t.client.post("/api/v1/tasks", json={"accountId": acc, "kind": "call", "dueDate": "2026-01-05"},
                                headers=manager)
        tasks[acc] = r.json()["id"]
    agent = await t.h("calling_agent")
    # Exactly one of loan and account; another organisation's account is an invalid pk.
    r = await t.client.post("/api/interactions/calling/create/", headers=agent,
                            json={"loan": loan["id"], "account": book, "disposition": "called"})
    assert r.status_code == 400 and "non_field_errors" in r.json()["errors"]
    r = await t.client.post("/api/interactions/calling/create/", headers=agent, json={"disposition": "called"})
    assert r.status_code == 400 and "loan" in r.json()["errors"]
    other = await rs.tenant("Elsewhere")
    _, foreign = await _loan_account(other)
    r = await t.client.post("/api/interactions/calling/create/", headers=agent,
                            json={"account": foreign, "disposition": "called"})
    assert r.status_code == 400 and "account" in r.json()["errors"]
    assert (await t.client.get(f"/api/v1/tasks/{tasks[book]}", headers=manager)).json()["status"] == "open"

    r = await t.client.post("/api/interactions/calling/create/", headers=agent,
                            json={"account": book, "disposition": "called", "next_call_date": "2025-01-01"})
    assert r.status_code == 201, r.text
    assert r.json()["loan"] is None and r.json()["account"] == book
    done = (await t.client.get(f"/api/v1/tasks/{tasks[book]}", headers=manager)).json()
    assert done["status"] == "done" and done["closedBy"] == f"interaction:{r.json()['id']}"
    assert (await t.client.get(f"/api/v1/tasks/{tasks[loan_acc]}", headers=manager)).json()["status"] == "open"
    # The due list keeps its shape and lists loan items only.
    await t.interaction("calling", loan["id"], next_call_date="2025-01-01")
    due = (await t.client.get("/api/interactions/due/", headers=manager)).json()
    assert [d["loan"] for d in due] == [loan["id"]] and "account" not in due[0]
    # An interaction on the loan (by `loan`) completes the loan account's task too.
    assert (await t.client.get(f"/api/v1/tasks/{tasks[loan_acc]}", headers=manager)).json()["status"] == "done"


async def test_the_bulk_csv_takes_an_account_column(rs: RS, tmp_path):
    t = await rs.tenant()
    book = await _book_account(t, tmp_path)
    loan, loan_acc = await _loan_account(t)
    manager = await t.h("manager")
    r = await t.client.post("/api/v1/tasks", json={"accountId": book, "kind": "visit", "dueDate": "2026-01-05"},
                            headers=manager)
    task = r.json()["id"]
    csv = (f"loan_id,account,disposition,interaction_type\n"
           f",{book},visited,field\n"
           f",{loan_acc},called,calling\n"
           f"{loan['id']},{book},visited,field\n"
           f",{uuid.uuid4()},visited,field\n"
           f",not-a-uuid,visited,field\n").encode()
    r = await t.client.post("/api/interactions/bulk/upload/", headers=manager, files={"file": ("i.csv", csv)})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["records_created"] == 2
    assert [e["line"] for e in body["errors"]] == [4, 5, 6]
    assert "non_field_errors" in body["errors"][0]["errors"] and "account" in body["errors"][1]["errors"]
    async with transaction() as s:
        ids = list(await s.scalars(select(Interaction.id).where(Interaction.org_id == t.org.id).order_by(Interaction.id)))
    first = (await t.client.get(f"/api/interactions/field/{ids[0]}/", headers=manager)).json()
    second = (await t.client.get(f"/api/interactions/calling/{ids[1]}/", headers=manager)).json()
    assert (first["loan"], first["account"]) == (None, book)
    assert (second["loan"], second["account"]) == (loan["id"], loan_acc)
    assert (await t.client.get(f"/api/v1/tasks/{task}", headers=manager)).json()["status"] == "done"


async def test_an_interaction_moves_between_an_account_and_a_loan(rs: RS, tmp_path):
    t = await rs.tenant()
    book = await _book_account(t, tmp_path)
    loan, loan_acc = await _loan_account(t)
    agent = await t.h("calling_agent")
    r = await t.client.post("/api/interactions/calling/create/", headers=agent,
                            json={"account": book, "disposition": "called"})
    url = f"/api/interactions/calling/{r.json()['id']}/"
    r = await t.client.patch(url, json={"loan": loan["id"]}, headers=agent)
    assert r.status_code == 200 and r.json()["loan"] == loan["id"] and "account" not in r.json()
    r = await t.client.patch(url, json={"account": loan_acc}, headers=agent)
    assert r.status_code == 200 and (r.json()["loan"], r.json()["account"]) == (loan["id"], loan_acc)
    r = await t.client.patch(url, json={"account": "nope"}, headers=agent)
    assert r.status_code == 400 and r.json()["errors"] == {"account": ["Must be a valid UUID."]}
    r = await t.client.patch(url, json={"loan": loan["id"], "account": book}, headers=agent)
    assert r.status_code == 400 and "non_field_errors" in r.json()["errors"]
    assert (await t.client.get(url, headers=agent)).json()["account"] == loan_acc
