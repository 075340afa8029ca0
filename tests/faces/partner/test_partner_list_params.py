"""The spec's common list parameters (status, dateFrom/dateTo, search, sortBy/sortOrder) on the
four partner lists, through HTTP: filters, inclusive date bounds, stable sorting across pages,
and one 400 VALIDATION_ERROR naming every bad parameter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from tests.partners.fixtures import fire

pytestmark = pytest.mark.usefixtures("allow_private")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def set_row(model: Any, row_id: str, **values: Any) -> None:
    from arrears.db import transaction

    async with transaction() as s:
        await s.execute(update(model).where(model.id == uuid.UUID(row_id)).values(**values))


async def listed(partner: Any, path: str, **params: Any) -> list[dict[str, Any]]:
    r = await partner.http.get(path, params=params, headers=partner.headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def names(rows: list[dict[str, Any]], key: str = "name") -> list[Any]:
    return [r[key] for r in rows]


async def three_clients(partner: Any) -> list[dict[str, Any]]:
    from arrears.partners.models import ApiClient

    made = []
    for name, created, updated in (("Alpha", "2024-01-01T10:00:00", "2024-03-03T00:00:00"),
                                   ("Beta App", "2024-01-15T00:00:00", "2024-03-01T00:00:00"),
                                   ("Gamma", "2024-02-01T00:00:00", "2024-03-02T00:00:00")):
        c = await partner.create_client(name=name, contactEmail=f"{name.split()[0].lower()}@example.com")
        await set_row(ApiClient, c["id"], created_at=at(created), updated_at=at(updated))
        made.append(c)
    return made


async def test_clients_filter_search_and_sort(partner):
    await three_clients(partner)
    path = "/api/v1/api-clients"
    assert names(await listed(partner, path)) == ["Gamma", "Beta App", "Alpha"]  # default createdAt desc
    assert names(await listed(partner, path, search="aPP")) == ["Beta App"]
    # A date-only dateTo includes its whole day; a date-time bound is inclusive to the instant.
    assert names(await listed(partner, path, dateFrom="2024-01-15", dateTo="2024-01-15")) == ["Beta App"]
    assert names(await listed(partner, path, dateTo="2024-01-15T00:00:00Z")) == ["Beta App", "Alpha"]
    assert names(await listed(partner, path, dateFrom="2024-01-01T10:00:01Z")) == ["Gamma", "Beta App"]
    assert names(await listed(partner, path, dateFrom="2024-01-15T02:00:00+02:00",
                              dateTo="2024-01-31")) == ["Beta App"]
    assert names(await listed(partner, path, sortBy="name", sortOrder="asc")) == ["Alpha", "Beta App", "Gamma"]
    assert names(await listed(partner, path, sortBy="updatedAt", sortOrder="asc")) == [
        "Beta App", "Gamma", "Alpha"]
    assert names(await listed(partner, path, sortBy="updatedAt")) == ["Alpha", "Gamma", "Beta App"]
    assert names(await listed(partner, path, status="active", sortBy="createdAt", sortOrder="asc")) == [
        "Alpha", "Beta App", "Gamma"]
    assert await listed(partner, path, status="SUSPENDED") == []


async def test_paging_through_equal_sort_values_is_stable(partner):
    from arrears.partners.models import ApiClient

    ids = []
    for _ in range(5):
        c = await partner.create_client(name="Same Name")
        await set_row(ApiClient, c["id"], created_at=at("2024-05-05T05:05:05"))
        ids.append(c["id"])
    for order in ("asc", "desc"):
        seen = []
        for page in range(1, 6):
            rows = await listed(partner, "/api/v1/api-clients", sortBy="name", sortOrder=order,
                                page=page, limit=1)
            seen += [r["id"] for r in rows]
        # Ties are broken by id in the same direction: every client once, in id order.
        assert seen == sorted(ids, key=uuid.UUID, reverse=order == "desc")


async def test_keys_filter_search_and_sort(partner):
    from arrears.identity.models import ApiKey

    c = await partner.create_client()
    soon = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    later = (datetime.now(UTC) + timedelta(days=20)).isoformat()
    k1 = await partner.create_key(c["id"], name="Production Key", expiresAt=later)
    k2 = await partner.create_key(c["id"], name="staging key", expiresAt=soon)
    k3 = await partner.create_key(c["id"], name="Reporting")
    await set_row(ApiKey, k1["id"], created_at=at("2024-01-01T00:00:00"), last_used_at=at("2024-06-02T00:00:00"))
    await set_row(ApiKey, k2["id"], created_at=at("2024-01-02T00:00:00"), last_used_at=at("2024-06-01T00:00:00"))
    await set_row(ApiKey, k3["id"], created_at=at("2024-01-03T00:00:00"))
    path = f"/api/v1/api-clients/{c['id']}/api-keys"
    assert names(await listed(partner, path)) == ["Reporting", "staging key", "Production Key"]
    assert names(await listed(partner, path, search="KEY", sortBy="name", sortOrder="asc")) == [
        "Production Key", "staging key"]
    # Keys never used or without expiry sort last in either direction.
    assert names(await listed(partner, path, sortBy="lastUsedAt", sortOrder="asc")) == [
        "staging key", "Production Key", "Reporting"]
    assert names(await listed(partner, path, sortBy="lastUsedAt", sortOrder="desc")) == [
        "Production Key", "staging key", "Reporting"]
    assert names(await listed(partner, path, sortBy="expiresAt", sortOrder="asc")) == [
        "staging key", "Production Key", "Reporting"]
    assert names(await listed(partner, path, dateFrom="2024-01-02", dateTo="2024-01-02T00:00:00Z")) == [
        "staging key"]
    r = await partner.http.delete(f"{path}/{k3['id']}", headers=partner.headers)
    assert r.status_code == 204
    assert names(await listed(partner, path, status="revoked")) == ["Reporting"]


async def test_webhooks_and_deliveries_filter_and_sort(partner):
    from arrears.partners.models import WebhookDelivery, WebhookSubscription

    c = await partner.create_client()
    subs = []
    for url, created in (("http://127.0.0.1:9/b", "2024-01-01T00:00:00"),
                         ("http://127.0.0.1:9/a", "2024-01-02T00:00:00"),
                         ("http://127.0.0.1:9/c", "2024-01-03T00:00:00")):
        s = await partner.subscribe(c["id"], url)
        await set_row(WebhookSubscription, s["id"], created_at=at(created))
        subs.append(s)
    r = await partner.http.put(f"/api/v1/api-clients/{c['id']}/webhooks/{subs[2]['id']}",
                               json={"status": "PAUSED"}, headers=partner.headers)
    assert r.status_code == 200, r.text
    path = f"/api/v1/api-clients/{c['id']}/webhooks"
    urls = lambda rows: [u["url"][-1] for u in rows]  # noqa: E731
    assert urls(await listed(partner, path)) == ["c", "a", "b"]
    assert urls(await listed(partner, path, sortBy="url", sortOrder="asc")) == ["a", "b", "c"]
    # Equal statuses (a and b are ACTIVE) follow their ids, in the same direction.
    active = sorted(subs[:2], key=lambda s: uuid.UUID(s["id"]))
    by_id = [s["url"][-1] for s in active]
    assert urls(await listed(partner, path, sortBy="status", sortOrder="asc")) == [*by_id, "c"]
    assert urls(await listed(partner, path, sortBy="status", sortOrder="desc")) == ["c", *by_id[::-1]]
    assert urls(await listed(partner, path, status="active")) == ["a", "b"]
    assert urls(await listed(partner, path, dateFrom="2024-01-02", dateTo="2024-01-03")) == ["c", "a"]

    await fire(partner.org.id, "policy.updated", count=3)
    dpath = f"{path}/{subs[0]['id']}/deliveries"
    ids = [d["id"] for d in await listed(partner, dpath)]
    assert len(ids) == 3
    setup = [("2024-02-01T00:00:00", "DELIVERED", 1, "2024-02-01T00:00:05"),
             ("2024-02-03T00:00:00", "FAILED", 4, None),
             ("2024-02-02T00:00:00", "PENDING", 2, None)]
    for did, (sched, status, attempts, delivered) in zip(ids, setup, strict=True):
        await set_row(WebhookDelivery, did, scheduled_for=at(sched), status=status, attempt_count=attempts,
                      delivered_at=at(delivered) if delivered else None)
    order = lambda rows: [ids.index(d["id"]) for d in rows]  # noqa: E731
    assert order(await listed(partner, dpath, sortBy="scheduledFor", sortOrder="asc")) == [0, 2, 1]
    assert order(await listed(partner, dpath, sortBy="attemptCount", sortOrder="desc")) == [1, 2, 0]
    assert order(await listed(partner, dpath, sortBy="status", sortOrder="asc")) == [0, 1, 2]
    assert order(await listed(partner, dpath, sortBy="deliveredAt", sortOrder="asc"))[0] == 0
    assert order(await listed(partner, dpath, dateFrom="2024-02-02", dateTo="2024-02-02")) == [2]
    assert order(await listed(partner, dpath, dateFrom="2024-02-02T00:00:00Z", status="failed")) == [1]


@pytest.mark.parametrize("params, named", [
    ({"sortBy": "colour"}, ["sortBy"]),
    ({"sortOrder": "upwards"}, ["sortOrder"]),
    ({"dateFrom": "2024-13-01"}, ["dateFrom"]),
    ({"dateTo": "yesterday", "sortBy": "nope", "sortOrder": "sideways"}, ["dateTo", "sortBy", "sortOrder"]),
])
async def test_bad_list_parameters_are_400_naming_them(partner, params, named):
    c = await partner.create_client()
    s = await partner.subscribe(c["id"], "http://127.0.0.1:9/x")
    base = f"/api/v1/api-clients/{c['id']}"
    for path in ("/api/v1/api-clients", f"{base}/api-keys", f"{base}/webhooks",
                 f"{base}/webhooks/{s['id']}/deliveries"):
        r = await partner.http.get(path, params=params, headers=partner.headers)
        assert r.status_code == 400, (path, r.text)
        body = r.json()
        assert body["error"] == "VALIDATION_ERROR"
        assert sorted(body["details"]) == named
        assert all(n in body["message"] for n in named)
        assert r.headers["X-RateLimit-Limit"]


async def test_sort_by_of_another_list_is_refused(partner):
    c = await partner.create_client()
    r = await partner.http.get(f"/api/v1/api-clients/{c['id']}/api-keys", params={"sortBy": "url"},
                               headers=partner.headers)
    assert r.status_code == 400
    assert r.json()["details"] == {"sortBy": ["Must be one of createdAt, lastUsedAt, expiresAt, name."]}
