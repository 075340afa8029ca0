"""The letters domain's error codes (a template's INVALID_TEMPLATE and TEMPLATE_NAME_TAKEN are
messaging's: one code, one enum)."""

from __future__ import annotations

from enum import StrEnum


class LetterErrorCode(StrEnum):
    INVALID_LOGO = "INVALID_LOGO"
    BUILTIN_READ_ONLY = "BUILTIN_READ_ONLY"
