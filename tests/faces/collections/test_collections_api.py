"""`/api/v1/collections/…` end to end through the app: settings, runs, files, reconciliation,
reports, who may call, tenant isolation, and the full cycle from policies to statuses, events and
audit."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from sqlalchemy import func, select

from arrears.db import transaction, utcnow
from arrears.events import DomainEvent
from arrears.premiums.acb import UnpaidItem, UserInfo, build_unpaids_file, parse_file
from arrears.premiums.debit_orders.models import DebitOrderFile, DebitOrderRun, ReconciliationRecord
from arrears.premiums.models import Collection
from tests.faces.premium.conftest import make_captive

BASE = "/api/v1/collections"
SETTINGS = {"user_code": "AB12", "abbreviated_name": "ALPHACAP", "nominated_branch": "580105",
            "nominated_account": "10012345678", "auto_success_days": 4}
USER = UserInfo(user_code="AB12", abbreviated_name="ALPHACAP", nominated_branch="580105",
                nominated_account="10012345678", generation_number=1)


def policy_body(number: str, **fields: Any) -> dict[str, Any]:
    return {"policy_number": number, "client_name": f"Client {number}", "premium_amount": 150.0,
            "frequency": "monthly", "mandate_reference": f"M-{number}", "bank_account_number": "62001234567",
            "bank_branch_code": "250655", "bank_account_type": "savings",
            "next_collection_date": "2024-01-31", **fields}


async def admin_of(client, world, cap: Any) -> dict[str, str]:
    return await world.login_headers(client, cap.org.id, role="admin")


async def setup_captive(client, world, name: str = "Alpha Captive", policies: int = 3) -> Any:
    cap = await make_captive(world, name)
    # The debit-order settings are the captive's admins' alone: no API key changes them (issue 19).
    r = await client.put(f"{BASE}/settings", json=SETTINGS, headers=await admin_of(client, world, cap))
    assert r.status_code == 200, r.text
    for n in range(1, policies + 1):
        r = await client.post("/api/webhooks/policies/update", json=policy_body(f"P{n}"), headers=cap.headers)
        assert r.status_code == 200, r.text
    return cap


def unpaids_for(acb_text: str, codes: dict[str, str], returned: date) -> str:
    items = [UnpaidItem(user_sequence_number=t.sequence_number, reference=t.reference,
                        homing_branch=t.homing_branch, homing_account_number=t.homing_account_number,
                        account_type=t.account_type, amount=t.amount, action_date=t.action_date,
                        homing_account_name=t.homing_account_name, reason_code=codes[t.reference],
                        unpaid_date=returned)
             for t in parse_file(acb_text).transactions if t.reference in codes]
    return build_unpaids_file(USER, items, creation_date=returned)


async def test_full_cycle_policies_run_file_unpaids_statuses_events_and_audit(client, world):
    cap = await setup_captive(client, world)
    r = await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=cap.headers)
    assert r.status_code == 201, r.text
    run = r.json()["data"]
    assert run["collections"] == 3 and run["collections_created"] == 3 and run["total_amount"] == 450.0
    assert run["status"] == "submitted" and run["started_by"].startswith("api_key:pct_")
    assert [f["kind"] for f in run["files_created"]] == ["acb", "csv"]

    # Listed and downloadable, byte for byte what was stored.
    r = await client.get(f"{BASE}/files", params={"run_id": run["id"]}, headers=cap.headers)
    assert r.status_code == 200 and r.json()["pagination"] == {"page": 1, "limit": 50, "total": 2, "pages": 1}
    acb_meta = next(f for f in r.json()["data"] if f["kind"] == "acb")
    r = await client.get(f"{BASE}/files/{acb_meta['id']}/download", headers=cap.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert f'filename="{acb_meta["filename"]}"' in r.headers["content-disposition"]
    acb_text = r.content.decode()
    assert len(parse_file(acb_text).transactions) == 3 and r.content.count(b"\r\n") == 8
    csv_meta = next(f for f in run["files_created"] if f["kind"] == "csv")
    r = await client.get(f"{BASE}/files/{csv_meta['id']}/download", headers=cap.headers)
    assert [row["policy_number"] for row in csv.DictReader(io.StringIO(r.text))] == ["P1", "P2", "P3"]

    # The bank returns two debits unpaid (multipart upload), the third is settled after 4 days.
    unpaids = unpaids_for(acb_text, {"M-P1": "12", "M-P2": "30"}, date(2024, 2, 2))
    r = await client.post(f"{BASE}/reconciliations", headers=cap.headers,
                          files={"file": ("unpaids.txt", unpaids.encode(), "text/plain")})
    assert r.status_code == 201, r.text
    body = r.json()["data"]
    assert body["counts"]["matched"] == 2 and body["file"]["kind"] == "unpaids"
    assert [(x["reference"], x["reason_code"], x["reason"]) for x in body["records"]] == [
        ("M-P1", "12", "Account closed"), ("M-P2", "30", "No authority to debit")]
    r = await client.post(f"{BASE}/settle", json={"as_of": "2024-02-04"}, headers=cap.headers)
    assert r.json()["data"]["settled"] == 1

    # Statuses, as the premium face reports them.
    async with transaction() as s:
        got = {c.collection_reference: (c.status, c.failure_reason)
               for c in await s.scalars(select(Collection).where(Collection.org_id == cap.org.id))}
    refs = {rec["reference"]: rec["collection_reference"] for rec in body["records"]}
    assert got[refs["M-P1"]] == ("failed", "12 Account closed")
    assert got[refs["M-P2"]] == ("failed", "30 No authority to debit")
    assert sorted(s for s, _ in got.values()) == ["failed", "failed", "successful"]

    # Every collection: created pending, submitted, then failed or successful — one event each.
    async with transaction() as s:
        evs = (await s.execute(select(DomainEvent.subject_id, DomainEvent.type, DomainEvent.after, DomainEvent.actor)
                               .where(DomainEvent.org_id == cap.org.id, DomainEvent.type == "collection.updated")
                               .order_by(DomainEvent.id))).all()
        audit = set((await s.scalars(select(DomainEvent.type).where(DomainEvent.org_id == cap.org.id))).all())
    per: dict[str, list[str]] = {}
    for subject, _, after, _actor in evs:
        per.setdefault(subject, []).append(after["status"] if "status" in after else "?")
    assert sorted(per.values()) == sorted([["pending", "submitted", "failed"]] * 2 + [["pending", "submitted", "successful"]])
    assert {"debit_orders.settings_updated", "debit_order_run.created", "debit_order_file.created",
            "reconciliation.imported", "policy.updated"} <= audit

    # Reports: per run and per month, JSON and CSV.
    r = await client.get(f"{BASE}/runs/{run['id']}/report", headers=cap.headers)
    rep = r.json()["data"]
    assert (rep["collected"], rep["failed"], rep["outstanding"]) == (
        {"count": 1, "amount": 150.0}, {"count": 2, "amount": 300.0}, {"count": 0, "amount": 0.0})
    assert [(x["reason_code"], x["count"]) for x in rep["failed_by_reason"]] == [("12", 1), ("30", 1)]
    r = await client.get(f"{BASE}/reports/monthly", params={"month": "2024-01", "format": "csv"}, headers=cap.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(r.text)))
    assert lines[0] == ["metric", "reason_code", "reason", "count", "amount"]
    assert ["collected", "", "", "1", "150.00"] in lines and ["failed_by_reason", "12", "Account closed", "1", "150.00"] in lines
    assert lines[-1] == ["total", "", "", "3", "450.00"]


async def test_runs_are_idempotent_over_http_and_listed(client, world):
    cap = await setup_captive(client, world, policies=2)
    first = await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=cap.headers)
    again = await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=cap.headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["data"]["id"] == first.json()["data"]["id"] and again.json()["data"]["collections_created"] == 0
    r = await client.get(f"{BASE}/runs", headers=cap.headers)
    assert [x["action_date"] for x in r.json()["data"]] == ["2024-01-31"]
    r = await client.get(f"{BASE}/runs/{first.json()['data']['id']}", headers=cap.headers)
    assert r.json()["data"]["collections"] == 2 and len(r.json()["data"]["files"]) == 2


async def test_bad_input_is_a_clear_400_in_the_premium_body_and_changes_nothing(client, world):
    cap = await setup_captive(client, world, policies=1)
    for body in ({"action_date": "31/01/2024"}, {"action_date": "2024-02-30"}, {}, {"action_date": "2024-01-31", "x": 1}):
        r = await client.post(f"{BASE}/runs", json=body, headers=cap.headers)
        assert r.status_code == 400, body
        assert set(r.json()) == {"error"} and r.json()["error"]["code"] == "VALIDATION_ERROR"
    r = await client.put(f"{BASE}/settings", json={"user_code": "toolong"},
                         headers=await admin_of(client, world, cap))
    assert r.status_code == 400 and "user code" in r.json()["error"]["message"]
    r = await client.post(f"{BASE}/reconciliations", content=b"02 not an acb file at all" + b" " * 150,
                          headers={**cap.headers, "content-type": "text/plain"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_ANSWER_FILE"
    r = await client.get(f"{BASE}/runs", params={"limit": 101}, headers=cap.headers)
    assert r.status_code == 400
    r = await client.get(f"{BASE}/reports/monthly", params={"month": "2024-13"}, headers=cap.headers)
    assert r.status_code == 400
    async with transaction() as s:
        assert await s.scalar(select(func.count()).select_from(DebitOrderRun)) == 0
        assert await s.scalar(select(func.count()).select_from(DebitOrderFile)) == 0


async def test_unconfigured_captive_gets_409(client, world):
    cap = await make_captive(world, "Bare Captive")
    r = await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=cap.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "DEBIT_ORDERS_NOT_CONFIGURED"
    r = await client.get(f"{BASE}/settings", headers=cap.headers)
    assert r.status_code == 200 and r.json() == {"data": None}


async def test_who_may_call(client, world):
    cap = await setup_captive(client, world, policies=1)
    r = await client.get(f"{BASE}/runs")
    assert r.status_code == 401 and r.json()["error"]["code"] == "MISSING_CREDENTIALS"
    _, read_key = await world.api_key(cap.org.id, ["collections:read"])
    read = {"Authorization": f"Bearer {read_key}"}
    assert (await client.get(f"{BASE}/runs", headers=read)).status_code == 200
    r = await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=read)
    assert r.status_code == 403 and r.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
    _, policies_key = await world.api_key(cap.org.id, ["policies:write"])
    r = await client.get(f"{BASE}/files", headers={"Authorization": f"Bearer {policies_key}"})
    assert r.status_code == 403
    _, partner_key = await world.api_key(cap.org.id, ["*"], kind="ins")
    r = await client.get(f"{BASE}/runs", headers={"Authorization": f"Bearer {partner_key}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "INVALID_API_KEY"
    # The captive's users: anyone reads, read-only access cannot write.
    viewer = await world.login_headers(client, cap.org.id, role="collection_officer", access="read")
    assert (await client.get(f"{BASE}/runs", headers=viewer)).status_code == 200
    r = await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=viewer)
    assert r.status_code == 403 and r.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
    admin = await world.login_headers(client, cap.org.id)
    r = await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=admin)
    assert r.status_code == 201 and r.json()["data"]["started_by"].startswith("user:")
    r = await client.get(f"{BASE}/nothing-here", headers=admin)
    assert r.status_code == 404 and set(r.json()) == {"error"}


async def test_another_captives_ids_are_404_and_change_nothing(client, world):
    a = await setup_captive(client, world, policies=2)
    run = (await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=a.headers)).json()["data"]
    file_id = run["files_created"][0]["id"]
    r = await client.post(f"{BASE}/reconciliations", content=b"reference,status\nNOPE,failed\n",
                          headers={**a.headers, "content-type": "text/csv"})
    record_id = r.json()["data"]["records"][0]["id"]
    answer_id = r.json()["data"]["file"]["id"]
    b = await setup_captive(client, world, "Beta Captive", policies=0)
    async with transaction() as s:
        before = await s.scalar(select(func.count()).select_from(DomainEvent).where(DomainEvent.org_id == a.org.id))
    for method, path, kw in [
        ("GET", f"{BASE}/runs/{run['id']}", {}),
        ("GET", f"{BASE}/runs/{run['id']}/report", {}),
        ("GET", f"{BASE}/files/{file_id}", {}),
        ("GET", f"{BASE}/files/{file_id}/download", {}),
        ("GET", f"{BASE}/files/{answer_id}/download", {}),
        ("GET", f"{BASE}/files", {"params": {"run_id": run["id"]}}),
        ("GET", f"{BASE}/reconciliation-records", {"params": {"file_id": answer_id}}),
        ("POST", f"{BASE}/reconciliation-records/{record_id}/resolve", {"json": {"dismiss": True}}),
    ]:
        r = await client.request(method, path, headers=b.headers, **kw)
        assert r.status_code == 404, (method, path, r.text)
        assert set(r.json()) == {"error"}
    # Lists and reports of B show nothing of A.
    assert (await client.get(f"{BASE}/runs", headers=b.headers)).json()["data"] == []
    assert (await client.get(f"{BASE}/files", headers=b.headers)).json()["data"] == []
    assert (await client.get(f"{BASE}/reconciliation-records", headers=b.headers)).json()["data"] == []
    rep = (await client.get(f"{BASE}/reports/monthly", params={"month": "2024-01"}, headers=b.headers)).json()["data"]
    assert rep["total"]["count"] == 0
    # As of today, the latest `settle` takes (issue 19): A's debits would all be due by then.
    today = utcnow().date().isoformat()
    settled = await client.post(f"{BASE}/settle", json={"as_of": today}, headers=b.headers)
    assert settled.json()["data"]["settled"] == 0
    async with transaction() as s:
        after = await s.scalar(select(func.count()).select_from(DomainEvent).where(DomainEvent.org_id == a.org.id))
        rec = await s.scalar(select(ReconciliationRecord))
    assert after == before and rec.resolution is None


async def test_unmatched_lines_are_listed_open_and_resolved_by_a_person(client, world):
    cap = await setup_captive(client, world, policies=1)
    run = (await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=cap.headers)).json()["data"]
    r = await client.post(f"{BASE}/reconciliations", params={"format": "csv"},
                          content=b"reference,amount,status,reason\nTYPO-REF,150.00,failed,02\n",
                          headers={**cap.headers, "content-type": "text/csv", "x-filename": "answer.csv"})
    assert r.status_code == 201 and r.json()["data"]["file"]["filename"] == "answer.csv"
    r = await client.get(f"{BASE}/reconciliation-records", params={"open": "true"}, headers=cap.headers)
    [rec] = r.json()["data"]
    assert rec["outcome"] == "unmatched" and rec["resolution"] is None
    async with transaction() as s:
        ref = await s.scalar(select(Collection.collection_reference))
    r = await client.post(f"{BASE}/reconciliation-records/{rec['id']}/resolve",
                          json={"collection_reference": ref}, headers=cap.headers)
    assert r.status_code == 200 and r.json()["data"]["resolution"] == "applied"
    assert (await client.get(f"{BASE}/reconciliation-records", params={"open": "true"},
                             headers=cap.headers)).json()["data"] == []
    rep = (await client.get(f"{BASE}/runs/{run['id']}/report", headers=cap.headers)).json()["data"]
    assert rep["failed_by_reason"] == [{"reason_code": "02", "reason": "Not provided for", "count": 1, "amount": 150.0}]
