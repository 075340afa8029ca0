"""The partner spec's error codes. Partner bodies use the generic codes by status
(`arrears.errors.ErrorCode`), except a 500, which the spec names INTERNAL_SERVER_ERROR."""

from __future__ import annotations

from enum import StrEnum


class PartnerErrorCode(StrEnum):
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
