"""Error shapes by face, paths exactly as written, and the operations endpoints."""

from __future__ import annotations

import pytest

from arrears.faces.errors import face_of

BODIES = {
    "repaysync": lambda b: set(b) == {"error"},
    "aama": lambda b: set(b) == {"message", "code", "details"},
    "pharmacy": lambda b: set(b) == {"detail"} and isinstance(b["detail"], str),
    "premium": lambda b: set(b) == {"error"} and set(b["error"]) == {"message", "code"},
    "partner": lambda b: {"error", "message"} <= set(b) and isinstance(b["error"], str),
}

UNKNOWN_PATHS = [
    ("/api/customers/does-not-exist/", "repaysync"),
    ("/api/uploads/x/y/z/nope", "aama"),
    ("/pharmacies/1/nothing-here", "pharmacy"),
    ("/api/webhooks/nothing", "premium"),
    ("/api/v1/nothing", "partner"),
]


@pytest.mark.parametrize(("path", "face"), UNKNOWN_PATHS)
async def test_404_outside_any_route_in_the_face_body(client, path, face):
    r = await client.get(path)
    assert r.status_code == 404
    assert BODIES[face](r.json()), r.json()


async def test_405_in_the_face_body(client):
    r = await client.delete("/api/auth/token/")
    assert r.status_code == 405
    assert BODIES["repaysync"](r.json())


async def test_no_slash_redirects(client):
    r = await client.post("/api/auth/token", json={"username": "a", "password": "b"})
    assert r.status_code == 404  # served exactly as the spec writes it, never redirected
    assert BODIES["repaysync"](r.json())


async def test_validation_is_400_never_422(client):
    r = await client.post("/api/auth/token/", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    # Issue 20 §4: one plain message, not a field error keyed by a character offset.
    assert r.json()["error"].startswith("Request body is not valid JSON: ")


async def test_unhandled_error_is_500_in_face_body(app, client, env):
    from fastapi import APIRouter

    boom = APIRouter()

    @boom.get("/api/v1/boom-test")
    async def explode() -> None:
        raise RuntimeError("secret internals")

    app.include_router(boom)
    from httpx import ASGITransport, AsyncClient

    async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False),
                           base_url="http://t") as c:
        r = await c.get("/api/v1/boom-test")
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "INTERNAL_SERVER_ERROR" and "secret internals" not in r.text


def test_face_of_prefixes():
    assert face_of("/api/v1/api-clients") == "partner"
    assert face_of("/api/webhooks/policies/update") == "premium"
    assert face_of("/api/uploads") == "aama"
    assert face_of("/api/logs/") == "repaysync"
    assert face_of("/api/uploadsX") is None
    assert face_of("/healthz") is None


async def test_health_ready_metrics(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["database"] == "ok"
    await client.get("/api/users/")
    m = await client.get("/metrics")
    assert m.status_code == 200
    assert 'arrears_http_requests_total{method="GET",route="/api/users/",status="401"}' in m.text


async def test_readyz_reports_a_dead_database(client, monkeypatch):
    from arrears import ops

    class Broken:
        def connect(self):
            raise OSError("connection refused")

    monkeypatch.setattr(ops, "get_engine", lambda: Broken())
    r = await client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "unavailable"


async def test_openapi_lists_faces_with_tags(client):
    spec = (await client.get("/openapi.json")).json()
    assert "/api/auth/token/" in spec["paths"]
    tags = {t for p in spec["paths"].values() for op in p.values() for t in op.get("tags", [])}
    assert "RepaySync: auth, users, logs" in tags and "Operations" in tags
    assert (await client.get("/docs")).status_code == 200


async def test_cors_only_for_listed_origins(env, monkeypatch):
    from httpx import ASGITransport, AsyncClient

    from arrears import config
    from arrears.app import create_app

    monkeypatch.setenv("ARREARS_CORS_ORIGINS", "https://app.example")
    config.reset_settings()
    app = create_app()
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        ok = await c.options("/api/users/", headers={"Origin": "https://app.example",
                                                     "Access-Control-Request-Method": "GET"})
        bad = await c.options("/api/users/", headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "GET"})
    assert ok.headers.get("access-control-allow-origin") == "https://app.example"
    assert "access-control-allow-origin" not in bad.headers
