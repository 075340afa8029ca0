"""The CLI as a new user runs it: its commands in-process (tests/inprocess_cli.py, the same entry
point), a real server and the installed script in real subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.inprocess_cli import arrears

ARREARS = [sys.executable, "-m", "arrears"]


def cli(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    p = arrears(*args, env=env)
    if ok:
        assert p.returncode == 0, p.stderr + p.stdout
    return p


def last_json(p: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.fixture
def fresh_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "DB_HOST", "DB_NAME")}
    env["ARREARS_DATA_DIR"] = str(tmp_path / "data")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_bootstrap_then_login_and_read_logs(fresh_env: dict[str, str], tmp_path: Path):
    org = last_json(cli(fresh_env, "orgs", "create", "--name", "Sunrise Pharmacy", "--kind", "pharmacy", "--json"))
    assert org["kind"] == "pharmacy" and isinstance(org["id"], int)
    assert (tmp_path / "data" / "arrears.db").exists()  # the embedded default, migrated by itself
    user = last_json(cli(fresh_env, "users", "create", "--username", "admin", "--password", "Adm1n-pass-word",
                         "--role", "admin", "--org", str(org["id"]), "--json"))
    assert user["role"] == "admin" and user["org_id"] == org["id"]

    bad = cli(fresh_env, "users", "create", "--username", "x", "--password", "short", "--role", "king",
              "--org", str(org["id"]), ok=False)
    assert bad.returncode != 0 and "role" in bad.stderr and "password" in bad.stderr

    cli(fresh_env, "orgs", "set", str(org["id"]), "sendgrid_api_key=SG.very-secret", "status=active",
        "timezone=Africa/Johannesburg")
    shown = json.loads(cli(fresh_env, "orgs", "show", str(org["id"])).stdout)
    assert shown["settings"]["sendgrid_api_key"] == "********"
    assert shown["settings"]["timezone"] == "Africa/Johannesburg"
    assert "SG.very-secret" not in (tmp_path / "data" / "arrears.db").read_bytes().decode("latin-1")

    key = last_json(cli(fresh_env, "api-keys", "create", "--org", str(org["id"]), "--scopes",
                        "collections:update,policies:update", "--name", "bank", "--json"))
    assert key["key"].startswith("pct_") and len(key["key"]) == 68
    assert key["scopes"] == ["collections:update", "policies:update"]

    port = free_port()
    server = subprocess.Popen([*ARREARS, "serve", "--port", str(port), "--no-worker"], env=fresh_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline
            time.sleep(0.2)
        tok = httpx.post(base + "/api/auth/token/", json={"username": "admin", "password": "Adm1n-pass-word"})
        assert tok.status_code == 200
        access = tok.json()["access"]
        logs = httpx.get(base + "/api/logs/", headers={"Authorization": f"Bearer {access}"})
        assert logs.status_code == 200
        assert any(x["endpoint"] == "/api/auth/token/" for x in logs.json())
    finally:
        server.terminate()
        server.wait(20)

    cli(fresh_env, "api-keys", "revoke", key["key_id"])
    missing = cli(fresh_env, "api-keys", "revoke", "pct_nope", ok=False)
    assert missing.returncode == 1 and "not found" in missing.stderr


@pytest.mark.slow
def test_postgres_refuses_an_old_schema_until_upgraded(pg_url: str, fresh_env: dict[str, str]):
    from arrears.config import to_async_url
    from tests.conftest import _pg_exec

    name = f"arrears_cli_{uuid.uuid4().hex[:8]}"
    base = to_async_url(pg_url)
    asyncio.run(_pg_exec(base, f'CREATE DATABASE "{name}"'))
    try:
        env = fresh_env | {"DATABASE_URL": pg_url.rsplit("/", 1)[0] + "/" + name}
        weak = cli(env | {"SECRET_KEY": "changeme"}, "orgs", "create", "--name", "X", ok=False)
        assert weak.returncode == 2 and "SECRET_KEY" in weak.stderr
        env["SECRET_KEY"] = "s" * 48
        old = cli(env, "orgs", "create", "--name", "X", ok=False)
        assert old.returncode == 2 and "arrears db upgrade" in old.stderr
        cli(env, "db", "upgrade")
        assert last_json(cli(env, "orgs", "create", "--name", "X", "--json"))["name"] == "X"
    finally:
        asyncio.run(_pg_exec(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.slow
def test_the_installed_script_turns_a_configuration_error_into_a_message(fresh_env: dict[str, str]):
    from importlib.metadata import entry_points

    [script] = entry_points(group="console_scripts", name="arrears")
    assert script.value == "arrears.cli.main:main"  # the function that renders ConfigError, as -m does
    installed = Path(sys.executable).with_name("arrears")
    assert installed.is_file()
    env = fresh_env | {"DATABASE_URL": "postgresql://postgres@127.0.0.1:9/nowhere", "SECRET_KEY": "changeme"}
    p = subprocess.run([str(installed), "orgs", "create", "--name", "X"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "SECRET_KEY" in p.stderr and "Traceback" not in p.stderr
    helped = subprocess.run([str(installed), "--help"], env=fresh_env, capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "debit-orders" in helped.stdout and "opt-out" in helped.stdout
