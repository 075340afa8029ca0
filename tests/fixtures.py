"""Fixtures shared across test packages, each defined once here.

Both are autouse: importing one by name into a conftest or a test module turns it on there
(`from tests.fixtures import cheap_password_hashing  # noqa: F401`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest: these tests create users and sign in a lot; the hashing itself is
    tested with the real parameters elsewhere."""
    from argon2 import PasswordHasher

    from arrears.identity import crypto

    monkeypatch.setattr(crypto, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(autouse=True)
async def flush_webhook_log(env: Any) -> AsyncIterator[None]:
    """Each test's queued webhook log lines go to its own database, before that database goes away."""
    yield
    from arrears.premiums import webhook_log

    await webhook_log.flush()
