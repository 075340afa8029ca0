"""Issue 19, point 6: signing out ends the server-side session at once (a copied cookie stops
working); a WebSocket whose key is revoked or whose user is deactivated is closed within seconds;
a captive keeps its 10 connections, of which one user holds at most 3."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import websockets
from sqlalchemy import update

from arrears.db import transaction, utcnow
from arrears.faces.premium import ws as ws_face
from arrears.identity.models import ApiKey, User
from tests.faces.premium.conftest import make_captive
from tests.faces.premium.test_websocket import _auth, _closed, live  # noqa: F401
from tests.web.conftest import UI


@pytest.fixture
def quick_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws_face, "RECHECK_SECONDS", 0.3)


async def test_sign_out_ends_the_session_for_a_copied_cookie(env, world, app):
    org = await world.org()
    user = await world.user(org.id, role="admin")
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser, \
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as thief:
        ui = UI(browser)
        await ui.login(user.username)
        assert (await browser.get("/app/")).status_code == 200
        thief.cookies.set("arrears_session", browser.cookies["arrears_session"], path="/app")
        assert (await thief.get("/app/")).status_code == 200  # the copy works while signed in
        r = await ui.post("/app/logout")
        assert r.status_code == 303
        copied = await thief.get("/app/")
        assert copied.status_code in (302, 303) and "/app/login" in copied.headers["location"]
        # Signing in again is a new session; the old copy stays dead.
        await ui.login(user.username)
        assert (await browser.get("/app/")).status_code == 200
        thief.cookies.clear()
        thief.cookies.set("arrears_session", browser.cookies["arrears_session"], path="/app")
        assert (await thief.get("/app/")).status_code == 200


async def test_a_forged_session_without_a_server_record_is_refused(env, world, client):
    from arrears.web.session import WebSession, cookie_header

    org = await world.org()
    user = await world.user(org.id, role="admin")
    forged = WebSession()
    forged.sign_in(user.id, org.id)  # a well-signed cookie, but no sign-in made it
    value = cookie_header(forged, secure=False).split(";", 1)[0].split("=", 1)[1]
    client.cookies.set("arrears_session", value, path="/app")
    r = await client.get("/app/")
    assert r.status_code in (302, 303) and "/app/login" in r.headers["location"]


async def _closed_within(ws, seconds: float) -> tuple[int, float]:
    started = time.monotonic()
    with pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), seconds)
    return info.value.rcvd.code, time.monotonic() - started


async def test_revoked_key_closes_its_socket(world, live, quick_recheck):  # noqa: F811
    captive = await make_captive(world)
    key, raw = await world.api_key(captive.org.id, ["webhooks:receive"])
    ws, ok = await _auth(live, raw)
    assert ok == {"type": "auth_success"}
    async with transaction() as s:
        await s.execute(update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=utcnow()))
    code, took = await _closed_within(ws, 5)
    assert code == 4001 and took < 5


async def test_deactivated_user_loses_the_socket(client, world, live, quick_recheck):  # noqa: F811
    captive = await make_captive(world)
    user = await world.user(captive.org.id, role="manager")
    ws, ok = await _auth(live, await world.token(client, user.username))
    assert ok == {"type": "auth_success"}
    async with transaction() as s:
        await s.execute(update(User).where(User.id == user.id).values(is_active=False))
    code, took = await _closed_within(ws, 5)
    assert code == 4001 and took < 5


async def test_a_user_holds_at_most_three_of_the_captives_ten(client, world, live):  # noqa: F811
    captive = await make_captive(world)
    user = await world.user(captive.org.id, role="manager")
    token = await world.token(client, user.username)
    mine = []
    for _ in range(3):
        ws, ok = await _auth(live, token)
        assert ok == {"type": "auth_success"}
        mine.append(ws)
    ws, err = await _auth(live, token)
    assert err["error"]["code"] == "TOO_MANY_CONNECTIONS"
    code, reason = await _closed(ws)
    assert code == 1008 and "3" in reason
    # The bank integration's key still gets the other seven.
    theirs = []
    for _ in range(7):
        ws, ok = await _auth(live, captive.key)
        assert ok == {"type": "auth_success"}
        theirs.append(ws)
    ws, err = await _auth(live, captive.key)
    assert err["error"]["code"] == "TOO_MANY_CONNECTIONS"  # the captive's 10 in all
    for s in [*mine, *theirs]:
        await s.close()
