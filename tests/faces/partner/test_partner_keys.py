"""Partner API: API keys — creation (shown once), listing, revocation, expiry, scopes, overrides."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from arrears.db import utcnow

KEY_FIELDS = {"id", "clientId", "keyId", "keyPrefix", "name", "status", "lastUsedAt", "expiresAt", "scopes",
              "rateLimitOverride", "metadata", "createdAt"}


async def test_create_key_shows_the_key_once(client, partner):
    c = await partner.create_client()
    expires = (utcnow() + timedelta(days=365)).replace(microsecond=0)
    r = await client.post("/api/v1/api-keys", headers=partner.headers, json={
        "clientId": c["id"], "name": "Production Key", "expiresAt": expires.isoformat().replace("+00:00", "Z"),
        "scopes": ["leads:read", "leads:write"], "rateLimitOverride": 200, "metadata": {"env": "prod"}})
    assert r.status_code == 201, r.text
    key = r.json()
    assert set(key) == KEY_FIELDS | {"key"}
    assert re.fullmatch(r"ins_[a-z0-9]{12}", key["keyId"])
    assert key["keyPrefix"] == key["keyId"][:8] and key["key"].startswith(key["keyId"] + "_")
    assert key["status"] == "ACTIVE" and key["scopes"] == ["leads:read", "leads:write"]
    assert key["expiresAt"] == expires.isoformat().replace("+00:00", "Z")
    assert key["rateLimitOverride"] == 200 and key["metadata"] == {"env": "prod"}
    assert key["clientId"] == c["id"] and key["lastUsedAt"] is None

    listed = await client.get(f"/api/v1/api-clients/{c['id']}/api-keys", headers=partner.headers)
    assert listed.status_code == 200
    body = listed.json()
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 1, "totalPages": 1}
    assert set(body["data"][0]) == KEY_FIELDS and body["data"][0]["metadata"] == {"env": "prod"}
    detail = (await client.get(f"/api/v1/api-clients/{c['id']}", headers=partner.headers)).json()
    assert [k["keyId"] for k in detail["apiKeys"]] == [key["keyId"]]
    assert "key" not in detail["apiKeys"][0]
    assert key["key"] not in listed.text + str(detail)


async def test_keys_are_stored_hashed_and_rotate_without_downtime(client, partner):
    import uuid

    from sqlalchemy import inspect, select

    from arrears.db import transaction
    from arrears.identity import crypto
    from arrears.identity.models import ApiKey

    c = await partner.create_client(scopes=["*"])
    old = await partner.create_key(c["id"], name="Old")
    new = await partner.create_key(c["id"], name="New")  # rotation: a second key first
    async with transaction(readonly=True) as s:
        rows = {str(r.id): r for r in (await s.scalars(
            select(ApiKey).where(ApiKey.client_id == uuid.UUID(c["id"])))).all()}
    for made in (old, new):
        row = rows[made["id"]]
        stored = " ".join(str(getattr(row, a.key)) for a in inspect(ApiKey).column_attrs)
        secret_part = made["key"].removeprefix(made["keyId"] + "_")
        assert made["key"] not in stored and secret_part not in stored
        assert row.key_hash == crypto.hash_key(made["key"])
    for made in (old, new):
        assert (await client.get("/api/v1/webhook-events",
                                 headers=partner.key_headers(made["key"]))).status_code == 200
    r = await client.delete(f"/api/v1/api-clients/{c['id']}/api-keys/{old['id']}", headers=partner.headers)
    assert r.status_code == 204
    r = await client.get("/api/v1/webhook-events", headers=partner.key_headers(old["key"]))
    assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED"
    r = await client.get("/api/v1/webhook-events", headers=partner.key_headers(new["key"]))
    assert r.status_code == 200


async def test_key_works_records_last_use_and_default_scopes(client, partner):
    c = await partner.create_client(scopes=["clients:read", "webhooks:write"])
    key = await partner.create_key(c["id"])
    assert key["scopes"] == ["clients:read", "webhooks:write"]
    r = await client.get("/api/v1/api-clients", headers=partner.key_headers(key["key"]))
    assert r.status_code == 200
    listed = (await client.get(f"/api/v1/api-clients/{c['id']}/api-keys", headers=partner.headers)).json()
    assert listed["data"][0]["lastUsedAt"] is not None


async def test_scopes_must_be_the_clients(client, partner):
    c = await partner.create_client(scopes=["leads:read"])
    r = await client.post("/api/v1/api-keys", headers=partner.headers,
                          json={"clientId": c["id"], "name": "k", "scopes": ["leads:read", "clients:write"]})
    assert r.status_code == 400 and set(r.json()["details"]) == {"scopes"}


@pytest.mark.parametrize("body, fields", [
    ({}, {"clientId", "name"}),
    ({"clientId": "x", "name": ""}, {"name"}),
    ({"clientId": "x", "name": "k" * 256}, {"name"}),
    ({"clientId": "x", "name": "k", "expiresAt": "tomorrow"}, {"expiresAt"}),
    ({"clientId": "x", "name": "k", "rateLimitOverride": 0}, {"rateLimitOverride"}),
    ({"clientId": "x", "name": "k", "rateLimitOverride": "many"}, {"rateLimitOverride"}),
    ({"clientId": "x", "name": "k", "scopes": "all"}, {"scopes"}),
])
async def test_create_key_validation(client, partner, body, fields):
    r = await client.post("/api/v1/api-keys", json=body, headers=partner.headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "VALIDATION_ERROR" and set(r.json()["details"]) == fields


async def test_expires_in_the_past_and_unknown_client(client, partner):
    c = await partner.create_client()
    r = await client.post("/api/v1/api-keys", headers=partner.headers,
                          json={"clientId": c["id"], "name": "k", "expiresAt": "2020-01-01T00:00:00Z"})
    assert r.status_code == 400 and "expiresAt" in r.json()["details"]
    for cid in ("00000000-0000-0000-0000-000000000000", "nope"):
        r = await client.post("/api/v1/api-keys", headers=partner.headers, json={"clientId": cid, "name": "k"})
        assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"


async def test_revoke_stops_the_key_at_once(client, partner):
    c = await partner.create_client(scopes=["*"])
    key = await partner.create_key(c["id"])
    h = partner.key_headers(key["key"])
    assert (await client.get("/api/v1/webhook-events", headers=h)).status_code == 200
    r = await client.delete(f"/api/v1/api-clients/{c['id']}/api-keys/{key['id']}", headers=partner.headers)
    assert r.status_code == 204 and r.content == b""
    r = await client.get("/api/v1/webhook-events", headers=h)
    assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED" and "revoked" in r.json()["message"]
    listed = (await client.get(f"/api/v1/api-clients/{c['id']}/api-keys", headers=partner.headers)).json()
    assert listed["data"][0]["status"] == "REVOKED"
    r = await client.get(f"/api/v1/api-clients/{c['id']}/api-keys", params={"status": "active"},
                         headers=partner.headers)
    assert r.json()["data"] == []
    # Revoking again is harmless; unknown or another client's key is 404.
    assert (await client.delete(f"/api/v1/api-clients/{c['id']}/api-keys/{key['id']}",
                                headers=partner.headers)).status_code == 204
    other = await partner.create_client(name="Other")
    assert (await client.delete(f"/api/v1/api-clients/{other['id']}/api-keys/{key['id']}",
                                headers=partner.headers)).status_code == 404
    assert (await client.delete(f"/api/v1/api-clients/{c['id']}/api-keys/nope",
                                headers=partner.headers)).status_code == 404


async def test_expired_key_is_unauthorized(client, partner):
    from sqlalchemy import update

    from arrears.db import transaction
    from arrears.identity.models import ApiKey

    c = await partner.create_client(scopes=["*"])
    key = await partner.create_key(c["id"], expiresAt=(utcnow() + timedelta(hours=1)).isoformat())
    async with transaction() as s:
        await s.execute(update(ApiKey).where(ApiKey.key_id == key["keyId"])
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    r = await client.get("/api/v1/rate-limits", headers=partner.key_headers(key["key"]))
    assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED" and "expired" in r.json()["message"]
    listed = (await client.get(f"/api/v1/api-clients/{c['id']}/api-keys", headers=partner.headers)).json()
    assert listed["data"][0]["status"] == "EXPIRED"


async def test_key_list_pagination(client, partner):
    c = await partner.create_client()
    for i in range(3):
        await partner.create_key(c["id"], name=f"k{i}")
    r = await client.get(f"/api/v1/api-clients/{c['id']}/api-keys", params={"limit": 2, "page": 2},
                         headers=partner.headers)
    assert r.json()["pagination"] == {"page": 2, "limit": 2, "total": 3, "totalPages": 2}
    assert len(r.json()["data"]) == 1
    r = await client.get(f"/api/v1/api-clients/{c['id']}/api-keys", params={"limit": 500},
                         headers=partner.headers)
    assert r.status_code == 400 and "limit" in r.json()["details"]


async def test_keys_without_a_client_are_refused(client, partner, world):
    _, raw = await world.api_key(partner.org.id, ["*"], kind="ins")
    r = await client.get("/api/v1/rate-limits", headers=partner.key_headers(raw))
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
