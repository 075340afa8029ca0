"""Partner API: API clients (create, list, get, update, delete), validation, auth, tenancy."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.partners.fixtures import CLIENT_BODY

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
FULL_FIELDS = {"id", "name", "description", "redirectUris", "website", "logoUrl", "contactEmail", "status",
               "rateLimitTier", "webhookUrl", "webhookSecret", "scopes", "metadata", "createdAt",
               "updatedAt", "apiKeys", "webhookSubscriptions"}


async def test_create_client_answers_the_spec_shape(client, partner):
    r = await client.post("/api/v1/api-clients", json=CLIENT_BODY, headers=partner.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == FULL_FIELDS
    uuid.UUID(body["id"])
    assert body | {"id": None, "createdAt": None, "updatedAt": None} == {
        "id": None, "name": "My Partner App", "description": "Integration for lead management",
        "redirectUris": ["https://example.com/callback"], "website": "https://example.com",
        "logoUrl": None, "contactEmail": "tech@example.com", "status": "ACTIVE",
        "rateLimitTier": "STANDARD", "webhookUrl": None, "webhookSecret": None,
        "scopes": ["leads:read", "leads:write", "webhooks:write"], "metadata": None,
        "createdAt": None, "updatedAt": None, "apiKeys": [], "webhookSubscriptions": []}
    assert ISO_Z.match(body["createdAt"]) and ISO_Z.match(body["updatedAt"])
    assert r.headers["X-RateLimit-Limit"] == "600"  # admins count at the enterprise tier


async def test_minimal_client_defaults_and_enum_case(client, partner):
    r = await client.post("/api/v1/api-clients", headers=partner.headers, json={
        "name": "  Lean  ", "redirectUris": [], "contactEmail": "a@b.co", "rateLimitTier": "Premium",
        "metadata": {"team": "ops"}})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "Lean" and body["rateLimitTier"] == "PREMIUM"
    assert body["metadata"] == {"team": "ops"} and body["scopes"] == []
    r = await client.post("/api/v1/api-clients", headers=partner.headers, json={
        "name": "Default tier", "redirectUris": ["com.example.app:/oauth"], "contactEmail": "a@b.co"})
    assert r.status_code == 201 and r.json()["rateLimitTier"] == "BASIC"


async def test_webhook_url_gets_a_secret_shown_once(client, partner):
    created = await partner.create_client(webhookUrl="https://hooks.partner.test/arrears")
    assert created["webhookUrl"] == "https://hooks.partner.test/arrears"
    assert created["webhookSecret"].startswith("whsec_") and len(created["webhookSecret"]) > 20
    again = (await client.get(f"/api/v1/api-clients/{created['id']}", headers=partner.headers)).json()
    assert again["webhookSecret"] == "whsec_********"


@pytest.mark.parametrize("body, fields", [
    ({}, {"name", "redirectUris", "contactEmail"}),
    (CLIENT_BODY | {"name": ""}, {"name"}),
    (CLIENT_BODY | {"name": "x" * 256}, {"name"}),
    (CLIENT_BODY | {"contactEmail": "not-an-email"}, {"contactEmail"}),
    (CLIENT_BODY | {"website": "ftp://example.com"}, {"website"}),
    (CLIENT_BODY | {"logoUrl": "not a url"}, {"logoUrl"}),
    (CLIENT_BODY | {"webhookUrl": "example.com/hook"}, {"webhookUrl"}),
    (CLIENT_BODY | {"redirectUris": ["relative/path", "https://x.test/cb#frag"]},
     {"redirectUris.0", "redirectUris.1"}),
    (CLIENT_BODY | {"redirectUris": "https://x.test"}, {"redirectUris"}),
    (CLIENT_BODY | {"rateLimitTier": "gold"}, {"rateLimitTier"}),
    (CLIENT_BODY | {"scopes": ["Bad Scope"]}, {"scopes"}),
    (CLIENT_BODY | {"metadata": "text"}, {"metadata"}),
    ({"name": "", "contactEmail": "x", "redirectUris": ["nope"], "rateLimitTier": "x"},
     {"name", "contactEmail", "redirectUris.0", "rateLimitTier"}),
])
async def test_create_validation_names_each_bad_field(client, partner, body, fields):
    r = await client.post("/api/v1/api-clients", json=body, headers=partner.headers)
    assert r.status_code == 400, r.text
    err = r.json()
    assert set(err) == {"error", "message", "details"}
    assert err["error"] == "VALIDATION_ERROR" and err["message"]
    assert set(err["details"]) == fields
    assert all(isinstance(v, list) and v for v in err["details"].values())
    assert "X-RateLimit-Remaining" in r.headers
    listed = (await client.get("/api/v1/api-clients", headers=partner.headers)).json()
    assert listed["pagination"]["total"] == 0  # nothing half-done


async def test_list_filters_search_sort_and_pagination(client, partner):
    a = await partner.create_client(name="Alpha Leads", contactEmail="ops@alpha.example", rateLimitTier="basic")
    b = await partner.create_client(name="Beta Brokers", contactEmail="dev@beta.example", rateLimitTier="standard")
    c = await partner.create_client(name="Gamma", contactEmail="it@gamma.example", rateLimitTier="STANDARD")
    await client.put(f"/api/v1/api-clients/{c['id']}", json={"status": "suspended"}, headers=partner.headers)

    r = await client.get("/api/v1/api-clients", headers=partner.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 3, "totalPages": 1}
    assert [x["name"] for x in body["data"]] == ["Gamma", "Beta Brokers", "Alpha Leads"]  # newest first
    assert set(body["data"][0]) == {"id", "name", "status", "rateLimitTier", "contactEmail", "createdAt"}

    async def names(**params):
        r = await client.get("/api/v1/api-clients", params=params, headers=partner.headers)
        assert r.status_code == 200, r.text
        return [x["name"] for x in r.json()["data"]]

    assert await names(status="ACTIVE", rateLimitTier="STANDARD") == ["Beta Brokers"]
    assert await names(status="suspended") == ["Gamma"]
    assert await names(rateLimitTier="standard", sortBy="name", sortOrder="asc") == ["Beta Brokers", "Gamma"]
    assert await names(contactEmail="ALPHA") == ["Alpha Leads"]
    assert await names(search="bro") == ["Beta Brokers"]
    assert await names(search="gamma.example") == ["Gamma"]
    assert await names(search="100%") == []
    assert await names(sortBy="name", sortOrder="asc") == ["Alpha Leads", "Beta Brokers", "Gamma"]
    assert await names(sortBy="contactEmail", sortOrder="desc") == ["Alpha Leads", "Gamma", "Beta Brokers"]

    r = await client.get("/api/v1/api-clients", params={"page": 2, "limit": 2, "sortBy": "name",
                                                        "sortOrder": "asc"}, headers=partner.headers)
    assert r.json()["pagination"] == {"page": 2, "limit": 2, "total": 3, "totalPages": 2}
    assert [x["id"] for x in r.json()["data"]] == [c["id"]]
    assert a["id"] and b["id"]


@pytest.mark.parametrize("params, field", [
    ({"limit": 101}, "limit"), ({"limit": 0}, "limit"), ({"page": 0}, "page"), ({"page": "x"}, "page"),
    ({"sortBy": "secret"}, "sortBy"), ({"sortOrder": "up"}, "sortOrder"), ({"status": "gone"}, "status"),
    ({"rateLimitTier": "gold"}, "rateLimitTier"),
])
async def test_list_rejects_bad_query(client, partner, params, field):
    r = await client.get("/api/v1/api-clients", params=params, headers=partner.headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "VALIDATION_ERROR" and field in r.json()["details"]


async def test_get_update_and_delete(client, partner):
    created = await partner.create_client()
    cid = created["id"]
    r = await client.get(f"/api/v1/api-clients/{cid}", headers=partner.headers)
    assert r.status_code == 200 and set(r.json()) == FULL_FIELDS

    r = await client.put(f"/api/v1/api-clients/{cid}", headers=partner.headers,
                         json={"status": "SUSPENDED", "rateLimitTier": "PREMIUM", "description": None})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "SUSPENDED" and body["rateLimitTier"] == "PREMIUM"
    assert body["description"] is None and body["name"] == "My Partner App"
    assert body["updatedAt"] >= created["updatedAt"]

    r = await client.put(f"/api/v1/api-clients/{cid}", headers=partner.headers,
                         json={"name": None, "contactEmail": "nope", "status": "retired"})
    assert r.status_code == 400
    assert set(r.json()["details"]) == {"name", "contactEmail", "status"}

    r = await client.delete(f"/api/v1/api-clients/{cid}", headers=partner.headers)
    assert r.status_code == 204 and r.content == b""
    r = await client.get(f"/api/v1/api-clients/{cid}", headers=partner.headers)
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"
    r = await client.delete(f"/api/v1/api-clients/{cid}", headers=partner.headers)
    assert r.status_code == 404


@pytest.mark.parametrize("ident", ["8d3b6c1e-0f4a-4c57-9a65-3f1c2b7e9d10", "not-a-uuid", "1"])
async def test_unknown_ids_are_404(client, partner, ident):
    for method in ("GET", "PUT", "DELETE"):
        r = await client.request(method, f"/api/v1/api-clients/{ident}", headers=partner.headers,
                                 json={} if method == "PUT" else None)
        assert r.status_code == 404, (method, r.text)
        assert r.json() == {"error": "NOT_FOUND", "message": r.json()["message"], "details": None}


async def test_other_organisations_clients_are_invisible(client, partner, world):
    mine = await partner.create_client(name="Mine")
    other_org = await world.org("Other Org")
    other_headers = await world.login_headers(client, other_org.id)
    r = await client.post("/api/v1/api-clients", json=CLIENT_BODY | {"name": "Theirs"}, headers=other_headers)
    theirs = r.json()
    listed = (await client.get("/api/v1/api-clients", headers=partner.headers)).json()
    assert [x["name"] for x in listed["data"]] == ["Mine"]
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/dashboard"), ("GET", "/usage"),
                         ("GET", "/api-keys"), ("GET", "/webhooks")):
        r = await client.request(method, f"/api/v1/api-clients/{theirs['id']}{path}", headers=partner.headers,
                                 json={} if method == "PUT" else None)
        assert r.status_code == 404, (method, path, r.text)
    r = await client.post("/api/v1/api-keys", json={"clientId": theirs["id"], "name": "k"},
                          headers=partner.headers)
    assert r.status_code == 404
    assert (await client.get(f"/api/v1/api-clients/{mine['id']}", headers=other_headers)).status_code == 404


async def test_callers_admins_and_scoped_keys(client, partner, world):
    target = await partner.create_client(scopes=["*"])
    r = await client.get("/api/v1/api-clients")
    assert r.status_code == 401
    assert r.json()["error"] == "UNAUTHORIZED" and set(r.json()) == {"error", "message", "details"}
    r = await client.get("/api/v1/api-clients", headers={"Authorization": "Bearer garbage"})
    assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED"

    _, pct = await world.api_key(partner.org.id, ["*"], kind="pct")
    r = await client.get("/api/v1/api-clients", headers=partner.key_headers(pct))
    assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED"

    agent = await world.login_headers(client, partner.org.id, role="calling_agent")
    r = await client.get("/api/v1/api-clients", headers=agent)
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    assert (await client.get("/api/v1/webhook-events", headers=agent)).status_code == 200

    read_only_admin = await world.login_headers(client, partner.org.id, access="read")
    assert (await client.get("/api/v1/api-clients", headers=read_only_admin)).status_code == 200
    r = await client.post("/api/v1/api-clients", json=CLIENT_BODY, headers=read_only_admin)
    assert r.status_code == 403

    reader = (await partner.create_key(target["id"], scopes=["clients:read"]))["key"]
    writer = (await partner.create_key(target["id"], scopes=["clients:write"]))["key"]
    nothing = (await partner.create_key(target["id"], scopes=["leads:read"]))["key"]
    assert (await client.get("/api/v1/api-clients", headers=partner.key_headers(reader))).status_code == 200
    r = await client.post("/api/v1/api-clients", json=CLIENT_BODY, headers=partner.key_headers(reader))
    assert r.status_code == 403 and "clients:write" in r.json()["message"]
    r = await client.post("/api/v1/api-clients", json=CLIENT_BODY | {"name": "By key"},
                          headers=partner.key_headers(writer))
    assert r.status_code == 201
    r = await client.get("/api/v1/api-clients", headers=partner.key_headers(nothing))
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    assert (await client.get("/api/v1/rate-limits", headers=partner.key_headers(nothing))).status_code == 200


async def test_suspended_clients_keys_are_forbidden_and_deleted_clients_keys_unauthorized(client, partner):
    c = await partner.create_client(scopes=["*"])
    key = (await partner.create_key(c["id"]))["key"]
    h = partner.key_headers(key)
    assert (await client.get("/api/v1/rate-limits", headers=h)).status_code == 200
    await client.put(f"/api/v1/api-clients/{c['id']}", json={"status": "SUSPENDED"}, headers=partner.headers)
    r = await client.get("/api/v1/rate-limits", headers=h)
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN" and "suspended" in r.json()["message"]
    await client.put(f"/api/v1/api-clients/{c['id']}", json={"status": "active"}, headers=partner.headers)
    assert (await client.get("/api/v1/rate-limits", headers=h)).status_code == 200
    assert (await client.delete(f"/api/v1/api-clients/{c['id']}", headers=partner.headers)).status_code == 204
    r = await client.get("/api/v1/rate-limits", headers=h)
    assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED"


async def test_deleting_a_client_deletes_keys_and_subscriptions(client, partner):
    from sqlalchemy import func, select

    from arrears.db import transaction
    from arrears.identity.models import ApiKey
    from arrears.partners.models import WebhookSubscription

    c = await partner.create_client()
    await partner.create_key(c["id"], scopes=["leads:read"])
    await partner.subscribe(c["id"], "https://hooks.partner.test/x", ["policy.created"])
    await client.delete(f"/api/v1/api-clients/{c['id']}", headers=partner.headers)
    async with transaction(readonly=True) as s:
        assert await s.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.kind == "ins")) == 0
        assert await s.scalar(select(func.count()).select_from(WebhookSubscription)) == 0
