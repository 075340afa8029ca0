"""Test harness: a fresh database per test (SQLite, or PostgreSQL with TEST_DATABASE_URL),
migrated once per worker process with the real Alembic migrations, and real HTTP through the
ASGI transport."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text

from arrears import request_logs
from arrears.config import to_async_url
from arrears.state import state
from arrears.wiring import wire
from tests.fixtures import cheap_password_hashing  # noqa: F401  (autouse: the whole suite)

# Property tests check what they generate, not how fast: on a loaded two-core machine (two suites,
# CI) input generation and examples run slower than Hypothesis' defaults allow, which failed
# tests that had found nothing wrong. Each test's own @settings still sets its examples.
settings.register_profile("arrears", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("arrears")

STRONG_SECRET = "test-secret-" + "x" * 40
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


# ------------------------------------------------------------------ the order of files on xdist workers

# `make test` runs `pytest -n 2 --dist loadfile`: whole files go to the two workers, each taking the
# next file in the queue when it runs short. The files are queued by their time, longest first, so
# that the run ends on short files, both workers busy: the seconds each file took in a whole run
# (tests/file_seconds.txt). Before, the queue went by an estimate (a test counts one, a `slow` one
# SLOW_WEIGHT), which put files of one long unmarked test (300 PDF pages, the SQL segments) last,
# alone on one worker while the other had nothing left. A file not in the table is still estimated.
SLOW_WEIGHT = 60
FILE_SECONDS = Path(__file__).with_name("file_seconds.txt")


def _file_seconds() -> dict[str, float]:
    table: dict[str, float] = {}
    if FILE_SECONDS.exists():
        for line in FILE_SECONDS.read_text().splitlines():
            if line and not line.startswith("#"):
                seconds, path = line.split(" ", 1)
                table[path] = float(seconds)
    return table


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config.option, "loadscopereorder"):  # xdist: keep the order made below
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    estimate: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        estimate[path] = estimate.get(path, 0) + (SLOW_WEIGHT if item.get_closest_marker("slow") else 1)
    table = _file_seconds()
    known = [p for p in estimate if p in table]
    # An estimate's unit (a typical test) in the table's seconds.
    unit = (sum(table[p] for p in known) / sum(estimate[p] for p in known)) if known else 1.0
    weight = {p: table.get(p, n * unit) for p, n in estimate.items()}
    # Stable: a file's tests keep their order, files of equal weight theirs.
    items.sort(key=lambda item: -weight[item.nodeid.split("::", 1)[0]])


def _worker_index() -> int:
    wid = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(wid[2:]) if wid[2:].isdigit() else 0


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def services_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("ARREARS_REQUIRE_SERVICES"))


def need_service(name: str, url: str) -> None:
    from urllib.parse import urlparse

    u = urlparse(url)
    if not _reachable(u.hostname or "127.0.0.1", u.port or (5432 if "postgres" in url else 6379)):
        if services_required():
            pytest.fail(f"{name} at {url} is not reachable, and CI needs it")
        pytest.skip(f"{name} is not reachable at {url}; start it to run this test")


# ------------------------------------------------------------------ database per test

BACKEND_URL = os.environ.get("TEST_DATABASE_URL")


def _pg_admin_url(url: str) -> str:
    return to_async_url(url)


async def _pg_exec(url: str, sql: str) -> None:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Migrate once per worker: a template SQLite file, or a PostgreSQL database of our own."""
    from arrears import migrate

    if BACKEND_URL:
        need_service("PostgreSQL", BACKEND_URL)
        base = to_async_url(BACKEND_URL)
        name = f"arrears_t{_worker_index()}_{uuid.uuid4().hex[:6]}"
        asyncio.run(_pg_exec(base, f'CREATE DATABASE "{name}"'))
        url = base.rsplit("/", 1)[0] + "/" + name
        migrate.upgrade(url)
        info = {"kind": "pg", "url": url, "admin": base, "name": name}
        yield info
        asyncio.run(_pg_exec(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    yield {"kind": "sqlite", "path": path}


@pytest.fixture
def db_url(template_db: dict[str, Any], tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if template_db["kind"] == "sqlite":
        target = tmp_path / "data" / "arrears.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(template_db["path"], target)
        return f"sqlite+aiosqlite:///{target}"
    if "env" not in request.fixturenames:
        # A test of the database alone (the migrations' down and up) starts from empty tables, as
        # `env` gives the others: rows an earlier test left in the worker's database (sealed with
        # that test's secret) would otherwise be re-read by a data migration.
        asyncio.run(_truncate_pg(template_db["url"]))
    return template_db["url"]


async def _truncate_pg(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            rows = await conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))
            names = [r[0] for r in rows]
            if names:
                await conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names)
                                        + " RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


def _redis_base(url: str) -> int:
    # The URL's own database number offsets ours, so that two suites can share one Redis.
    tail = url.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        return None
    # One Redis database per worker process, flushed per test.
    return url.rsplit("/", 1)[0] + f"/{_redis_base(url) + 1 + _worker_index()}"


@pytest.fixture
async def env(db_url: str, template_db: dict[str, Any], tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    """Environment of one test: its own database, data dir and (when configured) Redis."""
    for var in ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ARREARS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("MESSAGING_SIMULATION", "true")
    redis_url = _redis_url()
    if redis_url:
        monkeypatch.setenv("REDIS_URL", redis_url)
        import redis.asyncio as aioredis

        r = aioredis.from_url(redis_url)
        await r.flushdb()
        await r.aclose()
    if template_db["kind"] == "pg":
        await _truncate_pg(db_url)
    await state.reset()
    wire()  # what every entry point does at start
    yield {"db_url": db_url, "data_dir": tmp_path / "data", "redis_url": redis_url}
    # What a server's shutdown does (the premium face's): the queued request-log rows are written
    # now, in this test's database. `client` starts no lifespan, and the tests share one event
    # loop: left queued, the log's timer wrote them during the next test's setup, beside its
    # TRUNCATE (a deadlock, seen once on PostgreSQL) or into its fresh tables.
    await request_logs.flush()
    await state.reset()


@pytest.fixture
def app(env: dict[str, Any]) -> Any:
    """A new application, for the tests that use it themselves (add routes, start its lifespan).
    Not a coroutine: `client` asks for it from inside the event loop when the test uses it."""
    from arrears.app import create_app

    return create_app()


# A test that only talks to the application through `client` gets one built before in its worker
# process, for the same settings. Building it and FastAPI's building of each face's routes on the
# first request to it (again for every new application) cost 0.1 to 0.5 CPU-s a test,
# for ~940 tests. The built application keeps nothing of a test: its middleware and routes read
# the settings, database and Redis per request, and ASGITransport starts no lifespan; what a start
# does on the settings of the moment (logging, the secret check, the wiring) runs for each test.
_BUILT_APPS: dict[str, Any] = {}

# Settings a test sets for itself (its database, data folder, Redis) and the application reads per
# request; any other setting differing makes another application, as a start would.
_PER_TEST_SETTINGS = {"redis_url", "arrears_data_dir", "secret_key"}


def _built_app() -> Any:
    from arrears.app import create_app, prepare

    settings = prepare()
    key = repr((settings.model_dump(exclude=_PER_TEST_SETTINGS), settings.uploads, settings.parse,
                settings.passwords, settings.premium))
    if key not in _BUILT_APPS:
        _BUILT_APPS.clear()  # a test that changes settings does not keep its application alive
        _BUILT_APPS[key] = create_app()
    return _BUILT_APPS[key]


@pytest.fixture
async def client(env: dict[str, Any], request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    app = request.getfixturevalue("app") if "app" in request.fixturenames else _built_app()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


# ------------------------------------------------------------------ data builders


class World:
    """Creates organisations, users and keys through the services, as the CLI does."""

    async def org(self, name: str = "Acme Collections", kind: str = "business") -> Any:
        from arrears.db import transaction
        from arrears.identity import service
        from arrears.identity.caller import Caller

        async with transaction() as s:
            return await service.create_org(s, Caller.operator(), name=name, kind=kind)

    async def user(self, org_id: int, username: str | None = None, role: str = "admin",
                   password: str = "Sup3r-secret-pw", access: str = "write",
                   email: str | None = None) -> Any:
        from arrears.db import transaction
        from arrears.identity import service
        from arrears.identity.caller import Caller

        async with transaction() as s:
            return await service.create_user(s, Caller.system(org_id), username=username or f"u{uuid.uuid4().hex[:8]}",
                                             password=password, role=role, access=access, email=email)

    async def token(self, client: httpx.AsyncClient, username: str,
                    password: str = "Sup3r-secret-pw") -> str:
        r = await client.post("/api/auth/token/", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["access"]

    async def login_headers(self, client: httpx.AsyncClient, org_id: int, role: str = "admin",
                            access: str = "write") -> dict[str, str]:
        u = await self.user(org_id, role=role, access=access)
        return {"Authorization": f"Bearer {await self.token(client, u.username)}"}

    async def api_key(self, org_id: int, scopes: list[str], kind: str = "pct",
                      **kw: Any) -> tuple[Any, str]:
        from arrears.db import transaction
        from arrears.identity import service
        from arrears.identity.caller import Caller

        async with transaction() as s:
            return await service.create_api_key(s, Caller.system(org_id), kind=kind, scopes=scopes, **kw)


@pytest.fixture
def world(env: dict[str, Any]) -> World:
    return World()


# ------------------------------------------------------------------ real services


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
    need_service("PostgreSQL", url)
    return url


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS)
    need_service("Redis", url)
    yield url.rsplit("/", 1)[0] + f"/{_redis_base(url) + 9 + _worker_index()}"
