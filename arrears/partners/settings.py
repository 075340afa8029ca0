"""The partner platform's own settings, read from the environment each time they are needed."""

from __future__ import annotations

import os

TRUE = {"1", "true", "yes", "on"}


def allow_private_webhooks() -> bool:
    """ARREARS_WEBHOOKS_ALLOW_PRIVATE=true lets webhooks reach loopback and private networks
    (development and tests); off by default."""
    return os.environ.get("ARREARS_WEBHOOKS_ALLOW_PRIVATE", "").strip().lower() in TRUE


def _int(name: str, default: int, lo: int, hi: int) -> int:
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        return default
    return max(lo, min(hi, value))


def delivery_concurrency() -> int:
    """ARREARS_WEBHOOKS_CONCURRENCY: webhook requests in flight per worker process (default 64)."""
    return _int("ARREARS_WEBHOOKS_CONCURRENCY", 64, 1, 1024)
