"""Settings from environment variables only (names from the specs where they give one)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from functools import cached_property, lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import quote

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from arrears.durations import parse_duration

# Values that must never protect a production database.
WEAK_SECRETS = {"", "secret", "changeme", "change-me", "dev", "development", "test", "password",
                "your-secret-key", "your-secret-key-here", "default", "arrears"}
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which and what to do."""


class _Section(BaseSettings):
    """A section of the settings tree: reads its own variables (flat names, as documented)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)


# ------------------------------------------------------------------ messaging

DEFAULT_SMSPORTAL_URL = "https://rest.smsportal.com/v1"
DEFAULT_SENDGRID_URL = "https://api.sendgrid.com/v3"
UNKNOWN_OUTCOME_POLICIES = ("fail", "resend")


def _duration(value: str, name: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{name.upper()}: {exc}") from None


class MessagingSettings(_Section):
    """MESSAGING_* (the AAMA spec's names) and the providers' own variables."""


    # --- the AAMA spec's variables
    messaging_simulation: bool = True
    messaging_api_url: str | None = None
    messaging_api_key: str | None = None
    messaging_from: str = "DebtCollection"
    messaging_timeout: str = "30s"
    messaging_rate_limit: float = Field(default=5.0, gt=0, le=10_000)
    messaging_max_retries: int = Field(default=3, ge=0, le=50)
    messaging_retry_delay: str = "5s"

    # --- contact rules (deployment-wide switches; organisations refine them in their settings)
    messaging_contact_hours: bool = True
    messaging_cap: int = Field(default=1, ge=0)  # messages per customer per channel per window; 0 = no cap
    messaging_cap_window: str = "24h"

    # --- the outbox
    messaging_concurrency: int = Field(default=16, ge=1, le=1024)  # calls in flight per provider account
    # What a worker does with a message it finds `sending` under an expired claim, for providers
    # that cannot be asked whether they took it: "fail" (at most once, the default) or "resend"
    # (at least once). Receipts that arrive within MESSAGING_RECONCILE_AFTER settle it either way.
    messaging_unknown_outcome: str = "fail"
    messaging_reconcile_after: str = "15m"
    messaging_lease: str = "60s"  # a claimed batch not yet sent, or a call in flight, beyond the timeout

    # --- simulation
    messaging_simulation_latency: str = "40ms"
    messaging_simulation_receipt_delay: str = "2s"

    # --- explicit global provider choice ("auto": by which credentials are set)
    messaging_sms_provider: str = "auto"  # auto | smsportal | gateway | simulation
    messaging_email_provider: str = "auto"  # auto | sendgrid | smtp | simulation

    # --- SMSPortal
    smsportal_api_url: str = DEFAULT_SMSPORTAL_URL
    smsportal_client_id: str | None = None
    smsportal_api_secret: str | None = None

    # --- SendGrid
    sendgrid_api_url: str = DEFAULT_SENDGRID_URL
    sendgrid_api_key: str | None = None
    sendgrid_from_email: str | None = None
    sendgrid_from_name: str | None = None
    sendgrid_webhook_public_key: str | None = None

    # --- SMTP
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_use_tls: bool = False  # implicit TLS (port 465)
    smtp_from: str | None = None

    @field_validator("messaging_timeout", "messaging_retry_delay", "messaging_cap_window",
                     "messaging_reconcile_after", "messaging_lease", "messaging_simulation_latency",
                     "messaging_simulation_receipt_delay")
    @classmethod
    def _valid_duration(cls, value: str, info: ValidationInfo) -> str:
        _duration(value, info.field_name or "duration")
        return value

    @field_validator("messaging_unknown_outcome")
    @classmethod
    def _policy(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in UNKNOWN_OUTCOME_POLICIES:
            raise ValueError("MESSAGING_UNKNOWN_OUTCOME must be fail (at most once) or resend (at least once)")
        return value

    @field_validator("smsportal_api_url", "sendgrid_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    # durations as timedelta / seconds
    @property
    def timeout(self) -> float:
        return max(0.001, _duration(self.messaging_timeout, "messaging_timeout").total_seconds())

    @property
    def retry_delay(self) -> float:
        return _duration(self.messaging_retry_delay, "messaging_retry_delay").total_seconds()

    @property
    def cap_window(self) -> timedelta:
        return _duration(self.messaging_cap_window, "messaging_cap_window")

    @property
    def reconcile_after(self) -> timedelta:
        return _duration(self.messaging_reconcile_after, "messaging_reconcile_after")

    @property
    def lease(self) -> timedelta:
        return _duration(self.messaging_lease, "messaging_lease")

    @property
    def simulation_latency(self) -> float:
        return _duration(self.messaging_simulation_latency, "messaging_simulation_latency").total_seconds()

    @property
    def simulation_receipt_delay(self) -> float:
        return _duration(self.messaging_simulation_receipt_delay,
                         "messaging_simulation_receipt_delay").total_seconds()


# ------------------------------------------------------------------ partner webhooks

TRUE = {"1", "true", "yes", "on"}


def _clamped_int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return max(lo, min(hi, number))


class WebhooksSettings(_Section):
    """ARREARS_WEBHOOKS_*: outbound partner webhooks. Lenient as they always were: a value that
    is not understood means the default."""

    arrears_webhooks_allow_private: str = ""
    arrears_webhooks_concurrency: str | None = None

    @property
    def allow_private(self) -> bool:
        """Webhooks may reach loopback and private networks (development and tests); off by default."""
        return self.arrears_webhooks_allow_private.strip().lower() in TRUE

    @property
    def concurrency(self) -> int:
        """Webhook requests in flight per worker process (default 64, 1…1024)."""
        return _clamped_int(self.arrears_webhooks_concurrency, 64, 1, 1024)


# ------------------------------------------------------------------ limits

class LimitsSettings(_Section):
    """Deployment-wide limits and test hooks of long-running work."""

    # Tests only: seconds to wait after each import batch, to make an import slow enough to kill.
    arrears_import_throttle: float = 0.0
    # Rows a debtor-book import reads, stores and reports per batch (memory against round trips).
    arrears_import_batch_rows: int = Field(5000, ge=1, le=1_000_000)

    @field_validator("arrears_import_throttle", mode="before")
    @classmethod
    def _empty_is_zero(cls, value: object) -> object:
        return value or 0.0

    @property
    def import_throttle(self) -> float:
        return self.arrears_import_throttle

    @property
    def import_batch_rows(self) -> int:
        return self.arrears_import_batch_rows

    # Accounts per transaction of a strategy run (arrears.strategies.runner), and (tests only)
    # seconds to wait after each chunk, to make a run slow enough to kill.
    arrears_strategy_chunk: int = Field(5000, ge=1, le=1_000_000)
    arrears_strategy_throttle: float = Field(0.0, ge=0)

    @field_validator("arrears_strategy_chunk", "arrears_strategy_throttle", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object, info: ValidationInfo) -> object:
        return cls.model_fields[str(info.field_name)].default if value in (None, "") else value

    # --- request bodies (arrears.faces.bodylimit), refused past these before they are read whole
    arrears_json_max_bytes: int = Field(default=1024 * 1024, ge=1024)  # any body a route takes
    arrears_selection_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)  # id selections

    # --- sign-in (arrears.identity.logins)
    arrears_username_max_length: int = Field(default=150, ge=1, le=10_000)
    arrears_password_max_length: int = Field(default=1024, ge=8, le=100_000)
    arrears_login_fails_per_user: str = "10/15 minutes"  # per (username, address) pair
    arrears_login_fails_per_address: str = "100/15 minutes"
    # Sign-in counters kept in memory (no Redis, or while it is away): the oldest past this go.
    arrears_login_max_tracked: int = Field(default=10_000, ge=100, le=10_000_000)
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated IPs or CIDRs.
    arrears_trusted_proxies: str = ""

    @field_validator("arrears_login_fails_per_user", "arrears_login_fails_per_address")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        parse(value)  # "10/15 minutes"; a typo fails at start, not at the first sign-in
        return value

    @field_validator("arrears_trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ip_network(part.strip(), strict=False)  # ValueError names the bad entry
        return value

    @property
    def trusted_proxies(self) -> list[IPv4Network | IPv6Network]:
        return [ip_network(part.strip(), strict=False)
                for part in self.arrears_trusted_proxies.split(",") if part.strip()]


# ------------------------------------------------------------------ the premium face


class PremiumSettings(_Section):
    """The premium face's limits (shared/specs/premium-collection-api.md gives the defaults):
    requests per hour per API key (a key's own override still wins), and the WebSocket's
    seconds to authenticate and between pings."""

    arrears_premium_rate_limit: int = Field(1000, ge=1)
    arrears_premium_bulk_rate_limit: int = Field(100, ge=1)
    arrears_ws_auth_timeout: float = Field(10.0, gt=0)
    arrears_ws_ping_interval: float = Field(25.0, gt=0)

    @property
    def standard_rate(self) -> int:
        return self.arrears_premium_rate_limit

    @property
    def bulk_rate(self) -> int:
        return self.arrears_premium_bulk_rate_limit

    @property
    def ws_auth_timeout(self) -> float:
        return self.arrears_ws_auth_timeout

    @property
    def ws_ping_interval(self) -> float:
        return self.arrears_ws_ping_interval


# ------------------------------------------------------------------ password hashing


class PasswordsSettings(_Section):
    """ARREARS_PASSWORD_*: Argon2id's cost (defaults: argon2-cffi's, RFC 9106's low-memory
    profile). Raise them on a host that can afford it; hashes made with other costs still verify."""

    arrears_password_time_cost: int = Field(3, ge=1)
    arrears_password_memory_kib: int = Field(65536, ge=8)
    arrears_password_parallelism: int = Field(4, ge=1)

    @property
    def cost(self) -> tuple[int, int, int]:
        """(time cost, memory in KiB, parallelism)."""
        return (self.arrears_password_time_cost, self.arrears_password_memory_kib,
                self.arrears_password_parallelism)


# ------------------------------------------------------------------ database, uploads


class DatabaseSettings(_Section):
    """DATABASE_URL, or the premium spec's DB_* (whatever is left out takes the spec's default)."""

    database_url: str | None = None
    db_host: str | None = None
    db_port: int | None = None
    db_name: str | None = None
    db_user: str | None = None
    db_password: str | None = None

    def async_url(self, data_dir: Path) -> str:
        """The SQLAlchemy async URL; a plain `postgresql://` URL works as the specs write it.
        Nothing set: SQLite in the data directory."""
        url = self.database_url
        if not url and any(v is not None for v in (self.db_host, self.db_port, self.db_name,
                                                    self.db_user, self.db_password)):
            user = quote(self.db_user or "postgres", safe="")
            pw = f":{quote(self.db_password, safe='')}" if self.db_password else ""
            url = (f"postgresql://{user}{pw}@{self.db_host or 'localhost'}:{self.db_port or 5432}/"
                   f"{self.db_name or 'premium_collection'}")
        if not url:
            return f"sqlite+aiosqlite:///{(data_dir / 'arrears.db').as_posix()}"
        return to_async_url(url)


class UploadsSettings(_Section):
    """UPLOAD_DIR (relative: under the data directory) and UPLOAD_MAX_SIZE (bytes)."""

    upload_dir: Path = Path("uploads")
    upload_max_size: int = Field(default=50 * 1024 * 1024)

    @property
    def max_size(self) -> int:
        return self.upload_max_size

    def path(self, data_dir: Path) -> Path:
        return self.upload_dir if self.upload_dir.is_absolute() else data_dir / self.upload_dir


# ------------------------------------------------------------------ parsing untrusted files


class ParseSettings(BaseSettings):
    """ARREARS_PARSE_*: hard limits of the parser's child process (arrears.sandbox), and the
    pre-checks' thresholds. The child process reads the same section from its environment."""

    model_config = SettingsConfigDict(env_prefix="ARREARS_PARSE_", env_file=None, extra="ignore",
                                      case_sensitive=False, frozen=True)

    # Address space (RLIMIT_AS) a parse may add to the child's own start-up mappings.
    memory_mb: int = Field(1024, ge=64)
    # CPU seconds (RLIMIT_CPU) of one parse; the kernel stops the child past it.
    cpu_seconds: int = Field(120, ge=1)
    # Wall-clock seconds of one parse; the parent kills the child past it.
    wall_seconds: float = Field(300.0, gt=0)
    # A sheet whose used range (rows x columns) is larger is not given to python-calamine, which
    # allocates the whole range: .xlsx/.xlsm are streamed instead, other formats refused.
    max_cells: int = Field(10_000_000, ge=1_000)
    # Zip containers (xlsx, xlsm, xlsb, ods): members' total inflated size, and a member's
    # inflated / compressed ratio (members above 1 MiB only).
    max_inflated_mb: int = Field(512, ge=1)
    max_zip_ratio: int = Field(100, ge=2)
    # Longest line of a CSV/text file.
    max_line_kb: int = Field(1024, ge=1)
    # Pages of a PDF.
    max_pdf_pages: int = Field(5000, ge=1)
    # Child processes kept for parsing (each serves one parse at a time).
    workers: int = Field(2, ge=1, le=16)

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb << 20


