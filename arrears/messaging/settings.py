"""Messaging settings from the environment (the AAMA spec's MESSAGING_* names, and the providers').

Read with `messaging_settings()`: cheap, never cached across calls, so a test (or an operator
restarting a worker) that changes the environment is seen at once. Durations are Go-style strings
("30s", "500ms") as the spec writes them; a bad value fails loudly with the variable's name.

Organisation settings (encrypted where they are secrets) override the provider credentials per
tenant; see `arrears.messaging.providers.resolve`.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from arrears.messaging.durations import parse_duration

DEFAULT_SMSPORTAL_URL = "https://rest.smsportal.com/v1"
DEFAULT_SENDGRID_URL = "https://api.sendgrid.com/v3"
UNKNOWN_OUTCOME_POLICIES = ("fail", "resend")


def _duration(value: str, name: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{name.upper()}: {exc}") from None


class MessagingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

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
    def _valid_duration(cls, value: str, info) -> str:  # type: ignore[no-untyped-def]
        _duration(value, info.field_name)
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


def messaging_settings() -> MessagingSettings:
    return MessagingSettings()
