"""RepaySync §3, §4, §8 end to end through HTTP."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from arrears.config import get_settings
from arrears.db import utcnow


async def test_token_refresh_and_users_list(client, world):
    org = await world.org()
    admin = await world.user(org.id, username="alice", role="admin", email="alice@example.com")
    await world.user(org.id, username="bob", role="calling_agent")
    other = await world.org("Other Org")
    await world.user(other.id, username="mallory")

    r = await client.post("/api/auth/token/", json={"username": "alice", "password": "Sup3r-secret-pw"})
    assert r.status_code == 200
    pair = r.json()
    assert set(pair) == {"access", "refresh"}

    r = await client.post("/api/auth/token/refresh/", json={"refresh": pair["refresh"]})
    assert r.status_code == 200
    assert set(r.json()) == {"access"}
    access = r.json()["access"]

    r = await client.get("/api/users/", headers={"Authorization": f"Bearer {access}"})
    assert r.status_code == 200
    users = r.json()
    assert [u["username"] for u in users] == ["alice", "bob"]  # never another tenant's users
    assert users[0] == {"id": admin.id, "username": "alice", "email": "alice@example.com",
                        "role": "admin", "manager": None}


async def test_refresh_token_is_not_an_access_token(client, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    pair = (await client.post("/api/auth/token/", json={"username": "alice",
                                                        "password": "Sup3r-secret-pw"})).json()
    r = await client.get("/api/users/", headers={"Authorization": f"Bearer {pair['refresh']}"})
    assert r.status_code == 401
    assert "error" in r.json()
    r = await client.post("/api/auth/token/refresh/", json={"refresh": pair["access"]})
    assert r.status_code == 401


async def test_wrong_password_and_unknown_user(client, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    for body in ({"username": "alice", "password": "nope-nope"}, {"username": "ghost", "password": "x" * 9}):
        r = await client.post("/api/auth/token/", json=body)
        assert r.status_code == 401
        assert r.json() == {"error": "No active account found with the given credentials"}


async def test_missing_fields_are_field_errors(client, env):
    r = await client.post("/api/auth/token/", json={"username": "alice"})
    assert r.status_code == 400
    assert r.json() == {"errors": {"password": ["This field is required."]}}


@pytest.mark.parametrize("mutate", ["expired", "tampered", "garbage", "wrong_secret", "missing"])
async def test_bad_tokens_get_401(client, world, mutate):
    org = await world.org()
    user = await world.user(org.id, username="alice")
    secret = get_settings().resolved_secret()
    now = utcnow()
    good = {"sub": str(user.id), "type": "access", "iat": now, "exp": now + timedelta(minutes=5),
            "iss": "arrears"}
    tokens = {
        "expired": jwt.encode(good | {"exp": now - timedelta(seconds=1)}, secret, algorithm="HS256"),
        "tampered": jwt.encode(good, secret, algorithm="HS256")[:-3] + "abc",
        "garbage": "not-a-token",
        "wrong_secret": jwt.encode(good, "another-secret-" + "y" * 40, algorithm="HS256"),
    }
    headers = {} if mutate == "missing" else {"Authorization": f"Bearer {tokens[mutate]}"}
    r = await client.get("/api/users/", headers=headers)
    assert r.status_code == 401
    assert set(r.json()) == {"error"}


async def test_deactivated_user_token_stops_working(client, world):
    from arrears.db import transaction
    from arrears.identity.models import User

    org = await world.org()
    user = await world.user(org.id, username="alice")
    token = await world.token(client, "alice")
    async with transaction() as s:
        (await s.get(User, user.id)).is_active = False
    r = await client.get("/api/users/", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_api_key_is_refused_on_repaysync(client, world):
    org = await world.org()
    _, raw = await world.api_key(org.id, ["*"])
    r = await client.get("/api/users/", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 401
    assert set(r.json()) == {"error"}


async def test_register_in_default_org(client, env):
    r = await client.post("/api/users/register/", json={
        "username": "johndoe", "email": "john@example.com", "role": "calling_agent",
        "manager": None, "password": "SomePassword123"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["username"] == "johndoe" and body["role"] == "calling_agent" and body["manager"] is None
    assert isinstance(body["id"], int)
    r = await client.post("/api/auth/token/", json={"username": "johndoe", "password": "SomePassword123"})
    assert r.status_code == 200


async def test_register_validation(client, world):
    org = await world.org()
    await world.user(org.id, username="taken")
    r = await client.post("/api/users/register/", json={
        "username": "taken", "email": "not-an-email", "role": "wizard", "password": "short"})
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert set(errors) == {"username", "email", "role", "password"}
    r = await client.post("/api/users/register/", json={
        "username": "boss", "role": "admin", "password": "SomePassword123"})
    assert r.status_code == 400
    assert "role" in r.json()["errors"]


async def test_register_with_manager_of_other_org_is_refused(client, world):
    default = await world.org("Default")  # the first organisation is the default one
    other = await world.org("Other")
    stranger = await world.user(other.id, username="stranger", role="manager")
    boss = await world.user(default.id, username="boss", role="manager")
    bad = await client.post("/api/users/register/", json={
        "username": "x1", "role": "calling_agent", "password": "SomePassword123", "manager": stranger.id})
    assert bad.status_code == 400 and "manager" in bad.json()["errors"]
    ok = await client.post("/api/users/register/", json={
        "username": "x2", "role": "calling_agent", "password": "SomePassword123", "manager": boss.id})
    assert ok.status_code == 201 and ok.json()["manager"] == boss.id


async def test_open_registration_can_be_turned_off(client, env, monkeypatch):
    from arrears import config

    monkeypatch.setenv("ARREARS_OPEN_REGISTRATION", "false")
    config.reset_settings()
    r = await client.post("/api/users/register/", json={
        "username": "johndoe", "role": "calling_agent", "password": "SomePassword123"})
    assert r.status_code == 403
    assert "registration" in r.json()["error"]


async def test_logs_admin_only_redacted_and_tenant_scoped(client, world):
    org = await world.org()
    await world.user(org.id, username="alice", role="admin")
    await world.user(org.id, username="carl", role="calling_agent")
    other = await world.org("Other")
    await world.user(other.id, username="olga", role="admin")

    alice = await world.token(client, "alice")
    carl = await world.token(client, "carl")
    olga = await world.token(client, "olga")
    await client.get("/api/users/", headers={"Authorization": f"Bearer {alice}"})
    await client.post("/api/users/register/", json={"username": "newbie", "role": "calling_agent",
                                                    "password": "TopSecretPass1"})

    r = await client.get("/api/logs/", headers={"Authorization": f"Bearer {carl}"})
    assert r.status_code == 403
    assert set(r.json()) == {"error"}

    r = await client.get("/api/logs/", headers={"Authorization": f"Bearer {alice}"})
    assert r.status_code == 200
    logs = r.json()
    assert {"id", "user", "method", "endpoint", "request_payload", "response_payload", "status_code",
            "created_at"} == set(logs[0])
    users_call = next(x for x in logs if x["endpoint"] == "/api/users/" and x["method"] == "GET")
    assert users_call["status_code"] == 200 and users_call["created_at"].endswith("Z")
    assert "alice" in users_call["response_payload"]
    everything = str(logs)
    assert "TopSecretPass1" not in everything and "Sup3r-secret-pw" not in everything
    assert alice not in everything and "eyJ" not in everything
    register = next(x for x in logs if x["endpoint"] == "/api/users/register/")
    assert "[REDACTED]" in register["request_payload"] and "newbie" in register["request_payload"]

    r = await client.get("/api/logs/", headers={"Authorization": f"Bearer {olga}"})
    assert all("alice" not in x["response_payload"] for x in r.json())


async def test_failed_logins_are_throttled_per_username(client, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    for _ in range(10):
        r = await client.post("/api/auth/token/", json={"username": "alice", "password": "wrong-pass"})
        assert r.status_code == 401
    r = await client.post("/api/auth/token/", json={"username": "alice", "password": "Sup3r-secret-pw"})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "error" in r.json()
    # Another user is not locked out by alice's attacker.
    await world.user(org.id, username="bob")
    r = await client.post("/api/auth/token/", json={"username": "bob", "password": "Sup3r-secret-pw"})
    assert r.status_code == 200


@pytest.mark.slow
async def test_successful_logins_are_never_throttled(client, world):
    org = await world.org()
    await world.user(org.id, username="alice")
    for _ in range(25):
        r = await client.post("/api/auth/token/", json={"username": "alice", "password": "Sup3r-secret-pw"})
        assert r.status_code == 200
