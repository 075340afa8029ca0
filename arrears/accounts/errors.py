"""The accounts domain's error codes."""

from __future__ import annotations

from enum import StrEnum


class AccountErrorCode(StrEnum):
    STATUS_CHANGE_REFUSED = "STATUS_CHANGE_REFUSED"
