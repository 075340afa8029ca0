"""Partner API: webhook event catalogue and subscriptions (create, list, get, update, delete)."""

from __future__ import annotations

import uuid

import pytest

SPEC_EVENTS = [
    "lead.created", "lead.updated", "lead.qualified", "lead.converted", "lead.rejected",
    "assignment.created", "assignment.accepted", "assignment.rejected",
    "policy.created", "policy.updated", "policy.activated", "policy.cancelled",
    "quote.created", "quote.sent", "quote.accepted", "quote.rejected",
    "proposal.created", "proposal.sent", "proposal.accepted", "proposal.rejected"]
HOOK = "https://hooks.partner.example/webhooks"


async def test_webhook_events_catalogue(client, partner):
    r = await client.get("/api/v1/webhook-events", headers=partner.headers)
    assert r.status_code == 200
    assert r.json() == {"data": SPEC_EVENTS + ["collection.updated", "upload.completed",
                                               "message.delivered", "message.failed",
                                               "account.status_changed", "task.created",
                                               "payment.recorded", "payment.reversed", "promise.created",
                                               "promise.kept", "promise.broken", "strategy.step_executed",
                                               "letter.created"]}
    assert (await client.get("/api/v1/webhook-events")).status_code == 401


async def test_create_subscription(client, partner):
    c = await partner.create_client()
    r = await client.post(f"/api/v1/api-clients/{c['id']}/webhooks", headers=partner.headers, json={
        "url": HOOK, "events": ["lead.created", "lead.converted", "policy.created"],
        "retryConfig": {"maxRetries": 3, "retryDelay": 60, "backoffMultiplier": 2, "timeout": 30}})
    assert r.status_code == 201, r.text
    s = r.json()
    assert set(s) == {"id", "clientId", "url", "secret", "events", "status", "pausedReason", "retryConfig",
                      "metadata", "createdAt", "updatedAt"}
    uuid.UUID(s["id"])
    assert s["clientId"] == c["id"] and s["url"] == HOOK and s["status"] == "ACTIVE"
    assert s["secret"].startswith("whsec_") and s["pausedReason"] is None
    assert s["events"] == ["lead.created", "lead.converted", "policy.created"]
    assert s["retryConfig"] == {"maxRetries": 3, "retryDelay": 60, "backoffMultiplier": 2, "timeout": 30}
    assert s["createdAt"].endswith("Z") and s["updatedAt"].endswith("Z")

    r = await client.post(f"/api/v1/api-clients/{c['id']}/webhooks", headers=partner.headers,
                          json={"url": HOOK, "events": ["POLICY.UPDATED", "policy.updated"],
                                "retryConfig": {"maxRetries": 0}, "metadata": {"team": "x"}})
    s2 = r.json()
    assert s2["events"] == ["policy.updated"] and s2["metadata"] == {"team": "x"}
    assert s2["retryConfig"] == {"maxRetries": 0, "retryDelay": 60, "backoffMultiplier": 2.0, "timeout": 30}
    assert s2["secret"] != s["secret"]