# ------------------------------------------------------------------ the tree


class Settings(BaseSettings):
    """Every setting, and the only reader of the environment. The process-wide values are read
    once (`get_settings()`, reset with `reset_settings()`); the sections below are read again at
    each use, as they always were, so that an operator's or a test's change is seen at once.

    Sections read at each use: `messaging` (MESSAGING_* and the providers'), `webhooks`
    (ARREARS_WEBHOOKS_*), `limits`. Sections read once with the tree: `database` (DATABASE_URL,
    DB_*), `uploads` (UPLOAD_DIR, UPLOAD_MAX_SIZE), `parse` (ARREARS_PARSE_*), `passwords`
    (ARREARS_PASSWORD_*), `premium` (ARREARS_PREMIUM_*, ARREARS_WS_*). A new section is one
    more `_Section` class and one more property here."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    redis_url: str | None = None
    arrears_data_dir: Path = Path("data")
    secret_key: str | None = None
    arrears_cors_origins: str = ""
    arrears_open_registration: bool = True
    arrears_default_org_name: str = "Default organisation"
    arrears_log_level: str = "INFO"
    # When set, GET /metrics needs `Authorization: Bearer <token>` (set it in production).
    arrears_metrics_token: str | None = None

    access_token_minutes: int = 60
    refresh_token_days: int = 7

    @field_validator("arrears_cors_origins")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    # ---------------------------------------------------------------- sections

    @property
    def messaging(self) -> MessagingSettings:
        return MessagingSettings()

    @property
    def webhooks(self) -> WebhooksSettings:
        return WebhooksSettings()

    @property
    def limits(self) -> LimitsSettings:
        return LimitsSettings()

    # Read once with the rest of the tree (as they always were): a process's database, upload
    # folder and parse limits do not change under it. Built at once, so that a bad value fails
    # where the tree is read, as it did when these were fields of the tree itself.

    def model_post_init(self, context: object, /) -> None:
        _ = self.database, self.uploads, self.parse, self.passwords, self.premium

    @cached_property
    def database(self) -> DatabaseSettings:
        return DatabaseSettings()

    @cached_property
    def uploads(self) -> UploadsSettings:
        return UploadsSettings()

    @cached_property
    def parse(self) -> ParseSettings:
        return ParseSettings()

    @cached_property
    def passwords(self) -> PasswordsSettings:
        return PasswordsSettings()

    @cached_property
    def premium(self) -> PremiumSettings:
        return PremiumSettings()

    # ---------------------------------------------------------------- derived values

    @property
    def data_dir(self) -> Path:
        return self.arrears_data_dir

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.arrears_cors_origins.split(",") if o.strip()]

    @property
    def uploads_path(self) -> Path:
        return self.uploads.path(self.data_dir)

    @property
    def upload_max_size(self) -> int:
        return self.uploads.max_size

    @property
    def async_database_url(self) -> str:
        """The SQLAlchemy async URL (see DatabaseSettings.async_url)."""
        return self.database.async_url(self.data_dir)

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
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        value = secrets.token_urlsafe(48)
        # Write-then-rename so two processes starting together agree on one secret.
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        tmp.touch(mode=0o600)  # private before the secret is in it
        tmp.chmod(0o600)
        tmp.write_text(value)
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
