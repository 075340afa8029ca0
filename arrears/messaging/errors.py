"""The messaging domain's error codes: providers, delivery receipts, templates and sends. The
template problem codes name each problem in an INVALID_TEMPLATE error's details."""

from __future__ import annotations

from enum import StrEnum


class MessagingErrorCode(StrEnum):
    PROVIDER_NOT_CONFIGURED = "PROVIDER_NOT_CONFIGURED"
    INVALID_CHANNEL = "INVALID_CHANNEL"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    INVALID_ACCOUNTS = "INVALID_ACCOUNTS"
    MIXED_UPLOADS = "MIXED_UPLOADS"
    TEMPLATE_NAME_TAKEN = "TEMPLATE_NAME_TAKEN"
    INVALID_TEMPLATE = "INVALID_TEMPLATE"
    # Template problems
    TEMPLATE_EMPTY = "TEMPLATE_EMPTY"
    TEMPLATE_TOO_LONG = "TEMPLATE_TOO_LONG"
    MISSING_PLACEHOLDER = "MISSING_PLACEHOLDER"
    UNKNOWN_PLACEHOLDER = "UNKNOWN_PLACEHOLDER"
