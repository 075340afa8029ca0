"""Issue 19 point 3: open registration lets a stranger sign in, and see nothing, until an admin of
the default organisation accepts them with the role and access the admin chooses."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.identity.models import Membership, User
from tests.inprocess_cli import arrears_async

WAITING = "Your account is waiting for an administrator to accept it"
PASSWORD = "Sup3r-secret-pw"


async def _register(client, username: str, role: str = "manager"):
    return await client.post("/api/users/register/", json={
        "username": username, "email": f"{username}@example.com", "role": role, "password": PASSWORD})


async def _bearer(world, client, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await world.token(client, username)}"}


async def test_a_registrant_signs_in_and_sees_nothing_on_any_face(client, world):
    default = await world.org("Default Co")  # the first organisation is the default one
    await world.user(default.id, username="boss", role="admin")
    r = await _register(client, "stranger", role="manager")
    assert r.status_code == 201, r.text
    assert r.json()["username"] == "stranger"
    auth = await _bearer(world, client, "stranger")  # signing in works
    for path, error_of in (
            ("/api/users/", lambda b: b["error"]),                                   # RepaySync
            ("/api/customers/", lambda b: b["error"]),
            ("/api/messaging/templates", lambda b: json.dumps(b)),                  # AAMA
            (f"/pharmacies/{default.id}/debtors", lambda b: json.dumps(b)),         # pharmacy
            ("/api/v1/collections/settings", lambda b: json.dumps(b)),              # collections
            ("/api/v1/collections/runs", lambda b: json.dumps(b))):
        answer = await client.get(path, headers=auth)
        assert answer.status_code == 403, (path, answer.status_code, answer.text)
        assert WAITING in error_of(answer.json()), (path, answer.text)
    async with transaction(readonly=True) as s:
        user = await s.scalar(select(User).where(User.username == "stranger"))
        assert user is not None and user.waiting_since is not None and user.requested_role == "manager"
        assert list(await s.scalars(select(Membership).where(Membership.user_id == user.id))) == []


async def test_the_web_ui_refuses_a_waiting_account_with_the_reason(client, world):
    await world.org("Default Co")
    assert (await _register(client, "webby")).status_code == 201
    page = await client.get("/app/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = await client.post("/app/login", data={"username": "webby", "password": PASSWORD,
                                              "csrf_token": token.group(1)})
    assert r.status_code == 403, r.text[:500]
    assert WAITING in r.text
    # Not signed in: the app sends the browser back to the sign-in page.
    assert (await client.get("/app/", follow_redirects=False)).status_code in (302, 303)


async def test_admins_of_the_default_organisation_accept_with_their_own_choice(client, world):
    default = await world.org("Default Co")
    other = await world.org("Other Co")
    await world.user(default.id, username="boss", role="admin")
    await world.user(default.id, username="readboss", role="admin", access="read")
    await world.user(default.id, username="mgr", role="manager")
    await world.user(other.id, username="otheradmin", role="admin")
    me = (await _register(client, "hopeful", role="manager")).json()

    for name in ("mgr", "otheradmin", "readboss"):  # only the default organisation's admins
        auth = await _bearer(world, client, name)
        r = await client.get("/api/users/waiting/", headers=auth)
        assert r.status_code == 403, (name, r.text)
        r = await client.post(f"/api/users/{me['id']}/approve/", headers=auth,
                              json={"role": "admin", "access": "write"})
        assert r.status_code == 403, (name, r.text)
    auth = await _bearer(world, client, "boss")
    r = await client.get("/api/users/waiting/", headers=auth)
    assert r.status_code == 200
    [row] = r.json()
    assert row["username"] == "hopeful" and row["requested_role"] == "manager"
    assert row["registered_at"].endswith("Z")
    # Waiting users are not members: the organisation's user list does not show them.
    assert "hopeful" not in [u["username"] for u in (await client.get("/api/users/", headers=auth)).json()]

    bad = await client.post(f"/api/users/{me['id']}/approve/", headers=auth, json={"role": "wizard"})
    assert bad.status_code == 400 and "role" in bad.json()["errors"]
    r = await client.post(f"/api/users/{me['id']}/approve/", headers=auth,
                          json={"role": "calling_agent", "access": "read"})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "calling_agent" and r.json()["access"] == "read"
    again = await client.post(f"/api/users/{me['id']}/approve/", headers=auth,
                              json={"role": "admin", "access": "write"})
    assert again.status_code == 404  # no longer waiting: approval cannot raise a member's role
    assert (await client.get("/api/users/waiting/", headers=auth)).json() == []

    hopeful = await _bearer(world, client, "hopeful")
    r = await client.get("/api/users/", headers=hopeful)
    assert r.status_code == 200
    assert {u["username"] for u in r.json()} == {"boss", "readboss", "mgr", "hopeful"}
    write = await client.post("/api/customers/", headers=hopeful, json={"name": "X", "phone": "0821234567"})
    assert write.status_code == 403  # read access, as the admin chose
    async with transaction(readonly=True) as s:
        ev = await s.scalar(select(DomainEvent).where(DomainEvent.type == "user.approved"))
        assert ev is not None and ev.org_id == default.id and ev.actor.startswith("user:")
        assert ev.before["requested_role"] == "manager" and ev.before["waiting"] is True
        assert ev.after == {"waiting": False, "requested_role": "manager", "role": "calling_agent",
                            "access": "read"}


async def test_decline_deletes_the_waiting_account(client, world):
    default = await world.org("Default Co")
    await world.user(default.id, username="boss", role="admin")
    me = (await _register(client, "nope", role="calling_agent")).json()
    auth = await _bearer(world, client, "boss")
    r = await client.post(f"/api/users/{me['id']}/decline/", headers=auth)
    assert r.status_code == 200 and r.json() == {"id": me["id"], "deleted": True}
    assert (await client.post("/api/auth/token/", json={"username": "nope", "password": PASSWORD})
            ).status_code == 401
    member = await world.user(default.id, username="member", role="field_officer")
    r = await client.post(f"/api/users/{member.id}/decline/", headers=auth)
    assert r.status_code == 404  # only waiting accounts are declined


async def test_the_cli_lists_and_approves(world, client):
    default = await world.org("Default Co")
    assert (await _register(client, "clifford", role="manager")).status_code == 201

    async def cli(*args: str) -> tuple[int, str, str]:
        p = await arrears_async(*args)  # in-process, its own loop in a thread (tests/inprocess_cli.py)
        return p.returncode, p.stdout, p.stderr

    code, out, err = await cli("users", "waiting", "--json")
    assert code == 0, err
    assert [u["username"] for u in json.loads(out)["waiting"]] == ["clifford"]
    code, out, err = await cli("users", "approve", "clifford", "--role", "wizard", "--access", "write")
    assert code != 0
    code, out, err = await cli("users", "approve", "clifford", "--role", "field_officer",
                               "--access", "write", "--json")
    assert code == 0, err
    done = json.loads(out)
    assert done["role"] == "field_officer" and done["requested_role"] == "manager"
    assert done["org_id"] == default.id and done["access"] == "write"
    r = await client.get("/api/users/", headers=await _bearer(world, client, "clifford"))
    assert r.status_code == 200


async def test_registration_rules(client, world, monkeypatch):
    await world.org("Default Co")
    r = await _register(client, "wannabe", role="admin")
    assert r.status_code == 400
    [message] = r.json()["errors"]["role"]
    assert "admin" not in message and "calling_agent" in message
    # The wrong kind of token is named with the right article.
    pair = (await client.post("/api/auth/token/", json={"username": "wannabe", "password": PASSWORD}))
    assert pair.status_code == 401  # never made
    assert (await _register(client, "okay", role="field_officer")).status_code == 201
    pair = (await client.post("/api/auth/token/", json={"username": "okay", "password": PASSWORD})).json()
    r = await client.post("/api/auth/token/refresh/", json={"refresh": pair["access"]})
    assert r.status_code == 401 and r.json()["error"] == "Token is not a refresh token"

    from arrears import config

    monkeypatch.setenv("ARREARS_OPEN_REGISTRATION", "false")
    config.reset_settings()
    r = await _register(client, "closed")
    assert r.status_code == 403 and "registration" in r.json()["error"]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def _web_sign_in(client, username: str) -> str:
    page = await client.get("/app/login")
    r = await client.post("/app/login", data={"username": username, "password": PASSWORD,
                                              "csrf_token": _csrf(page.text)})
    assert r.status_code in (302, 303), r.text[:300]
    return _csrf((await client.get("/app/settings/users")).text)


async def test_settings_users_shows_the_waiting_list_to_default_admins_only(client, world):
    default = await world.org("Default Co")
    other = await world.org("Other Co")
    await world.user(default.id, username="boss", role="admin")
    await world.user(other.id, username="otheradmin", role="admin")
    await world.user(default.id, username="mgr", role="manager")
    keep = (await _register(client, "keeper", role="manager")).json()
    drop = (await _register(client, "dropper", role="calling_agent")).json()

    for name in ("otheradmin", "mgr"):
        await _web_sign_in(client, name)
        page = await client.get("/app/settings/users")
        assert page.status_code == 200 and "keeper" not in page.text and "Waiting" not in page.text
        token = _csrf(page.text)
        r = await client.post(f"/app/settings/users/{keep['id']}/approve",
                              data={"csrf_token": token, "role": "admin", "access": "write"})
        assert r.status_code == 403, (name, r.status_code)
        client.cookies.clear()

    token = await _web_sign_in(client, "boss")
    page = await client.get("/app/settings/users")
    assert "Waiting" in page.text and "keeper" in page.text and "dropper" in page.text
    r = await client.post(f"/app/settings/users/{keep['id']}/approve",
                          data={"csrf_token": token, "role": "collection_officer", "access": "write"})
    assert r.status_code in (302, 303), r.text[:300]
    r = await client.post(f"/app/settings/users/{drop['id']}/decline", data={"csrf_token": token})
    assert r.status_code in (302, 303), r.text[:300]
    page = await client.get("/app/settings/users")
    assert "No one is waiting." in page.text and "dropper" not in page.text
    async with transaction(readonly=True) as s:
        kept = await s.get(User, keep["id"])
        assert kept is not None and kept.role == "collection_officer" and kept.waiting_since is None
        assert await s.get(User, drop["id"]) is None


def test_the_migration_adds_and_removes_the_waiting_columns(tmp_path):
    """0013 on a database with users: they stay, accepted (NULL); down again keeps rows and ids."""
    import sqlite3

    from alembic import command

    from arrears import migrate

    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate.upgrade(url)
    command.downgrade(migrate.alembic_config(url), "0012_ids_never_reused")
    with sqlite3.connect(path) as conn:
        assert "waiting_since" not in {r[1] for r in conn.execute("PRAGMA table_info(users)")}
        conn.execute("INSERT INTO organisations (id, uuid, name, kind, status, is_default, settings,"
                     " callback_token, created_at, updated_at) VALUES (7, 'a0000000-0000-4000-8000-000000000007',"
                     " 'Acme', 'business', 'active', 0, '{}', 'token', '2026-01-01', '2026-01-01')")
        conn.execute("INSERT INTO users (id, uuid, username, password_hash, role, primary_org_id, is_active,"
                     " created_at) VALUES (4, 'b0000000-0000-4000-8000-000000000004', 'old', 'x', 'manager',"
                     " 7, 1, '2026-01-01')")
    migrate.upgrade(url)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT id, waiting_since, requested_role FROM users").fetchall() == [(4, None, None)]
    command.downgrade(migrate.alembic_config(url), "0012_ids_never_reused")
    with sqlite3.connect(path) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(users)")}
        assert "waiting_since" not in columns and "requested_role" not in columns
        assert conn.execute("SELECT id, username FROM users").fetchall() == [(4, "old")]
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'users'").fetchone()[0]
        assert "AUTOINCREMENT" in sql