@pytest.mark.parametrize("body, fields", [
    ({}, {"events"}),
    ({"url": HOOK}, {"events"}),
    ({"url": HOOK, "events": []}, {"events"}),
    ({"url": HOOK, "events": ["lead.created", "lead.exploded"]}, {"events"}),
    ({"url": "not-a-url", "events": ["lead.created"]}, {"url"}),
    ({"url": "ftp://x.example/h", "events": ["lead.created"]}, {"url"}),
    ({"url": HOOK, "events": ["lead.created"], "retryConfig": {"maxRetries": 11}}, {"retryConfig.maxRetries"}),
    ({"url": HOOK, "events": ["lead.created"], "retryConfig": {"maxRetries": -1}}, {"retryConfig.maxRetries"}),
    ({"url": HOOK, "events": ["lead.created"], "retryConfig": {"retryDelay": 0}}, {"retryConfig.retryDelay"}),
    ({"url": HOOK, "events": ["lead.created"], "retryConfig": {"backoffMultiplier": 0.5}},
     {"retryConfig.backoffMultiplier"}),
    ({"url": HOOK, "events": ["lead.created"], "retryConfig": {"timeout": 0}}, {"retryConfig.timeout"}),
    ({"url": HOOK, "events": ["lead.created"], "retryConfig": {"timeout": 31}}, {"retryConfig.timeout"}),
    ({"url": HOOK, "events": ["lead.created"], "retryConfig": {"timeout": 1.5}}, {"retryConfig.timeout"}),
    ({"url": 5, "events": "lead.created", "retryConfig": {"maxRetries": 99, "timeout": 99}},
     {"url", "events", "retryConfig.maxRetries", "retryConfig.timeout"}),
])
async def test_subscription_validation(client, partner, body, fields):
    c = await partner.create_client()
    r = await client.post(f"/api/v1/api-clients/{c['id']}/webhooks", json=body, headers=partner.headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "VALIDATION_ERROR" and set(r.json()["details"]) == fields


async def test_url_defaults_to_the_clients_webhook_url(client, partner):
    c = await partner.create_client(webhookUrl="https://hooks.partner.example/default")
    r = await client.post(f"/api/v1/api-clients/{c['id']}/webhooks", json={"events": ["policy.created"]},
                          headers=partner.headers)
    assert r.status_code == 201
    assert r.json()["url"] == "https://hooks.partner.example/default"
    assert r.json()["secret"] == c["webhookSecret"]  # one endpoint, one secret


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://192.168.0.10/h",
    "http://172.16.5.5/h", "http://169.254.169.254/latest/meta-data/", "http://[::1]/hook",
    "http://[fd00:ec2::254]/", "http://0.0.0.0/", "http://2130706433/", "http://0x7f.1/",
    "http://100.100.100.200/", "http://[::ffff:127.0.0.1]/", "http://metadata.google.internal/",
    "http://api.localhost/hook",
])
async def test_private_addresses_are_refused(client, partner, url):
    c = await partner.create_client()
    r = await client.post(f"/api/v1/api-clients/{c['id']}/webhooks", json={"url": url, "events": ["lead.created"]},
                          headers=partner.headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "VALIDATION_ERROR" and "url" in r.json()["details"]
    r = await client.post("/api/v1/api-clients", headers=partner.headers, json={
        "name": "x", "redirectUris": [], "contactEmail": "a@b.co", "webhookUrl": url})
    assert r.status_code == 400 and "webhookUrl" in r.json()["details"]


async def test_private_addresses_allowed_when_configured(client, partner, allow_private):
    c = await partner.create_client()
    s = await partner.subscribe(c["id"], "http://127.0.0.1:8080/hook", ["lead.created"])
    assert s["url"] == "http://127.0.0.1:8080/hook"


async def test_list_get_update_delete(client, partner):
    c = await partner.create_client()
    base = f"/api/v1/api-clients/{c['id']}/webhooks"
    a = await partner.subscribe(c["id"], HOOK, ["lead.created", "lead.converted"])
    b = await partner.subscribe(c["id"], HOOK + "/2", ["policy.activated"])

    r = await client.get(base, headers=partner.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 2, "totalPages": 1}
    assert [x["id"] for x in body["data"]] == [b["id"], a["id"]]
    item = body["data"][1]
    assert {"id", "url", "events", "status", "createdAt", "_count"} <= set(item) and "secret" not in item
    assert item["_count"] == {"deliveries": 0}

    r = await client.put(f"{base}/{a['id']}", headers=partner.headers, json={
        "status": "paused", "events": ["lead.created", "lead.converted", "policy.activated"],
        "retryConfig": {"timeout": 10}})
    assert r.status_code == 200, r.text
    u = r.json()
    assert u["status"] == "PAUSED" and u["pausedReason"].startswith("Paused by user:")
    assert u["events"] == ["lead.created", "lead.converted", "policy.activated"]
    assert u["retryConfig"] == {"maxRetries": 3, "retryDelay": 60, "backoffMultiplier": 2.0, "timeout": 10}
    assert "secret" not in u

    r = await client.get(base, params={"status": "PAUSED"}, headers=partner.headers)
    assert [x["id"] for x in r.json()["data"]] == [a["id"]]
    r = await client.get(base, params={"status": "active"}, headers=partner.headers)
    assert [x["id"] for x in r.json()["data"]] == [b["id"]]
    r = await client.get(base, params={"status": "sleeping"}, headers=partner.headers)
    assert r.status_code == 400

    r = await client.put(f"{base}/{a['id']}", headers=partner.headers, json={"status": "ACTIVE"})
    assert r.json()["status"] == "ACTIVE" and r.json()["pausedReason"] is None
    r = await client.get(f"{base}/{a['id']}", headers=partner.headers)
    assert r.status_code == 200 and r.json()["_count"] == {"deliveries": 0}

    for bad, field in (({"events": []}, "events"), ({"url": None}, "url"), ({"status": "DEAD"}, "status"),
                       ({"retryConfig": {"maxRetries": 20}}, "retryConfig.maxRetries"),
                       ({"url": "http://10.0.0.1/x"}, "url")):
        r = await client.put(f"{base}/{a['id']}", headers=partner.headers, json=bad)
        assert r.status_code == 400 and field in r.json()["details"], (bad, r.text)

    r = await client.delete(f"{base}/{a['id']}", headers=partner.headers)
    assert r.status_code == 204
    assert (await client.get(f"{base}/{a['id']}", headers=partner.headers)).status_code == 404
    assert (await client.delete(f"{base}/{a['id']}", headers=partner.headers)).status_code == 404


async def test_subscriptions_are_per_client_and_per_tenant(client, partner, world):
    c1 = await partner.create_client(name="One")
    c2 = await partner.create_client(name="Two")
    s1 = await partner.subscribe(c1["id"], HOOK)
    other = await world.org("Other Org")
    oh = await world.login_headers(client, other.id)
    for path in (f"/api/v1/api-clients/{c2['id']}/webhooks/{s1['id']}",
                 f"/api/v1/api-clients/{c2['id']}/webhooks/{s1['id']}/deliveries",
                 f"/api/v1/api-clients/{c1['id']}/webhooks/{uuid.uuid4()}",
                 f"/api/v1/api-clients/{c1['id']}/webhooks/garbage"):
        assert (await client.get(path, headers=partner.headers)).status_code == 404, path
    for method in ("GET", "PUT", "DELETE"):
        r = await client.request(method, f"/api/v1/api-clients/{c1['id']}/webhooks/{s1['id']}", headers=oh,
                                 json={} if method == "PUT" else None)
        assert r.status_code == 404
    r = await client.post(f"/api/v1/api-clients/{c1['id']}/webhooks", headers=oh,
                          json={"url": HOOK, "events": ["lead.created"]})
    assert r.status_code == 404
    assert (await client.get(f"/api/v1/api-clients/{c1['id']}/webhooks/{s1['id']}/deliveries",
                             headers=oh)).status_code == 404


async def test_key_with_webhooks_write_manages_its_own_clients_webhooks(client, partner):
    mine = await partner.create_client(scopes=["webhooks:write"])
    other = await partner.create_client(name="Other")
    h = partner.key_headers((await partner.create_key(mine["id"]))["key"])
    r = await client.post(f"/api/v1/api-clients/{mine['id']}/webhooks", headers=h,
                          json={"url": HOOK, "events": ["lead.created"]})
    assert r.status_code == 201
    assert (await client.get(f"/api/v1/api-clients/{mine['id']}/webhooks", headers=h)).status_code == 200
    r = await client.post(f"/api/v1/api-clients/{other['id']}/webhooks", headers=h,
                          json={"url": HOOK, "events": ["lead.created"]})
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
