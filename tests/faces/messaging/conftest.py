"""Fixtures of the messaging face tests (the shared ones live in helpers.py)."""

from __future__ import annotations

from tests.faces.messaging.helpers import (  # noqa: F401
    gateway,
    live,
    quick,
    sendgrid,
    smsportal,
    smtp_server,
)


