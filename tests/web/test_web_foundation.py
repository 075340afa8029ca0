"""The UI's foundation over HTTP: sign-in and lockout, the session cookie, CSRF, sign-out, the
organisation switcher, error pages, security headers and the vendored assets."""

from __future__ import annotations

import re

from arrears.identity.caller import Caller
from tests.web.conftest import PASSWORD, UI, csrf_of


async def test_root_redirects_to_app_and_app_to_login(client):
    r = await client.get("/")
    assert r.status_code == 307 and r.headers["location"] == "/app/"
    r = await client.get("/app")
    assert r.status_code == 307 and r.headers["location"] == "/app/"
    r = await client.get("/app/settings?x=1")
    assert r.status_code == 303
    assert r.headers["location"] == "/app/login?next=%2Fapp%2Fsettings%3Fx%3D1"


async def test_login_page_is_a_labelled_form_with_a_token(client):
    r = await client.get("/app/login")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<label for="f-username">' in html and '<label for="f-password">' in html
    assert 'autocomplete="current-password"' in html
    assert csrf_of(html)
    assert '<html lang="en">' in html


async def test_sign_in_sets_a_hardened_cookie_and_follows_next(ui, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    await ui.get("/app/login?next=/app/settings")
    r = await ui.post("/app/login", {"username": "alice", "password": PASSWORD, "next": "/app/settings"})
    assert r.status_code == 303 and r.headers["location"] == "/app/settings"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("arrears_session=")
    flags = [p.strip().lower() for p in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/app" in flags
    assert "secure" not in flags  # plain HTTP here; see the HTTPS test
    r = await ui.get("/app/settings")
    assert r.status_code == 200 and "alice" in r.text


async def test_cookie_is_secure_over_https(app, world):
    import httpx

    org = await world.org()
    await world.user(org.id, username="alice")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        r = await c.get("/app/login")
        assert "secure" in [p.strip().lower() for p in r.headers["set-cookie"].split(";")]
        r = await c.post("/app/login", data={"username": "alice", "password": PASSWORD,
                                             "csrf_token": csrf_of(r.text)})
        assert r.status_code == 303
        assert "secure" in [p.strip().lower() for p in r.headers["set-cookie"].split(";")]


async def test_next_never_leaves_the_app(ui, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    for bad in ("https://evil.example/", "//evil.example", "/api/users/", "/\\evil.example"):
        await ui.get("/app/login")
        r = await ui.post("/app/login", {"username": "alice", "password": PASSWORD, "next": bad})
        assert r.headers["location"] == "/app/", bad
        await ui.post("/app/logout")


async def test_wrong_password_shows_the_api_message_and_changes_nothing(ui, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    await ui.get("/app/login")
    r = await ui.post("/app/login", {"username": "alice", "password": "wrong-password"})
    assert r.status_code == 401
    assert "No active account found with the given credentials" in r.text
    assert 'value="alice"' in r.text and "wrong-password" not in r.text
    r = await ui.get("/app/", follow_redirects=False)
    assert r.status_code == 303


async def test_empty_fields_get_errors_beside_them(ui, env):
    await ui.get("/app/login")
    r = await ui.post("/app/login", {"username": "", "password": ""})
    assert r.status_code == 400
    assert 'id="username-error"' in r.text and 'id="password-error"' in r.text
    assert 'aria-invalid="true"' in r.text


async def test_lockout_is_the_api_lockout(ui, client, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    await ui.get("/app/login")
    for _ in range(10):
        r = await ui.post("/app/login", {"username": "alice", "password": "nope-nope-nope"})
        assert r.status_code == 401
    r = await ui.post("/app/login", {"username": "alice", "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed sign-in attempts" in r.text
    assert r.headers.get("retry-after")
    # The API refuses the same account: one lockout, whichever door was used.
    r = await client.post("/api/auth/token/", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 429


async def test_login_needs_the_csrf_token(ui, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    await ui.get("/app/login")
    r = await ui.post("/app/login", {"username": "alice", "password": PASSWORD}, csrf=False)
    assert r.status_code == 403 and "security token" in r.text
    r = await ui.post("/app/login", {"username": "alice", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 403


async def test_every_post_checks_csrf_including_htmx(people, world):
    org = await world.org()
    ui, _ = await people(org.id)
    r = await ui.post("/app/settings", {"name": "Renamed"}, csrf=False)
    assert r.status_code == 403
    r = await ui.c.post("/app/settings", data={"name": "Renamed"}, headers={"HX-Request": "true",
                                                                           "X-CSRF-Token": "nope"})
    assert r.status_code == 403
    assert r.headers["hx-retarget"] == "#alerts"  # htmx gets the message in the page's alert region
    r = await ui.htmx_post("/app/settings", {"name": "Renamed"})
    assert r.status_code == 204 and r.headers["hx-redirect"] == "/app/settings"
    r = await ui.get("/app/settings")
    assert 'value="Renamed"' in r.text


async def test_cross_origin_posts_are_refused_even_with_the_token(people, world):
    org = await world.org()
    ui, _ = await people(org.id)
    r = await ui.post("/app/settings", {"name": "Evil"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = await ui.post("/app/settings", {"name": "Fine"}, headers={"Origin": "http://testserver"})
    assert r.status_code == 303


async def test_token_changes_at_sign_in(ui, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    await ui.get("/app/login")
    before = ui.token
    await ui.post("/app/login", {"username": "alice", "password": PASSWORD})
    r = await ui.get("/app/")
    assert csrf_of(r.text) != before


async def test_sign_out_ends_the_session(ui, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    await ui.login("alice")
    stolen = ui.c.cookies.get("arrears_session")
    r = await ui.post("/app/logout")
    assert r.status_code == 303 and r.headers["location"] == "/app/login"
    r = await ui.get("/app/", follow_redirects=False)
    assert r.status_code == 303
    # Sign-out needs the token too (no logging people out from another site).
    await ui.login("alice")
    r = await ui.post("/app/logout", csrf=False)
    assert r.status_code == 403
    assert stolen  # (the cookie value itself is signed: tampering is covered below)


async def test_tampered_or_foreign_cookies_are_ignored(client, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    from itsdangerous import URLSafeTimedSerializer

    forged = URLSafeTimedSerializer("another-secret-" + "y" * 40, salt="arrears.web.session.v1").dumps(
        {"c": "x", "u": 1, "o": org.id, "t": 2_000_000_000})
    client.cookies.set("arrears_session", forged, path="/app")
    r = await client.get("/app/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login")


async def test_deactivated_user_is_signed_out(people, world):
    from sqlalchemy import update

    from arrears.db import transaction
    from arrears.identity.models import User

    org = await world.org()
    ui, user = await people(org.id)
    async with transaction() as s:
        await s.execute(update(User).where(User.id == user.id).values(is_active=False))
    r = await ui.get("/app/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/login"


async def test_org_switcher(people, world):
    from arrears.db import transaction
    from arrears.identity import service

    a = await world.org("Alpha Lenders")
    b = await world.org("Beta Pharmacy", kind="pharmacy")
    c = await world.org("Gamma Other")
    ui, user = await people(a.id)
    r = await ui.get("/app/")
    assert 'id="org-switch"' not in r.text  # one organisation: no switcher
    async with transaction() as s:
        u = await s.get(type(user), user.id)
        await service.add_membership(s, Caller.system(b.id), u, "read")
    r = await ui.get("/app/")
    assert 'id="org-switch"' in r.text and "Beta Pharmacy" in r.text
    r = await ui.post("/app/org", {"org_id": str(b.id)})
    assert r.status_code == 303
    r = await ui.get("/app/")
    assert "<h1>Beta Pharmacy</h1>" in r.text
    assert "read only" in r.text  # read access in Beta
    r = await ui.post("/app/org", {"org_id": str(c.id)})  # not a member
    assert r.status_code == 404
    r = await ui.post("/app/org", {"org_id": "abc"})
    assert r.status_code == 404


async def test_security_headers_and_error_pages(people, world, client):
    org = await world.org()
    ui, _ = await people(org.id)
    r = await ui.get("/app/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text and " onclick=" not in r.text and " style=" not in r.text
    r = await ui.get("/app/no-such-page")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "There is no page at this address" in r.text
    # API paths keep their faces' JSON errors.
    r = await client.get("/api/customers/does-not-exist/")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")


async def test_static_assets_are_vendored(client):
    r = await client.get("/static/vendor/htmx.min.js")
    assert r.status_code == 200 and "htmx" in r.text[:200]
    assert r.headers["x-content-type-options"] == "nosniff"
    r = await client.get("/static/vendor/htmx.LICENSE")
    assert r.status_code == 200 and "BSD" in r.text
    r = await client.get("/static/app.css")
    assert r.status_code == 200
    r = await client.get("/app/login")
    assert re.search(r'src="/static/vendor/htmx\.min\.js\?v=[0-9a-f]{10}"', r.text)
    assert "unpkg" not in r.text and "cdn" not in r.text.lower()


async def test_readonly_session_cookie_holds_no_secret(ui, world):
    import base64
    import json

    org = await world.org()
    await world.user(org.id, username="alice")
    await ui.login("alice")
    raw = ui.c.cookies.get("arrears_session")
    payload = raw.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(data) <= {"c", "u", "o", "t", "f"}
    assert PASSWORD not in raw


async def test_home_without_data_says_what_to_do(people, world):
    org = await world.org()
    ui, _ = await people(org.id)
    r = await ui.get("/app/")
    assert r.status_code == 200
    assert "Skip to content" in r.text and 'aria-label="Main"' in r.text


def test_ui_type_is_login(ui: UI) -> None:  # keeps the helper importable for the browser tests
    assert ui.token == ""
