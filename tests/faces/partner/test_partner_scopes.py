"""Scopes: each partner route's OpenAPI description names the scope it needs, docs/contracts.md
lists them, and a key with the spec's example scopes is told which scope it lacks and where the
list is."""

from __future__ import annotations

from pathlib import Path

WHERE = "docs/contracts.md#partner-scopes"
EXAMPLE_SCOPES = ["leads:read", "leads:write", "webhooks:write"]  # the spec's create example
CONTRACTS = Path(__file__).resolve().parents[3] / "docs" / "contracts.md"

PARTNER_ROUTES = {
    ("post", "/api/v1/api-clients"): "clients:write",
    ("get", "/api/v1/api-clients"): "clients:read",
    ("get", "/api/v1/api-clients/{client_id}"): "clients:read",
    ("put", "/api/v1/api-clients/{client_id}"): "clients:write",
    ("delete", "/api/v1/api-clients/{client_id}"): "clients:write",
    ("get", "/api/v1/api-clients/{client_id}/dashboard"): "usage:read",
    ("get", "/api/v1/api-clients/{client_id}/usage"): "usage:read",
    ("post", "/api/v1/api-keys"): "clients:write",
    ("get", "/api/v1/api-clients/{client_id}/api-keys"): "clients:read",
    ("delete", "/api/v1/api-clients/{client_id}/api-keys/{api_key_id}"): "clients:write",
    ("post", "/api/v1/api-clients/{client_id}/webhooks"): "webhooks:write",
    ("get", "/api/v1/api-clients/{client_id}/webhooks"): "webhooks:read",
    ("get", "/api/v1/api-clients/{client_id}/webhooks/{webhook_id}"): "webhooks:read",
    ("put", "/api/v1/api-clients/{client_id}/webhooks/{webhook_id}"): "webhooks:write",
    ("delete", "/api/v1/api-clients/{client_id}/webhooks/{webhook_id}"): "webhooks:write",
    ("get", "/api/v1/api-clients/{client_id}/webhooks/{webhook_id}/deliveries"): "webhooks:read",
    ("post", "/api/v1/api-clients/{client_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"):
        "webhooks:write",
    ("get", "/api/v1/rate-limits"): None,
    ("get", "/api/v1/webhook-events"): None,
}


async def test_openapi_and_contracts_name_each_routes_scope(client):
    spec = (await client.get("/openapi.json")).json()
    contracts = CONTRACTS.read_text()
    section = contracts[contracts.index("### Partner scopes"):]
    section = section[:section.index("\n## ")]
    for (method, path), scope in PARTNER_ROUTES.items():
        text = spec["paths"][path][method]["description"]
        assert "#partner-scopes" in text, (method, path)
        if scope is None:
            assert "Scope: none" in text
        else:
            assert f"Scope: `{scope}`" in text, (method, path, text)
        # The table row: method, path as the spec writes it, scope.
        row = f"| {method.upper()} | `{path.removeprefix('/api/v1')}` |"
        assert row in section, row
        assert f"`{scope}`" in section.split(row, 1)[1].split("\n", 1)[0] if scope else True


async def test_example_scoped_key_is_told_which_scope_it_lacks_and_where_to_look(client, partner):
    c = await partner.create_client()
    other = await partner.create_client(name="Other App")
    key = await partner.create_key(c["id"])
    assert key["scopes"] == EXAMPLE_SCOPES
    h = partner.key_headers(key["key"])

    r = await client.get("/api/v1/api-clients", headers=h)
    assert r.status_code == 403
    body = r.json()
    assert body["error"] == "FORBIDDEN"
    assert "lacks the clients:read scope" in body["message"]
    assert WHERE in body["message"] and "GET /openapi.json" in body["message"]

    r = await client.get(f"/api/v1/api-clients/{c['id']}/usage", headers=h)
    assert r.status_code == 403 and "usage:read" in r.json()["message"] and WHERE in r.json()["message"]

    # Its webhooks:write reaches its own client only; the message says so.
    r = await client.get(f"/api/v1/api-clients/{other['id']}/webhooks", headers=h)
    assert r.status_code == 403
    msg = r.json()["message"]
    assert "webhooks:read" in msg and "own client" in msg and WHERE in msg

    # What the scopes do allow still works.
    r = await client.get(f"/api/v1/api-clients/{c['id']}/webhooks", headers=h)
    assert r.status_code == 200, r.text
