"""The tests here make policies through the premium webhooks: their log lines go to each test's
own database before it goes away (as in tests/faces/premium)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
async def _write_queued_log_lines(env: Any) -> Any:
    yield
    from arrears.premiums import webhook_log

    await webhook_log.flush()
