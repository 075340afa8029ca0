"""Partner API: usage statistics from the request log, and the client dashboard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from arrears.partners import usage


async def test_every_partner_request_is_logged_and_aggregated(client, partner):
    c = await partner.create_client(scopes=["*"])
    h = partner.key_headers((await partner.create_key(c["id"]))["key"])
    for _ in range(3):
        assert (await client.get("/api/v1/webhook-events", headers=h)).status_code == 200
    assert (await client.get(f"/api/v1/api-clients/{c['id']}", headers=h)).status_code == 200
    assert (await client.get(f"/api/v1/api-clients/{uuid.uuid4()}", headers=h)).status_code == 404
    assert (await client.get("/api/v1/api-clients", params={"limit": 0}, headers=h)).status_code == 400
    assert (await client.get("/api/v1/api-clients", params={"page": -1}, headers=h)).status_code == 400

    r = await client.get(f"/api/v1/api-clients/{c['id']}/usage", headers=partner.headers)
    assert r.status_code == 200, r.text
    u = r.json()
    assert set(u) == {"totalRequests", "successfulRequests", "failedRequests", "averageResponseTime",
                      "requestsByEndpoint", "requestsByTime", "topErrorCodes"}
    assert (u["totalRequests"], u["successfulRequests"], u["failedRequests"]) == (7, 4, 3)
    assert isinstance(u["averageResponseTime"], int)
    by_endpoint = {x["endpoint"]: x["count"] for x in u["requestsByEndpoint"]}
    assert by_endpoint == {"/api/v1/webhook-events": 3, "/api/v1/api-clients/{client_id}": 2,
                           "/api/v1/api-clients": 2}
    assert u["requestsByEndpoint"][0] == {"endpoint": "/api/v1/webhook-events", "count": 3,
                                          "avgResponseTime": u["requestsByEndpoint"][0]["avgResponseTime"]}
    assert u["topErrorCodes"] == [{"statusCode": 400, "count": 2}, {"statusCode": 404, "count": 1}]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert u["requestsByTime"] == [{"time": today, "count": 7}]
    # The admin's own requests are not the client's usage.
    again = (await client.get(f"/api/v1/api-clients/{c['id']}/usage", headers=partner.headers)).json()
    assert again["totalRequests"] == 7


async def test_period_and_hourly_grouping(client, partner):
    c = await partner.create_client()
    cid = uuid.UUID(c["id"])

    async def log(at: str, status: int, ms: int, endpoint: str = "/api/v1/leads") -> None:
        await usage.record_request(org_id=partner.org.id, client_id=cid, api_key_id=None, user_id=None,
                                   method="GET", endpoint=endpoint, status_code=status, duration_ms=ms,
                                   at=datetime.fromisoformat(at))

    await log("2024-01-15T10:05:00+00:00", 200, 100)
    await log("2024-01-15T10:55:00+00:00", 200, 200, "/api/v1/policies")
    await log("2024-01-15T11:10:00+00:00", 500, 300)
    await log("2024-01-16T09:00:00+00:00", 404, 50)
    await log("2024-02-01T00:00:00+00:00", 200, 10)

    url = f"/api/v1/api-clients/{c['id']}/usage"
    r = await client.get(url, headers=partner.headers, params={
        "dateFrom": "2024-01-01T00:00:00Z", "dateTo": "2024-01-31T23:59:59Z", "groupBy": "day"})
    u = r.json()
    assert u["totalRequests"] == 4 and u["successfulRequests"] == 2 and u["failedRequests"] == 2
    assert u["averageResponseTime"] == 162  # (100 + 200 + 300 + 50) / 4 = 162.5
    assert u["requestsByTime"] == [{"time": "2024-01-15", "count": 3}, {"time": "2024-01-16", "count": 1}]
    assert u["requestsByEndpoint"] == [{"endpoint": "/api/v1/leads", "count": 3, "avgResponseTime": 150},
                                       {"endpoint": "/api/v1/policies", "count": 1, "avgResponseTime": 200}]
    assert u["topErrorCodes"] == [{"statusCode": 404, "count": 1}, {"statusCode": 500, "count": 1}]

    r = await client.get(url, headers=partner.headers, params={
        "dateFrom": "2024-01-15T00:00:00Z", "dateTo": "2024-01-15T23:59:59Z", "groupBy": "HOUR"})
    assert r.json()["requestsByTime"] == [{"time": "2024-01-15T10:00:00Z", "count": 2},
                                          {"time": "2024-01-15T11:00:00Z", "count": 1}]
    r = await client.get(url, headers=partner.headers, params={"dateFrom": "2030-01-01T00:00:00Z",
                                                               "dateTo": "2030-01-02T00:00:00Z"})
    assert r.json() == {"totalRequests": 0, "successfulRequests": 0, "failedRequests": 0,
                        "averageResponseTime": 0, "requestsByEndpoint": [], "requestsByTime": [],
                        "topErrorCodes": []}


@pytest.mark.parametrize("params, field", [
    ({"groupBy": "week"}, "groupBy"),
    ({"dateFrom": "yesterday"}, "dateFrom"),
    ({"dateFrom": "2024-02-01T00:00:00Z", "dateTo": "2024-01-01T00:00:00Z"}, "dateFrom"),
])
async def test_usage_validation(client, partner, params, field):
    c = await partner.create_client()
    r = await client.get(f"/api/v1/api-clients/{c['id']}/usage", params=params, headers=partner.headers)
    assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR"
    assert field in r.json()["details"]


async def test_dashboard(client, partner, allow_private):
    c = await partner.create_client(rateLimitTier="standard", scopes=["*"])
    key = await partner.create_key(c["id"])
    h = partner.key_headers(key["key"])
    for _ in range(5):
        await client.get("/api/v1/webhook-events", headers=h)
    a = await partner.subscribe(c["id"], "http://127.0.0.1:9/a")
    await partner.subscribe(c["id"], "http://127.0.0.1:9/b")
    await client.put(f"/api/v1/api-clients/{c['id']}/webhooks/{a['id']}", json={"status": "PAUSED"},
                     headers=partner.headers)
    r = await client.get(f"/api/v1/api-clients/{c['id']}/dashboard", headers=partner.headers)
    assert r.status_code == 200, r.text
    d = r.json()
    assert set(d) == {"client", "usageStats", "activeWebhooks", "totalWebhooks", "rateLimitStatus"}
    assert d["client"]["id"] == c["id"] and len(d["client"]["apiKeys"]) == 1
    assert d["usageStats"]["totalRequests"] == 5 and d["usageStats"]["successfulRequests"] == 5
    assert d["activeWebhooks"] == 1 and d["totalWebhooks"] == 2
    rl = d["rateLimitStatus"]
    assert rl["tier"] == "STANDARD" and rl["limit"] == 120 and rl["remaining"] == 115
    assert rl["resetAt"].endswith("Z")
    # The key's own view of its client's dashboard is one more request on its counter.
    r = await client.get(f"/api/v1/api-clients/{c['id']}/dashboard", headers=h)
    assert r.json()["rateLimitStatus"]["remaining"] == 114


async def test_dashboard_without_keys(client, partner):
    c = await partner.create_client(rateLimitTier="premium")
    d = (await client.get(f"/api/v1/api-clients/{c['id']}/dashboard", headers=partner.headers)).json()
    assert d["rateLimitStatus"]["limit"] == 300 and d["rateLimitStatus"]["remaining"] == 300
    assert d["activeWebhooks"] == 0 and d["totalWebhooks"] == 0 and d["usageStats"]["totalRequests"] == 0


async def test_own_client_scopes(client, partner):
    mine = await partner.create_client(name="Mine", scopes=["usage:read", "webhooks:read"])
    other = await partner.create_client(name="Other")
    h = partner.key_headers((await partner.create_key(mine["id"]))["key"])
    assert (await client.get(f"/api/v1/api-clients/{mine['id']}/usage", headers=h)).status_code == 200
    assert (await client.get(f"/api/v1/api-clients/{mine['id']}/dashboard", headers=h)).status_code == 200
    assert (await client.get(f"/api/v1/api-clients/{mine['id']}/webhooks", headers=h)).status_code == 200
    assert (await client.get(f"/api/v1/api-clients/{other['id']}/usage", headers=h)).status_code == 403
    r = await client.post(f"/api/v1/api-clients/{mine['id']}/webhooks", headers=h,
                          json={"url": "https://hooks.partner.example/x", "events": ["policy.created"]})
    assert r.status_code == 403
    assert (await client.get("/api/v1/api-clients", headers=h)).status_code == 403
