"""Settings from environment variables only (names from the specs where they give one)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that must never protect a production database.
WEAK_SECRETS = {"", "secret", "changeme", "change-me", "dev", "development", "test", "password",
                "your-secret-key", "your-secret-key-here", "default", "arrears"}
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which and what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str | None = None
    db_host: str | None = None
    db_port: int | None = None
    db_name: str | None = None
    db_user: str | None = None
    db_password: str | None = None

    redis_url: str | None = None
    arrears_data_dir: Path = Path("data")
    secret_key: str | None = None
    arrears_cors_origins: str = ""
    arrears_open_registration: bool = True
    arrears_default_org_name: str = "Default organisation"
    arrears_log_level: str = "INFO"

    upload_dir: Path = Path("uploads")
    upload_max_size: int = Field(default=50 * 1024 * 1024)

    access_token_minutes: int = 60
    refresh_token_days: int = 7

    @field_validator("arrears_cors_origins")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @property
    def data_dir(self) -> Path:
        return self.arrears_data_dir

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.arrears_cors_origins.split(",") if o.strip()]

    @property
    def uploads_path(self) -> Path:
        return self.upload_dir if self.upload_dir.is_absolute() else self.data_dir / self.upload_dir

    @property
    def async_database_url(self) -> str:
        """The SQLAlchemy async URL; a plain `postgresql://` URL works as the specs write it."""
        url = self.database_url
        if not url and any(v is not None for v in (self.db_host, self.db_port, self.db_name,
                                                    self.db_user, self.db_password)):
            # The premium spec's defaults fill in whatever DB_* was left out.
            user = quote(self.db_user or "postgres", safe="")
            pw = f":{quote(self.db_password, safe='')}" if self.db_password else ""
            url = (f"postgresql://{user}{pw}@{self.db_host or 'localhost'}:{self.db_port or 5432}/"
                   f"{self.db_name or 'premium_collection'}")
        if not url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'arrears.db').as_posix()}"
        return to_async_url(url)

    @property
    def is_postgres(self) -> bool:
        return self.async_database_url.startswith("postgresql")

    def resolved_secret(self) -> str:
        """The signing/encryption secret: from SECRET_KEY, or generated once into the data dir."""
        if self.secret_key is not None:
            if self.is_postgres and (self.secret_key.strip().lower() in WEAK_SECRETS
                                     or len(self.secret_key) < MIN_SECRET_LENGTH):
                raise ConfigError(
                    "SECRET_KEY is weak or a default value; on PostgreSQL set SECRET_KEY to at least "
                    f"{MIN_SECRET_LENGTH} random characters (for example: "
                    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")
            return self.secret_key
        if self.is_postgres:
            raise ConfigError("SECRET_KEY is not set; on PostgreSQL every process must share one "
                              "strong SECRET_KEY (at least 32 random characters)")
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        # Write-then-rename so two processes starting together agree on one secret.
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        tmp.write_text(value)
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_text().strip()


def to_async_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    get_settings.cache_clear()
