"""Premium pages (policies, collections, log, API keys) and partner pages (clients, keys, webhooks,
deliveries and retries, usage)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from arrears.db import transaction
from arrears.identity.caller import Caller


async def _policy(org_id: int, number: str = "POL-1", *, client: str = "Sipho Dlamini",
                  collections: tuple[str, ...] = ("pending",)) -> None:
    from arrears.premiums import service as premiums
    from arrears.premiums.schemas import PolicyUpdateIn

    async with transaction() as s:
        actor = Caller.system(org_id)
        result = await premiums.upsert_policy(s, actor, PolicyUpdateIn.model_validate({
            "policy_number": number, "client_name": client, "premium_amount": 350.5,
            "frequency": "monthly", "bank_account_number": "1234567890"}))
        for i, status in enumerate(collections):
            col = await premiums.create_collection(s, actor, result.policy, collection_date=date.today() - timedelta(days=3 - i))
            if status != "pending":
                await premiums.transition_collection(s, actor, col, "submitted", policy=result.policy)
                if status != "submitted":
                    await premiums.transition_collection(s, actor, col, status, policy=result.policy)


# ------------------------------------------------------------------ premiums


async def test_policies_and_collections_with_filters(people, world):
    org = await world.org("Captive One", kind="cell_captive")
    ui, _ = await people(org.id, role="manager")
    r = await ui.get("/app/premiums/policies")
    assert r.status_code == 200 and "No policies yet." in r.text
    await _policy(org.id, "POL-1", collections=("pending", "successful", "failed"))
    await _policy(org.id, "POL-2", client="Ayanda Zulu")
    r = await ui.get("/app/premiums/policies")
    assert "POL-1" in r.text and "POL-2" in r.text and "R\u00a0350.50" in r.text
    assert 'hx-trigger="every 10s"' in r.text  # updates by itself
    r = await ui.get("/app/premiums/policies?search=ayanda")
    assert "POL-2" in r.text and "POL-1" not in r.text
    r = await ui.get("/app/premiums/policies/POL-1")
    assert r.status_code == 200 and "7890" in r.text  # the account's last digits, masked below
    assert "1234567890" not in r.text  # account numbers masked
    r = await ui.get("/app/premiums/collections?status=failed")
    assert r.text.count('badge-failed') == 1
    day = (date.today() - timedelta(days=2)).isoformat()
    r = await ui.get(f"/app/premiums/collections?date_from={day}&date_to={day}")
    assert day in r.text and (date.today() - timedelta(days=1)).isoformat() not in r.text
    r = await ui.get("/app/premiums/collections?date_from=yesterday")
    assert r.status_code == 200 and 'id="date_from-error"' in r.text
    r = await ui.c.get("/app/premiums/collections", headers={"HX-Request": "true", "HX-Target": "live-table"})
    assert r.text.lstrip().startswith('<div id="live-table"')
    r = await ui.get("/app/premiums/log")
    assert r.status_code == 200 and "No API requests yet." in r.text
    r = await ui.get("/app/")
    assert "Collections success rate" in r.text and "50.0%" in r.text


async def test_premium_pages_are_for_managers_and_tenants(people, world):
    org = await world.org("Captive One", kind="cell_captive")
    other = await world.org("Captive Two", kind="cell_captive")
    await _policy(other.id, "POL-X")
    officer, _ = await people(org.id, role="collection_officer")
    assert (await officer.get("/app/premiums/policies")).status_code == 403
    ui, _ = await people(org.id, role="admin")
    assert (await ui.get("/app/premiums/policies/POL-X")).status_code == 404
    r = await ui.get("/app/premiums/collections")
    assert "POL-X" not in r.text


async def test_generate_copy_and_revoke_a_premium_api_key(people, world, client):
    org = await world.org("Captive One", kind="cell_captive")
    ui, _ = await people(org.id, role="admin")
    r = await ui.get("/app/settings/api-keys")
    assert r.status_code == 200 and "No API keys yet." in r.text
    for perm in ("collections:read", "collections:write", "policies:read", "policies:write",
                 "webhooks:receive", 'value="*"'):
        assert perm in r.text
    r = await ui.post("/app/settings/api-keys", {"name": ""})
    assert r.status_code == 400 and 'id="name-error"' in r.text and 'id="scopes-error"' in r.text
    r = await ui.post("/app/settings/api-keys", {"name": "Bank integration",
                                                 "scopes": ["collections:write", "policies:write"],
                                                 "expires_on": "2999-12-31"})
    assert r.status_code == 303  # POST, redirect, GET: a reload never makes a second key
    r = ui.followed
    key = re.search(r'value="(pct_[0-9a-f]{64})"', r.text).group(1)
    assert "shown only once" in r.text and 'data-copy="#new-key"' in r.text
    r = await client.post("/api/webhooks/policies/update", headers={"Authorization": f"Bearer {key}"},
                          json={"policy_number": "POL-9", "client_name": "Via Key", "premium_amount": 100,
                                "frequency": "monthly"})
    assert r.status_code in (200, 201), r.text
    r = await ui.get("/app/settings/api-keys")
    assert key not in r.text and key[:8] in r.text  # never shown again; recognisable by its prefix
    key_uuid = re.search(r'action="/app/settings/api-keys/([0-9a-f-]{36})/revoke"', r.text).group(1)
    r = await ui.post(f"/app/settings/api-keys/{key_uuid}/revoke")
    assert r.status_code == 303
    r = await client.post("/api/webhooks/policies/update", headers={"Authorization": f"Bearer {key}"},
                          json={"policy_number": "POL-9", "client_name": "Via Key"})
    assert r.status_code == 401
    r = await ui.get("/app/settings/api-keys?status=revoked")
    assert "badge-revoked" in r.text


async def test_api_keys_admin_only_and_other_org_404(people, world):
    org = await world.org()
    other = await world.org("Other")
    key, _ = await world.api_key(other.id, ["*"])
    manager, _ = await people(org.id, role="manager")
    assert (await manager.get("/app/settings/api-keys")).status_code == 403
    assert (await manager.post("/app/settings/api-keys", {"name": "x", "scopes": ["*"]})).status_code == 403
    admin, _ = await people(org.id, role="admin")
    r = await admin.post(f"/app/settings/api-keys/{key.id}/revoke")
    assert r.status_code == 404
    reader, _ = await people(org.id, role="admin", access="read")
    r = await reader.get("/app/settings/api-keys")
    assert r.status_code == 200 and "Generate API key" not in r.text
    assert (await reader.post("/app/settings/api-keys", {"name": "x", "scopes": ["*"]})).status_code == 403


# ------------------------------------------------------------------ partners


@pytest.fixture
def private_webhooks(monkeypatch):
    monkeypatch.setenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE", "true")


async def test_partner_client_keys_webhooks_and_retry(people, world, client, private_webhooks):
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    r = await ui.get("/app/partners")
    assert r.status_code == 200 and "No API clients yet." in r.text
    r = await ui.post("/app/partners", {"name": "", "contactEmail": "nope", "redirectUris": "",
                                        "rateLimitTier": "BASIC"})
    assert r.status_code == 400 and 'id="name-error"' in r.text and 'id="contactEmail-error"' in r.text
    r = await ui.post("/app/partners", {"name": "Broker Portal", "contactEmail": "dev@broker.example",
                                        "redirectUris": "https://broker.example/cb", "rateLimitTier": "STANDARD",
                                        "scopes": "leads:read webhooks:write"})
    assert r.status_code == 303
    r = ui.followed
    assert "Broker Portal" in r.text
    client_id = re.search(r'action="/app/partners/([0-9a-f-]{36})/keys"', r.text).group(1)
    r = await ui.post(f"/app/partners/{client_id}/keys", {"name": "prod", "scopes": "leads:read"})
    assert r.status_code == 303
    raw = re.search(r'value="(ins_[^"]+)"', ui.followed.text).group(1)
    assert "shown only once" in ui.followed.text
    r = await ui.get(f"/app/partners/{client_id}")
    assert raw not in r.text  # shown once
    r = await client.get("/api/v1/webhook-events", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 200
    r = await ui.post(f"/app/partners/{client_id}/keys", {"name": "bad", "scopes": "admin:everything"})
    assert r.status_code == 400 and "Not among the client" in r.text
    # A webhook to a receiver that is not listening: the delivery fails and can be retried.
    r = await ui.post(f"/app/partners/{client_id}/webhooks", {"url": "http://127.0.0.1:9/hook"})
    assert r.status_code == 400 and "Subscribe to at least one event type." in r.text
    r = await ui.post(f"/app/partners/{client_id}/webhooks", {"url": "http://127.0.0.1:9/hook",
                                                              "events": ["policy.created"]})
    assert r.status_code == 303
    r = ui.followed
    assert re.search(r'value="whsec_[^"]+"', r.text)
    hook_id = re.search(rf'/app/partners/{client_id}/webhooks/([0-9a-f-]{{36}})"', r.text).group(1)
    from sqlalchemy import select

    from arrears.partners.models import WebhookDelivery, WebhookSubscription

    async with transaction() as s:
        sub = await s.get(WebhookSubscription, __import__("uuid").UUID(hook_id))
        d = WebhookDelivery(org_id=org.id, subscription_id=sub.id, event_type="policy.created",
                            payload={"type": "policy.created", "timestamp": "2026-01-01T00:00:00Z", "data": {}},
                            status="FAILED", attempt_count=4, attempt_limit=4, last_error="connection refused")
        s.add(d)
    page = f"/app/partners/{client_id}/webhooks/{hook_id}"
    r = await ui.get(page)
    assert r.status_code == 200 and "connection refused" in r.text and "Retry" in r.text
    delivery_id = re.search(r'/deliveries/([0-9a-f-]{36})/retry"', r.text).group(1)
    r = await ui.post(f"{page}/deliveries/{delivery_id}/retry")
    assert r.status_code == 303
    async with transaction() as s:
        d = await s.scalar(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id))
        assert d.status == "PENDING" and d.attempt_limit == 5
    r = await ui.post(f"{page}/status", {"status": "PAUSED"})
    assert r.status_code == 303
    r = await ui.get(page)
    assert "Resume" in r.text
    r = await ui.get(f"/app/partners/{client_id}")
    assert "Usage, last 30 days" in r.text and "<svg" in r.text
    key_id = re.search(rf'/app/partners/{client_id}/keys/([0-9a-f-]{{36}})/revoke', r.text).group(1)
    r = await ui.post(f"/app/partners/{client_id}/keys/{key_id}/revoke")
    assert r.status_code == 303
    r = await client.get("/api/v1/webhook-events", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 401


async def test_partner_pages_admins_only_and_tenant_isolation(people, world, private_webhooks):
    org = await world.org()
    other = await world.org("Other")
    theirs, _ = await people(other.id, role="admin")
    r = await theirs.post("/app/partners", {"name": "Theirs", "contactEmail": "a@b.example",
                                            "redirectUris": "", "rateLimitTier": "BASIC"})
    their_id = r.headers["location"].rsplit("/", 1)[1]
    manager, _ = await people(org.id, role="manager")
    assert (await manager.get("/app/partners")).status_code == 403
    admin, _ = await people(org.id, role="admin")
    for path in (f"/app/partners/{their_id}", f"/app/partners/{their_id}/edit"):
        assert (await admin.get(path)).status_code == 404, path
    assert (await admin.post(f"/app/partners/{their_id}/keys", {"name": "x"})).status_code == 404
    assert (await admin.post(f"/app/partners/{their_id}/delete")).status_code == 404
    reader, _ = await people(org.id, role="admin", access="read")
    r = await reader.get("/app/partners")
    assert r.status_code == 200 and "New API client" not in r.text
    r = await reader.post("/app/partners", {"name": "X", "contactEmail": "a@b.example", "redirectUris": ""})
    assert r.status_code == 403
