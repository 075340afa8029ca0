"""The tests here make policies through the premium webhooks: their log lines go to each test's
own database before it goes away (as in tests/faces/premium)."""

from __future__ import annotations

from tests.fixtures import flush_webhook_log  # noqa: F401


