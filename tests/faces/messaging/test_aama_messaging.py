"""AAMA /api/messaging/… end to end: an uploaded workbook, the send, the worker, logs, summary."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from arrears.worker import run_until_idle
from tests.faces.age_analysis.helpers import BOOK, HEADER, import_file, write_book
from tests.faces.messaging.helpers import messages

TEMPLATE = ("Hi [CustomerName], this is a reminder regarding account [AccountCode] for an outstanding "
            "balance of R[TotalBalance]. Please contact us.")


class People:
    def __init__(self, org: Any, admin: dict, officer: dict, reader: dict, stranger: dict) -> None:
        self.org, self.admin, self.officer, self.reader, self.stranger = org, admin, officer, reader, stranger


@pytest.fixture
async def people(client, world) -> People:
    org = await world.org("Acme Collections")
    other = await world.org("Other Org")
    return People(org, await world.login_headers(client, org.id, role="admin"),
                  await world.login_headers(client, org.id, role="collection_officer"),
                  await world.login_headers(client, org.id, role="collection_officer", access="read"),
                  await world.login_headers(client, other.id, role="admin"))


async def _upload(client, headers, tmp_path: Path, rows=None, name="book.xlsx") -> tuple[str, dict[str, str]]:
    path = write_book(tmp_path / name, rows or BOOK)
    uid = await import_file(client, headers, path)
    r = await client.get(f"/api/uploads/{uid}/accounts", headers=headers, params={"per_page": 100})
    assert r.status_code == 200, r.text
    return uid, {a["account_code"]: a["id"] for a in r.json()["accounts"]}


async def _send(client, headers, ids, template=TEMPLATE, **extra):
    return await client.post("/api/messaging/send", headers=headers,
                             json={"account_ids": list(ids), "message_template": template} | extra)


async def test_send_logs_and_summary(client, people, quick, tmp_path, monkeypatch):
    monkeypatch.setenv("MESSAGING_RATE_LIMIT", "0.5")  # two seconds a message: an honest estimate
    uid, ids = await _upload(client, people.officer, tmp_path)
    r = await _send(client, people.officer, ids.values(), max_retries=2)
    assert r.status_code == 202, r.text
    body = r.json()
    assert {k: body[k] for k in ("message", "account_count", "upload_id", "template_used", "estimated_time")} == {
        "message": "Messaging job started successfully", "account_count": 5, "upload_id": uid,
        "template_used": TEMPLATE, "estimated_time": "6 seconds"}
    assert body["queued_count"] == 3 and body["skipped_count"] == 2
    assert body["skipped_reasons"] == {"INVALID_RECIPIENT": 1, "NO_RECIPIENT": 1}

    monkeypatch.setenv("MESSAGING_RATE_LIMIT", "1000")
    logs = (await client.get(f"/api/messaging/logs/{uid}", headers=people.officer)).json()
    assert logs["total"] == 5 and {m["status"] for m in logs["message_logs"]} == {"pending", "failed"}
    await run_until_idle()
    await run_until_idle()
    r = await client.get(f"/api/messaging/logs/{uid}", headers=people.officer)
    assert r.status_code == 200
    logs = r.json()
    assert (logs["total"], logs["page"], logs["per_page"], logs["total_pages"], logs["has_more"]) == (5, 1, 20, 1, False)
    by_account = {m["account_id"]: m for m in logs["message_logs"]}
    a1 = by_account[ids["A1"]]
    assert a1["message_content"] == ("Hi Alpha Ltd, this is a reminder regarding account A1 for an outstanding "
                                     "balance of R150.00. Please contact us.")
    assert a1["recipient_telephone"] == "27821234567" and a1["status"] == "delivered"
    assert a1["upload_id"] == uid and a1["message_template"] == TEMPLATE and a1["max_retries"] == 2
    assert a1["external_message_id"].startswith("sim_") and a1["sent_at"].endswith("Z")
    assert a1["retry_count"] == 0 and a1["user_id"] is not None
    a3 = by_account[ids["A3"]]
    assert a3["status"] == "failed" and a3["response_from_service"] == (
        "Not sent: 011 555 1234 is not a valid mobile number")
    a5 = by_account[ids["A5"]]
    assert a5["status"] == "failed" and a5["response_from_service"] == "Not sent: the account has no telephone number"
    summary = (await client.get(f"/api/messaging/logs/{uid}/summary", headers=people.officer)).json()
    assert {k: summary[k] for k in ("upload_id", "total_messages", "sent_messages", "failed_messages",
                                    "delivered_messages")} == {
        "upload_id": uid, "total_messages": 5, "sent_messages": 3, "failed_messages": 2, "delivered_messages": 3}
    assert summary["sent_messages"] + summary["failed_messages"] == summary["total_messages"]
    assert summary["first_sent_at"] <= summary["last_sent_at"]


async def test_logs_paginate_and_check_the_page_size(client, people, quick, tmp_path):
    uid, ids = await _upload(client, people.officer, tmp_path)
    await _send(client, people.officer, ids.values())
    r = await client.get(f"/api/messaging/logs/{uid}", headers=people.officer, params={"page": 2, "per_page": 2})
    page = r.json()
    assert len(page["message_logs"]) == 2 and page["total_pages"] == 3 and page["has_more"] is True
    for params in ({"per_page": 101}, {"page": 0}, {"per_page": 0}):
        r = await client.get(f"/api/messaging/logs/{uid}", headers=people.officer, params=params)
        assert r.status_code == 400 and set(r.json()) == {"message", "code", "details", "field_errors"}
        assert isinstance(r.json()["details"], str) and r.json()["details"]


async def test_invalid_template_is_rejected_with_details(client, people, quick, tmp_path):
    uid, ids = await _upload(client, people.officer, tmp_path)
    r = await _send(client, people.officer, ids.values(), template="Hi [CustomerName], pay [Balance] now")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "INVALID_TEMPLATE"
    codes = [(d["code"], d["placeholder"]) for d in body["problems"]]
    assert isinstance(body["details"], str) and "[AccountCode]" in body["details"]
    assert ("MISSING_PLACEHOLDER", "[AccountCode]") in codes and ("UNKNOWN_PLACEHOLDER", "[Balance]") in codes
    r = await _send(client, people.officer, ids.values(), template=TEMPLATE + "x" * 1600)
    assert r.status_code == 400 and body["code"] == "INVALID_TEMPLATE"
    assert await messages() == []


async def test_accounts_of_two_uploads_or_another_organisation_are_400(client, people, quick, tmp_path):
    _, ids = await _upload(client, people.officer, tmp_path)
    rows2 = [HEADER, ["B1", "Other", None, "0829998888", 10, 0, 0, 0, 0, 10]]
    _, ids2 = await _upload(client, people.officer, tmp_path, rows2, name="second.xlsx")
    r = await _send(client, people.officer, [ids["A1"], ids2["B1"]])
    assert r.status_code == 400 and r.json()["code"] == "MIXED_UPLOADS"
    _, foreign = await _upload(client, people.stranger, tmp_path, rows2, name="theirs.xlsx")
    r = await _send(client, people.officer, [ids["A1"], foreign["B1"]])
    assert r.status_code == 400 and r.json()["code"] == "INVALID_ACCOUNTS"
    assert r.json()["unknown_account_ids"] == [foreign["B1"]]
    assert r.json()["details"] == f"unknown_account_ids: {foreign['B1']}"
    r = await _send(client, people.officer, [str(uuid.uuid4())])
    assert r.status_code == 400 and r.json()["code"] == "INVALID_ACCOUNTS"
    r = await _send(client, people.officer, ["not-a-uuid"])
    assert r.status_code == 400
    r = await _send(client, people.officer, [])
    assert r.status_code == 400
    assert await messages() == []


async def test_tenant_isolation_and_who_may_send(client, people, quick, tmp_path, world):
    uid, ids = await _upload(client, people.officer, tmp_path)
    await _send(client, people.officer, [ids["A1"]])
    for path in (f"/api/messaging/logs/{uid}", f"/api/messaging/logs/{uid}/summary"):
        r = await client.get(path, headers=people.stranger)
        assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    r = await _send(client, people.stranger, [ids["A2"]])
    assert r.status_code == 400
    r = await _send(client, people.reader, [ids["A2"]])
    assert r.status_code in (400, 403)
    _, key = await world.api_key(people.org.id, ["*"])
    r = await client.get("/api/messaging/templates", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 401 and set(r.json()) == {"message", "code", "details"}
    r = await client.get("/api/messaging/templates")
    assert r.status_code == 401
    assert len(await messages()) == 1


async def test_read_only_member_cannot_send(client, people, quick, tmp_path, world):
    # A reader who can see the upload (an admin with read access) is refused with 403.
    reader_admin = await world.login_headers(client, people.org.id, role="admin", access="read")
    uid, ids = await _upload(client, people.admin, tmp_path)
    r = await _send(client, reader_admin, [ids["A1"]])
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


async def test_templates_list_builtins_and_own(client, people, quick):
    r = await client.post("/api/v1/templates", headers=people.admin, json={
        "name": "Final notice", "body": "[CustomerName]: account [AccountCode] owes R[TotalBalance]. Pay now."})
    assert r.status_code == 201, r.text
    await client.post("/api/v1/templates", headers=people.stranger, json={
        "name": "Theirs", "body": "[CustomerName] [AccountCode] [TotalBalance]"})
    r = await client.get("/api/messaging/templates", headers=people.officer)
    assert r.status_code == 200
    names = [t["name"] for t in r.json()["templates"]]
    assert names == ["Default Payment Reminder", "Friendly Reminder", "Final notice"]
    first = r.json()["templates"][0]
    assert first["template"].startswith("Hi [CustomerName], this is a reminder regarding account [AccountCode]")


async def test_cap_blocks_a_second_message_unless_a_manager_overrides(client, people, quick, tmp_path, world):
    uid, ids = await _upload(client, people.admin, tmp_path)
    two = [ids["A1"], ids["A2"]]
    assert (await _send(client, people.admin, two)).json()["queued_count"] == 2
    r = await _send(client, people.admin, two)
    assert r.status_code == 202 and r.json()["queued_count"] == 0 and r.json()["skipped_reasons"] == {"CAP_REACHED": 2}
    capped = [m for m in await messages() if m.error_code == "CAP_REACHED"]
    assert len(capped) == 2 and capped[0].response == (
        "Not sent: the customer already had 1 SMS message in the last 24 hours (contact cap); "
        "a manager can override")
    officer = await world.login_headers(client, people.org.id, role="collection_officer")
    r = await _send(client, officer, two, override_cap=True)
    assert r.status_code in (400, 403)  # an officer may not override (and cannot see the admin's upload)
    r = await _send(client, people.admin, two, override_cap=True)
    assert r.json()["queued_count"] == 2
    overridden = [m for m in await messages() if m.cap_override_by is not None]
    assert len(overridden) == 2


async def test_officer_override_is_forbidden(client, people, quick, tmp_path):
    uid, ids = await _upload(client, people.officer, tmp_path)
    r = await _send(client, people.officer, [ids["A1"]], override_cap=True)
    assert r.status_code == 403 and "override" in r.json()["message"]
