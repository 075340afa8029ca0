"""The promises domain's error codes."""

from __future__ import annotations

from enum import StrEnum


class PromiseErrorCode(StrEnum):
    PROMISE_CLOSED = "PROMISE_CLOSED"
