"""The customers domain's error codes."""

from __future__ import annotations

from enum import StrEnum


class CustomerErrorCode(StrEnum):
    INVALID_FILE = "INVALID_FILE"  # a customers or loans CSV that cannot be imported
