"""Settings from the environment only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from arrears.config import ConfigError, Settings


def make(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for var in ("DATABASE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "SECRET_KEY",
                "REDIS_URL", "ARREARS_DATA_DIR", "ARREARS_CORS_ORIGINS", "UPLOAD_DIR"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return Settings()


def test_embedded_default_is_sqlite_under_data(monkeypatch, tmp_path):
    s = make(monkeypatch)
    assert s.async_database_url == "sqlite+aiosqlite:///data/arrears.db"
    assert not s.is_postgres and s.cors_origins == [] and s.redis_url is None


def test_plain_postgresql_url_as_the_specs_write_it(monkeypatch):
    s = make(monkeypatch, DATABASE_URL="postgresql://user:pw@db:5432/premium")
    assert s.async_database_url == "postgresql+asyncpg://user:pw@db:5432/premium"
    assert s.is_postgres


def test_partial_db_vars_take_the_premium_spec_defaults(monkeypatch):
    s = make(monkeypatch, DB_HOST="db.internal")
    assert s.async_database_url == "postgresql+asyncpg://postgres@db.internal:5432/premium_collection"
    s = make(monkeypatch, DB_NAME="arrears", DB_PASSWORD="p@ss:word")
    assert s.async_database_url == "postgresql+asyncpg://postgres:p%40ss%3Aword@localhost:5432/arrears"


def test_secret_generated_once_and_kept(monkeypatch, tmp_path):
    s = make(monkeypatch, ARREARS_DATA_DIR=str(tmp_path / "d"))
    first = s.resolved_secret()
    assert len(first) >= 32
    assert (tmp_path / "d" / "secret.key").read_text().strip() == first
    assert make(monkeypatch, ARREARS_DATA_DIR=str(tmp_path / "d")).resolved_secret() == first
    assert oct((tmp_path / "d" / "secret.key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("secret", ["secret", "changeme", "short-but-not-default", ""])
def test_weak_secret_refused_on_postgres(monkeypatch, secret):
    s = make(monkeypatch, DATABASE_URL="postgresql://u@h/db", SECRET_KEY=secret)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        s.resolved_secret()


def test_missing_secret_refused_on_postgres(monkeypatch):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        make(monkeypatch, DATABASE_URL="postgresql://u@h/db").resolved_secret()


def test_strong_secret_accepted_on_postgres_and_any_on_sqlite(monkeypatch):
    strong = "k" * 12 + "Z9" * 12
    assert make(monkeypatch, DATABASE_URL="postgresql://u@h/db", SECRET_KEY=strong).resolved_secret() == strong
    assert make(monkeypatch, SECRET_KEY="dev").resolved_secret() == "dev"


def test_cors_origins_and_upload_dir(monkeypatch, tmp_path):
    s = make(monkeypatch, ARREARS_CORS_ORIGINS="https://a.example, https://b.example",
             ARREARS_DATA_DIR=str(tmp_path))
    assert s.cors_origins == ["https://a.example", "https://b.example"]
    assert s.uploads_path == Path(tmp_path) / "uploads"
    s = make(monkeypatch, UPLOAD_DIR="/srv/up")
    assert s.uploads_path == Path("/srv/up")


# ------------------------------------------------------------------ the settings tree (issue 18)

SECTION_VARS = ("MESSAGING_TIMEOUT", "MESSAGING_CAP", "MESSAGING_UNKNOWN_OUTCOME", "SMSPORTAL_API_URL",
                "ARREARS_WEBHOOKS_ALLOW_PRIVATE", "ARREARS_WEBHOOKS_CONCURRENCY", "ARREARS_IMPORT_THROTTLE")


def test_sections_keep_their_names_and_defaults(monkeypatch):
    for var in SECTION_VARS:
        monkeypatch.delenv(var, raising=False)
    s = make(monkeypatch)
    assert s.messaging.timeout == 30.0 and s.messaging.messaging_cap == 1
    assert s.messaging.messaging_unknown_outcome == "fail"
    assert s.messaging.smsportal_api_url == "https://rest.smsportal.com/v1"
    assert s.webhooks.allow_private is False and s.webhooks.concurrency == 64
    assert s.limits.import_throttle == 0.0


def test_sections_read_the_documented_variables_at_each_use(monkeypatch):
    from arrears.messaging.settings import messaging_settings
    from arrears.partners.settings import allow_private_webhooks, delivery_concurrency

    s = make(monkeypatch)
    monkeypatch.setenv("MESSAGING_TIMEOUT", "200ms")
    monkeypatch.setenv("SMSPORTAL_API_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE", "yes")
    monkeypatch.setenv("ARREARS_WEBHOOKS_CONCURRENCY", "5000")
    monkeypatch.setenv("ARREARS_IMPORT_THROTTLE", "0.25")
    # The same Settings object sees the change (tests and operators rely on it).
    assert s.messaging.timeout == 0.2 and s.messaging.smsportal_api_url == "http://127.0.0.1:9/v1"
    assert s.webhooks.allow_private is True and s.webhooks.concurrency == 1024
    assert s.limits.import_throttle == 0.25
    assert messaging_settings().timeout == 0.2
    assert allow_private_webhooks() is True and delivery_concurrency() == 1024
    monkeypatch.setenv("ARREARS_WEBHOOKS_CONCURRENCY", "many")  # not understood: the default
    assert s.webhooks.concurrency == 64


def test_a_bad_messaging_duration_names_its_variable(monkeypatch):
    s = make(monkeypatch, MESSAGING_LEASE="soon")
    with pytest.raises(ValueError, match="MESSAGING_LEASE"):
        _ = s.messaging


async def test_the_application_state_is_reset_as_one(env):
    from arrears.config import get_settings
    from arrears.db import get_engine
    from arrears.ratelimit import storage
    from arrears.state import state

    engine, counters, settings = get_engine(), storage(), get_settings()
    assert state.engines and get_engine() is engine and storage() is counters
    await state.reset()
    assert state.engines == {} and state.rate_limit_storages == {}
    assert get_settings() is not settings and get_engine() is not engine and storage() is not counters


def test_database_uploads_and_parse_are_sections_read_once(monkeypatch, tmp_path):
    for var in ("UPLOAD_MAX_SIZE", "ARREARS_PARSE_WORKERS", "ARREARS_PARSE_MEMORY_MB"):
        monkeypatch.delenv(var, raising=False)
    s = make(monkeypatch, DB_HOST="db.internal", DB_PORT="6543", UPLOAD_DIR="in", UPLOAD_MAX_SIZE="1024",
             ARREARS_DATA_DIR=str(tmp_path), ARREARS_PARSE_WORKERS="3")
    assert s.database.db_host == "db.internal" and s.database.db_port == 6543
    assert s.async_database_url == "postgresql+asyncpg://postgres@db.internal:6543/premium_collection"
    assert s.uploads.max_size == s.upload_max_size == 1024
    assert s.uploads_path == tmp_path / "in"
    assert s.parse.workers == 3 and s.parse.memory_mb == 1024 and s.parse.memory_bytes == 1024 << 20
    # Read with the tree, not at each use: a process's database and limits do not move under it.
    monkeypatch.setenv("DB_HOST", "elsewhere")
    monkeypatch.setenv("ARREARS_PARSE_WORKERS", "5")
    assert s.database.db_host == "db.internal" and s.parse.workers == 3
    assert make(monkeypatch).parse.workers == 5


def test_a_bad_section_value_fails_where_the_tree_is_read(monkeypatch):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="db_port"):
        make(monkeypatch, DB_PORT="five")
    monkeypatch.delenv("DB_PORT")
    with pytest.raises(ValidationError, match="workers"):
        make(monkeypatch, ARREARS_PARSE_WORKERS="99")


async def test_the_sandbox_reads_its_limits_from_the_tree(env, monkeypatch):
    from arrears.config import get_settings, reset_settings
    from arrears.sandbox import get_parse_limits

    monkeypatch.setenv("ARREARS_PARSE_MAX_PDF_PAGES", "7")
    reset_settings()
    assert get_parse_limits() is get_settings().parse
    assert get_parse_limits().max_pdf_pages == 7


# ------------------------------------------------------------------ the application state (issue 18)


async def test_the_state_builds_each_process_wide_object_once_and_closes_it(env, monkeypatch):
    from argon2 import PasswordHasher

    from arrears.config import reset_settings
    from arrears.identity import crypto
    from arrears.messaging.providers.base import http_client as providers_http
    from arrears.messaging.ratelimit import MemoryPacer, pacer
    from arrears.partners.delivery import http_client
    from arrears.realtime.hub import Hub, hub
    from arrears.sandbox import ParsePool, get_pool
    from arrears.state import state

    monkeypatch.setenv("ARREARS_PARSE_WORKERS", "1")
    monkeypatch.delenv("REDIS_URL", raising=False)  # no Redis here (the Redis objects: the next test)
    await state.close()  # what this test's set-up built does not count
    reset_settings()
    built = (hub(), http_client(), pacer(), crypto.password_hasher(), get_pool(), providers_http())
    assert isinstance(built[0], Hub) and isinstance(built[2], MemoryPacer)
    assert isinstance(built[3], PasswordHasher) and isinstance(built[4], ParsePool)
    # One of each per process: the accessors hand back what the state keeps.
    assert (hub(), http_client(), pacer(), crypto.password_hasher(), get_pool(), providers_http()) == built
    assert set(state.objects) == {"realtime.hub", "partners.http", "messaging.memory_pacer", "identity.hasher",
                                  "sandbox.pool", "messaging.http"}
    pool = built[4]
    pool.warm(1)  # a real child process
    child = pool._idle[0].process
    assert child.poll() is None

    await state.close()
    assert state.objects == {} and state.engines == {}
    assert built[1].client.is_closed and built[5].is_closed  # the partners' and the providers' clients
    assert pool._closed and child.poll() is not None  # the parser's child is gone
    # The next use builds afresh.
    again = (hub(), http_client(), pacer(), crypto.password_hasher(), get_pool(), providers_http())
    assert all(new is not old for new, old in zip(again, built, strict=True))
    await state.close()


async def test_the_pacer_keeps_the_clock_the_state_gives_it(env, monkeypatch):
    from arrears.clock import SYSTEM
    from arrears.messaging.ratelimit import pacer
    from arrears.state import state
    from tests.clocks import SimulatedClock

    monkeypatch.delenv("REDIS_URL", raising=False)
    from arrears.config import reset_settings

    reset_settings()
    assert pacer().clock is SYSTEM
    clock = SimulatedClock()
    state.clock = clock
    paced = pacer()
    assert paced.clock is clock and pacer() is paced  # rebuilt on the new clock, then kept
    assert await paced.reserve("acct", 2, 10.0) == 0.0
    assert await paced.backlog("acct") == pytest.approx(0.2)
    await state.reset()  # a test's end: the system's clock again, and a fresh timeline
    assert state.clock is SYSTEM and pacer().clock is SYSTEM and pacer() is not paced


async def test_the_hasher_follows_its_settings(env, monkeypatch):
    from argon2 import PasswordHasher

    from arrears.config import reset_settings
    from arrears.identity import crypto

    monkeypatch.setenv("ARREARS_PASSWORD_TIME_COST", "2")
    monkeypatch.setenv("ARREARS_PASSWORD_MEMORY_KIB", "2048")
    monkeypatch.setenv("ARREARS_PASSWORD_PARALLELISM", "1")
    reset_settings()
    cheap = crypto.hash_password("pw-123456")
    assert "m=2048,t=2,p=1" in cheap and crypto.verify_password("pw-123456", cheap)
    assert not crypto.verify_password("pw-123456", None) and not crypto.verify_password("nope", cheap)
    for name in ("ARREARS_PASSWORD_TIME_COST", "ARREARS_PASSWORD_MEMORY_KIB", "ARREARS_PASSWORD_PARALLELISM"):
        monkeypatch.delenv(name)
    reset_settings()
    # The defaults are argon2-cffi's own; a hash made at another cost still verifies.
    default = PasswordHasher()
    assert (crypto.password_hasher().time_cost, crypto.password_hasher().memory_cost,
            crypto.password_hasher().parallelism) == (default.time_cost, default.memory_cost,
                                                      default.parallelism)
    assert crypto.verify_password("pw-123456", cheap)


async def test_redis_objects_are_closed_with_the_state(env, redis_url, monkeypatch):
    from arrears.config import reset_settings
    from arrears.messaging.ratelimit import pacer
    from arrears.realtime.hub import hub
    from arrears.state import state

    monkeypatch.setenv("REDIS_URL", redis_url)
    reset_settings()
    shared = pacer()
    assert await shared.backlog("acct") == 0.0  # talks to Redis
    conn = await hub().connect(1)  # a Redis slot and this loop's subscriber
    assert conn is not None
    loop = asyncio.get_running_loop()
    tasks = [task for key, (_, task) in hub()._subs.items() if key[0] is loop]
    assert tasks and not tasks[0].done()
    await state.close()
    assert tasks[0].done()  # the subscriber stopped
    assert pacer() is not shared  # its Redis client was closed with the state: a new one
    await state.close()


def test_what_tests_used_to_patch_are_settings_with_documented_names(monkeypatch):
    names = ("ARREARS_IMPORT_BATCH_ROWS", "ARREARS_PREMIUM_RATE_LIMIT", "ARREARS_PREMIUM_BULK_RATE_LIMIT",
             "ARREARS_WS_AUTH_TIMEOUT", "ARREARS_WS_PING_INTERVAL", "ARREARS_PASSWORD_TIME_COST",
             "ARREARS_PASSWORD_MEMORY_KIB", "ARREARS_PASSWORD_PARALLELISM")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    s = make(monkeypatch)
    assert s.limits.import_batch_rows == 5000
    assert (s.premium.standard_rate, s.premium.bulk_rate) == (1000, 100)
    assert (s.premium.ws_auth_timeout, s.premium.ws_ping_interval) == (10.0, 25.0)
    assert s.passwords.cost == (3, 65536, 4)
    s = make(monkeypatch, ARREARS_IMPORT_BATCH_ROWS="50", ARREARS_PREMIUM_RATE_LIMIT="3",
             ARREARS_PREMIUM_BULK_RATE_LIMIT="2", ARREARS_WS_AUTH_TIMEOUT="0.3", ARREARS_WS_PING_INTERVAL="0.2",
             ARREARS_PASSWORD_TIME_COST="1", ARREARS_PASSWORD_MEMORY_KIB="1024", ARREARS_PASSWORD_PARALLELISM="1")
    assert s.limits.import_batch_rows == 50
    assert (s.premium.standard_rate, s.premium.bulk_rate) == (3, 2)
    assert (s.premium.ws_auth_timeout, s.premium.ws_ping_interval) == (0.3, 0.2)
    assert s.passwords.cost == (1, 1024, 1)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in names)


async def test_a_tests_reset_keeps_the_parse_pool_and_close_stops_it(env):
    from arrears.realtime.hub import hub
    from arrears.sandbox import get_pool
    from arrears.state import state

    pool, first_hub = get_pool(), hub()
    await state.reset()  # the parser's children hold nothing of a test's, and take seconds to start
    assert get_pool() is pool and not pool._closed and hub() is not first_hub
    await state.close()
    assert pool._closed and get_pool() is not pool
