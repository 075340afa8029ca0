"""Every paged list of every face: a page size over the maximum, a page below 1 and an absurd page
(one whose offset passes a 64-bit integer) are a 400 in the face's own error body, never a 500;
the last page the databases can still reach answers 200 with no rows."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.partners.fixtures import CLIENT_BODY

INT64 = 2**63 - 1


def _face_body(face: str, body: Any) -> None:
    """The face's error body of a 400 (shared/DESIGN.md's table)."""
    if face == "aama":
        # Issue 20 §6: `details` a string; the fields' errors under `field_errors` beside it.
        assert {"message", "code", "details"} <= set(body) <= {"message", "code", "details", "field_errors"}
        assert isinstance(body["details"], str) and body["code"] == "VALIDATION_ERROR"
    elif face == "pharmacy":
        assert list(body) == ["detail"] and isinstance(body["detail"], str)
    elif face == "premium":
        assert set(body) == {"error"} and body["error"]["code"] == "VALIDATION_ERROR"
    else:  # partner
        assert body["error"] == "VALIDATION_ERROR" and set(body) >= {"message", "details"}


async def _check(client: httpx.AsyncClient, face: str, url: str, headers: dict[str, str], size: str,
                 maximum: int) -> None:
    absurd = [{"page": str(INT64)}, {"page": str(10**30)}, {"page": "9" * 60},
              # the first page whose offset passes 2**63 - 1 at the largest size
              {"page": str(INT64 // maximum + 2), size: str(maximum)},
              {"page": "0"}, {"page": "-1"}, {size: str(maximum + 1)}, {size: "0"}]
    for params in absurd:
        r = await client.get(url, params=params, headers=headers)
        assert r.status_code == 400, (url, params, r.status_code, r.text)
        _face_body(face, r.json())
    # The furthest page still reachable: an empty page, not an overflow in the database.
    last = INT64 // maximum
    r = await client.get(url, params={"page": str(last), size: str(maximum)}, headers=headers)
    assert r.status_code == 200, (url, r.text)


async def _report(org_id: int, user_id: int) -> str:
    """A completed AAMA upload with no rows, written through the service (no import needed)."""
    from arrears.db import transaction
    from arrears.debtors import service
    from arrears.debtors.storage import StoredFile

    upload = uuid.uuid4()
    stored = StoredFile(upload, org_id, f"{upload}.xlsx", "book.xlsx", Path("/nonexistent"), 1, "xlsx", None)
    async with transaction() as s:
        report = await service.create_report(s, None, stored, org_id=org_id, user_id=user_id, enqueue=False)
        report.status = "completed"
    return str(upload)


async def test_aama_lists(client, world) -> None:
    org = await world.org("Paging AAMA")
    user = await world.user(org.id, role="admin")
    headers = {"Authorization": f"Bearer {await world.token(client, user.username)}"}
    uid = await _report(org.id, user.id)
    for url in ("/api/uploads", f"/api/uploads/{uid}/accounts", f"/api/uploads/{uid}/errors",
                f"/api/messaging/logs/{uid}"):
        await _check(client, "aama", url, headers, "per_page", 100)


async def test_pharmacy_list(client, world) -> None:
    org = await world.org("Paging Pharmacy", kind="pharmacy")
    headers = await world.login_headers(client, org.id)
    await _check(client, "pharmacy", f"/pharmacies/{org.id}/debtors", headers, "per_page", 1000)


async def test_premium_and_collections_lists(client, world) -> None:
    from arrears.premiums import webhook_log

    org = await world.org("Paging Captive", kind="cell_captive")
    _, raw = await world.api_key(org.id, ["*"])
    headers = {"Authorization": f"Bearer {raw}"}
    for url in ("/api/webhooks/logs", "/api/v1/collections/runs", "/api/v1/collections/files",
                "/api/v1/collections/reconciliation-records"):
        await _check(client, "premium", url, headers, "limit", 100)
    await webhook_log.flush()  # the log lines of these reads go to this test's database


async def test_partner_and_templates_lists(client, world, monkeypatch) -> None:
    monkeypatch.setenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE", "true")
    org = await world.org("Paging Partner")
    headers = await world.login_headers(client, org.id)
    r = await client.post("/api/v1/api-clients", headers=headers, json=CLIENT_BODY)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = await client.post(f"/api/v1/api-clients/{cid}/webhooks", headers=headers,
                          json={"url": "http://127.0.0.1:9/hook", "events": ["policy.updated"]})
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    for url in ("/api/v1/api-clients", f"/api/v1/api-clients/{cid}/api-keys",
                f"/api/v1/api-clients/{cid}/webhooks", f"/api/v1/api-clients/{cid}/webhooks/{wid}/deliveries",
                "/api/v1/templates", "/api/v1/opt-outs"):
        await _check(client, "partner", url, headers, "limit", 100)
