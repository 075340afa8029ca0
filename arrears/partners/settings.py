"""The partner platform's settings: the `webhooks` section of the one settings tree
(`arrears.config`), read at each call so that a change of the environment is seen at once."""

from __future__ import annotations

from arrears.config import get_settings


def allow_private_webhooks() -> bool:
    """ARREARS_WEBHOOKS_ALLOW_PRIVATE=true lets webhooks reach loopback and private networks
    (development and tests); off by default."""
    return get_settings().webhooks.allow_private


def delivery_concurrency() -> int:
    """ARREARS_WEBHOOKS_CONCURRENCY: webhook requests in flight per worker process (default 64)."""
    return get_settings().webhooks.concurrency
