"""Fixtures of the messaging face tests (the shared ones live in helpers.py)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from arrears.identity import crypto
from tests.faces.messaging.helpers import (  # noqa: F401
    gateway,
    live,
    quick,
    sendgrid,
    smsportal,
    smtp_server,
)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
