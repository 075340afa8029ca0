"""The templates and opt-outs endpoints sit on the partner router: every answer carries the
X-RateLimit-* headers (errors too) and every request leaves one usage row for its client."""

from __future__ import annotations

BODY = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."


async def test_templates_calls_carry_rate_headers_and_leave_usage(client, partner):
    c = await partner.create_client(rateLimitTier="standard",
                                    scopes=["templates:read", "templates:write", "opt-outs:read"])
    h = partner.key_headers((await partner.create_key(c["id"]))["key"])

    r = await client.post("/api/v1/templates", headers=h, json={"name": "Notice", "body": BODY})
    assert r.status_code == 201, r.text
    assert r.headers["X-RateLimit-Limit"] == "120"
    assert r.headers["X-RateLimit-Remaining"] == "119"
    assert r.headers["X-RateLimit-Reset"].endswith("Z")
    r = await client.get("/api/v1/templates", headers=h)
    assert r.status_code == 200 and r.json()["pagination"]["total"] == 1
    assert r.headers["X-RateLimit-Remaining"] == "118"
    # Errors carry them too: a validation error (400) and an unknown template (404).
    r = await client.post("/api/v1/templates", headers=h, json={"name": "No body"})
    assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR"
    assert r.headers["X-RateLimit-Remaining"] == "117"
    r = await client.get("/api/v1/templates/00000000-0000-0000-0000-000000000000", headers=h)
    assert r.status_code == 404 and r.headers["X-RateLimit-Remaining"] == "116"
    r = await client.get("/api/v1/opt-outs", headers=h)
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "115"

    r = await client.get(f"/api/v1/api-clients/{c['id']}/usage", headers=partner.headers)
    assert r.status_code == 200, r.text
    u = r.json()
    assert (u["totalRequests"], u["successfulRequests"], u["failedRequests"]) == (5, 3, 2)
    by_endpoint = {x["endpoint"]: x["count"] for x in u["requestsByEndpoint"]}
    assert by_endpoint == {"/api/v1/templates": 3, "/api/v1/templates/{template_id}": 1,
                           "/api/v1/opt-outs": 1}
    assert u["topErrorCodes"] == [{"statusCode": 400, "count": 1}, {"statusCode": 404, "count": 1}]


async def test_templates_rate_limit_answers_with_the_partner_429(client, partner):
    from sqlalchemy import update

    from arrears.db import transaction
    from arrears.identity.models import ApiKey

    c = await partner.create_client(rateLimitTier="standard", scopes=["templates:read"])
    key = await partner.create_key(c["id"])
    async with transaction() as s:  # a per-key override of one request a minute
        await s.execute(update(ApiKey).where(ApiKey.key_id == key["keyId"]).values(rate_limit_override=1))
    h = partner.key_headers(key["key"])
    assert (await client.get("/api/v1/templates", headers=h)).status_code == 200
    r = await client.get("/api/v1/templates", headers=h)
    assert r.status_code == 429, r.text
    assert r.json()["error"] == "RATE_LIMIT_EXCEEDED" and r.json()["retryAfter"] >= 1
    assert r.headers["X-RateLimit-Limit"] == "1" and r.headers["X-RateLimit-Remaining"] == "0"
    u = (await client.get(f"/api/v1/api-clients/{c['id']}/usage", headers=partner.headers)).json()
    assert u["topErrorCodes"] == [{"statusCode": 429, "count": 1}]
