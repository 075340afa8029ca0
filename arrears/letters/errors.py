"""The letters domain's error codes."""

from __future__ import annotations

from enum import StrEnum


class LetterErrorCode(StrEnum):
    INVALID_TEMPLATE = "INVALID_TEMPLATE"
    INVALID_LOGO = "INVALID_LOGO"
    BUILTIN_READ_ONLY = "BUILTIN_READ_ONLY"
    TEMPLATE_NAME_TAKEN = "TEMPLATE_NAME_TAKEN"
