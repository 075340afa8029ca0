"""Messaging settings: a section of the one settings tree (`arrears.config`).

`messaging_settings()` reads the MESSAGING_* variables (and the providers') at each call, as it
always did, so that a test (or an operator restarting a worker) that changes the environment is
seen at once. Durations are Go-style strings ("30s", "500ms") as the spec writes them; a bad value
fails loudly with the variable's name.

Organisation settings (encrypted where they are secrets) override the provider credentials per
tenant; see `arrears.messaging.providers.resolve`.
"""

from __future__ import annotations

from arrears.config import (
    DEFAULT_SENDGRID_URL,
    DEFAULT_SMSPORTAL_URL,
    UNKNOWN_OUTCOME_POLICIES,
    MessagingSettings,
    get_settings,
)

__all__ = ["DEFAULT_SENDGRID_URL", "DEFAULT_SMSPORTAL_URL", "UNKNOWN_OUTCOME_POLICIES",
           "MessagingSettings", "messaging_settings"]


def messaging_settings() -> MessagingSettings:
    return get_settings().messaging
