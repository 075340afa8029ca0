"""Settings from the environment only."""

from __future__ import annotations

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
