"""Fixtures shared across test packages, each defined once here.

Both are autouse: importing one by name into a conftest or a test module turns it on there
(`from tests.fixtures import flush_webhook_log  # noqa: F401`). `cheap_password_hashing` is on for
the whole suite (tests/conftest.py imports it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

CHEAP_PASSWORD_HASHING = {"ARREARS_PASSWORD_TIME_COST": "1", "ARREARS_PASSWORD_MEMORY_KIB": "1024",
                          "ARREARS_PASSWORD_PARALLELISM": "1"}


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest (through its settings, as an operator would), for every test: the
    tests create users and sign in a lot, and at the default cost each hash or sign-in took a
    tenth of a second of CPU or more (four threads of 64 MiB). The real parameters are tested
    where the hashing is (tests/foundation/test_config.py), which sets or clears these variables."""
    from arrears.config import reset_settings

    for name, value in CHEAP_PASSWORD_HASHING.items():
        monkeypatch.setenv(name, value)
    reset_settings()  # the application state builds the hasher again for the new cost


@pytest.fixture(autouse=True)
async def flush_webhook_log(env: Any) -> AsyncIterator[None]:
    """Each test's queued webhook log lines go to its own database, before that database goes away."""
    yield
    from arrears.premiums import webhook_log

    await webhook_log.flush()
