"""API keys and their errors (every code of the spec), permissions, and GET /api/webhooks/logs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from arrears.db import transaction, utcnow
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.models import ApiKey, Organisation
from tests.faces.premium.conftest import SPEC_POLICY, make_captive, put_policy

POLICY = "/api/webhooks/policies/update"
COLL = "/api/webhooks/collections/update"
BULK = "/api/webhooks/collections/bulk-update"
LOGS = "/api/webhooks/logs"


def _error(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "code"}
    assert body["error"]["code"] == code and body["error"]["message"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}])
async def test_missing_api_key(client, captive, headers):
    for method, url in (("POST", POLICY), ("POST", COLL), ("POST", BULK), ("GET", LOGS)):
        r = await client.request(method, url, headers=headers, json=SPEC_POLICY)
        _error(r, 401, "MISSING_API_KEY")


async def test_invalid_api_key(client, world, captive):
    user = await world.user(captive.org.id, role="admin")
    jwt = await world.token(client, user.username)
    _, ins = await world.api_key(captive.org.id, ["*"], kind="ins")
    for token in ("pct_short", "pct_" + "0" * 64, "pct_" + "G" * 64, "not-a-key", jwt, ins):
        r = await client.post(POLICY, headers={"Authorization": f"Bearer {token}"}, json=SPEC_POLICY)
        _error(r, 401, "INVALID_API_KEY")


async def test_revoked_and_expired_keys(client, world, captive):
    key, raw = await world.api_key(captive.org.id, ["*"])
    async with transaction() as s:
        await identity.revoke_api_key(s, Caller.system(key.org_id), await s.get(ApiKey, key.id))
    _error(await client.post(POLICY, headers={"Authorization": f"Bearer {raw}"}, json=SPEC_POLICY),
           401, "API_KEY_REVOKED")
    key, raw = await world.api_key(captive.org.id, ["*"], expires_at=utcnow() + timedelta(hours=1))
    r = await client.post(POLICY, headers={"Authorization": f"Bearer {raw}"}, json=SPEC_POLICY)
    assert r.status_code == 200
    async with transaction() as s:
        await s.execute(update(ApiKey).where(ApiKey.id == key.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    _error(await client.post(POLICY, headers={"Authorization": f"Bearer {raw}"}, json=SPEC_POLICY),
           401, "API_KEY_EXPIRED")


async def test_captive_inactive(client, captive):
    async with transaction() as s:
        await s.execute(update(Organisation).where(Organisation.id == captive.org.id)
                        .values(status="inactive"))
    for method, url in (("POST", POLICY), ("POST", COLL), ("GET", LOGS)):
        _error(await client.request(method, url, headers=captive.headers, json=SPEC_POLICY),
               403, "CAPTIVE_INACTIVE")


@pytest.mark.parametrize(("scopes", "allowed"), [
    (["*"], {POLICY, COLL, BULK}),
    (["policies:write"], {POLICY}),
    (["collections:write"], {COLL, BULK}),
    (["policies:read", "collections:read", "webhooks:receive"], set()),
    (["policies:write", "collections:write"], {POLICY, COLL, BULK}),
])
async def test_permissions(client, world, captive, scopes, allowed):
    await put_policy(client, captive)
    _, raw = await world.api_key(captive.org.id, scopes)
    headers = {"Authorization": f"Bearer {raw}"}
    bodies = {POLICY: SPEC_POLICY,
              COLL: {"policy_number": "POL_123456", "collection_date": "2024-01-15", "status": "pending"},
              BULK: {"collections": [{"policy_number": "POL_123456", "collection_date": "2024-02-15",
                                      "status": "pending"}]}}
    for url, body in bodies.items():
        r = await client.post(url, headers=headers, json=body)
        if url in allowed:
            assert r.status_code == 200, (url, r.text)
        else:
            _error(r, 403, "INSUFFICIENT_PERMISSIONS")
            assert "permission" in r.json()["error"]["message"]
    assert (await client.get(LOGS, headers=headers)).status_code == 200  # any key of the captive


async def test_unknown_path_and_method_speak_the_premium_body(client, captive):
    _error(await client.post("/api/webhooks/nothing", headers=captive.headers, json={}), 404, "NOT_FOUND")
    _error(await client.get(POLICY, headers=captive.headers), 405, "METHOD_NOT_ALLOWED")


# ---------------------------------------------------------------- the webhook log


async def test_every_request_is_logged(client, world, captive):
    await put_policy(client, captive)
    await client.post(COLL, headers=captive.headers, json={"collection_reference": "X", "status": "failed"})
    await client.post(COLL, headers=captive.headers, json={"collection_reference": "X", "status": "?"})
    await client.post(COLL, headers={"Authorization": "Bearer pct_" + "a" * 64}, json={})
    key, raw = await world.api_key(captive.org.id, ["*"])
    async with transaction() as s:
        await identity.revoke_api_key(s, Caller.system(key.org_id), await s.get(ApiKey, key.id))
    await client.post(COLL, headers={"Authorization": f"Bearer {raw}"}, json={})
    r = await client.get(LOGS, headers=captive.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data", "pagination"}
    assert body["pagination"] == {"page": 1, "limit": 50, "total": 4, "pages": 1}
    rows = body["data"]  # newest first; the unknown key's request belongs to nobody
    assert [(x["endpoint"], x["method"], x["response_status"]) for x in rows] == [
        (COLL, "POST", 401), (COLL, "POST", 400), (COLL, "POST", 404), (POLICY, "POST", 200)]
    assert rows[0]["api_key"] == key.key_id and rows[0]["error_code"] == "API_KEY_REVOKED"
    assert rows[1]["error_code"] == "INVALID_STATUS" and rows[2]["error_code"] == "COLLECTION_NOT_FOUND"
    for x in rows:
        assert {"id", "endpoint", "method", "response_status", "processing_time_ms", "created_at"} <= set(x)
        assert isinstance(x["processing_time_ms"], int) and x["processing_time_ms"] >= 0
        assert x["created_at"].endswith("Z") and len(x["id"]) == 36
    assert rows[3]["api_key"] == captive.key[:16] and captive.key not in r.text
    # The log read itself is logged too.
    r = await client.get(LOGS, headers=captive.headers, params={"status_code": 200})
    assert [x["endpoint"] for x in r.json()["data"]] == [LOGS, POLICY]


async def test_logs_pagination_and_scope(client, world, captive):
    other = await make_captive(world, "Beta Captive")
    await put_policy(client, other)
    for i in range(7):
        await client.post(COLL, headers=captive.headers, json={"collection_reference": f"C{i}",
                                                               "status": "failed"})
    r = await client.get(LOGS, headers=captive.headers, params={"page": 2, "limit": 3})
    assert r.status_code == 200
    assert r.json()["pagination"] == {"page": 2, "limit": 3, "total": 7, "pages": 3}
    assert len(r.json()["data"]) == 3
    r = await client.get(LOGS, headers=captive.headers, params={"page": 4, "limit": 3})
    assert r.json()["data"] == [] and r.json()["pagination"]["total"] == 8  # + the previous read
    r = await client.get(LOGS, headers=other.headers)
    assert [x["endpoint"] for x in r.json()["data"]] == [POLICY]  # never another captive's log
    r = await client.get(LOGS, headers=captive.headers, params={"status_code": 404, "limit": 100})
    assert r.json()["pagination"]["total"] == 7


@pytest.mark.parametrize("params", [{"limit": 101}, {"limit": 0}, {"page": 0}, {"page": -1},
                                    {"limit": "many"}, {"status_code": "x"}])
async def test_logs_bad_paging(client, captive, params):
    _error(await client.get(LOGS, headers=captive.headers, params=params), 400, "VALIDATION_ERROR")
