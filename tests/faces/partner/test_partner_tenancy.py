"""Tenant isolation on every partner endpoint: another organisation's ids are 404 NOT_FOUND, for its
admin and for its partner key with every scope, alone or mixed with the caller's own ids, and
nothing of the owner changes."""

from __future__ import annotations

import pytest

from tests.partners.fixtures import CLIENT_BODY, Partner, fire

pytestmark = pytest.mark.usefixtures("allow_private")

HOOK = "http://127.0.0.1:9/hooks"


async def _tenant(client, world, name: str) -> dict:
    p = await Partner(client, world).setup(name)
    c = await p.create_client(name=f"{name} app", scopes=["*"])
    key = await p.create_key(c["id"])
    sub = await p.subscribe(c["id"], HOOK)
    return {"partner": p, "client": c, "key": key, "sub": sub}


async def test_another_organisations_ids_are_not_found_everywhere(client, world):
    a = await _tenant(client, world, "Owner Org")
    b = await _tenant(client, world, "Other Org")
    await fire(a["partner"].org.id)
    [d] = await a["partner"].deliveries(a["client"]["id"], a["sub"]["id"])
    ca, ka, sa, da = a["client"]["id"], a["key"], a["sub"]["id"], d["id"]
    cb, sb = b["client"]["id"], b["sub"]["id"]
    requests = [
        ("GET", f"/api-clients/{ca}", None), ("PUT", f"/api-clients/{ca}", {"name": "Taken"}),
        ("DELETE", f"/api-clients/{ca}", None), ("GET", f"/api-clients/{ca}/dashboard", None),
        ("GET", f"/api-clients/{ca}/usage", None),
        ("POST", "/api-keys", {"clientId": ca, "name": "Stolen"}),
        ("GET", f"/api-clients/{ca}/api-keys", None),
        ("DELETE", f"/api-clients/{ca}/api-keys/{ka['id']}", None),
        ("DELETE", f"/api-clients/{cb}/api-keys/{ka['id']}", None),
        ("DELETE", f"/api-clients/{cb}/api-keys/{ka['keyId']}", None),
        ("POST", f"/api-clients/{ca}/webhooks", {"url": HOOK, "events": ["policy.updated"]}),
        ("GET", f"/api-clients/{ca}/webhooks", None),
        ("GET", f"/api-clients/{ca}/webhooks/{sa}", None),
        ("GET", f"/api-clients/{cb}/webhooks/{sa}", None),
        ("PUT", f"/api-clients/{ca}/webhooks/{sa}", {"status": "PAUSED"}),
        ("PUT", f"/api-clients/{cb}/webhooks/{sa}", {"status": "PAUSED"}),
        ("DELETE", f"/api-clients/{ca}/webhooks/{sa}", None),
        ("DELETE", f"/api-clients/{cb}/webhooks/{sa}", None),
        ("GET", f"/api-clients/{ca}/webhooks/{sa}/deliveries", None),
        ("GET", f"/api-clients/{cb}/webhooks/{sa}/deliveries", None),
        ("POST", f"/api-clients/{ca}/webhooks/{sa}/deliveries/{da}/retry", None),
        ("POST", f"/api-clients/{cb}/webhooks/{sb}/deliveries/{da}/retry", None),
    ]
    callers = {"admin": b["partner"].headers, "key": b["partner"].key_headers(b["key"]["key"])}
    for who, headers in callers.items():
        for method, path, body in requests:
            r = await client.request(method, "/api/v1" + path, json=body, headers=headers)
            assert r.status_code == 404, (who, method, path, r.text)
            assert r.json()["error"] == "NOT_FOUND" and set(r.json()) == {"error", "message", "details"}
        listed = (await client.get("/api/v1/api-clients", headers=headers)).json()
        assert [x["id"] for x in listed["data"]] == [cb]

    # The owner's things are as they were.
    owner = a["partner"]
    got = (await client.get(f"/api/v1/api-clients/{ca}", headers=owner.headers)).json()
    assert got["name"] == "Owner Org app" and got["status"] == "ACTIVE"
    assert [k["id"] for k in got["apiKeys"]] == [ka["id"]] and got["apiKeys"][0]["status"] == "ACTIVE"
    assert [(s["id"], s["status"]) for s in got["webhookSubscriptions"]] == [(sa, "ACTIVE")]
    assert (await client.get("/api/v1/webhook-events", headers=owner.key_headers(ka["key"]))).status_code == 200
    [d2] = await owner.deliveries(ca, sa)
    assert (d2["id"], d2["attemptCount"], d2["status"]) == (da, 0, "PENDING")


async def test_a_key_sees_only_its_own_organisation(client, world):
    a = await _tenant(client, world, "Owner Org")
    b = await _tenant(client, world, "Other Org")
    r = await client.post("/api/v1/api-clients", json=CLIENT_BODY | {"name": "By key"},
                          headers=b["partner"].key_headers(b["key"]["key"]))
    assert r.status_code == 201
    names = {x["name"] for x in (await client.get("/api/v1/api-clients",
                                                  headers=a["partner"].headers)).json()["data"]}
    assert names == {"Owner Org app"}
