"""The identity domain's error codes: signing in, tokens, API keys and inactive organisations."""

from __future__ import annotations

from enum import StrEnum


class IdentityErrorCode(StrEnum):
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    MISSING_CREDENTIALS = "MISSING_CREDENTIALS"
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    USER_INACTIVE = "USER_INACTIVE"
    INVALID_API_KEY = "INVALID_API_KEY"
    API_KEY_REVOKED = "API_KEY_REVOKED"
    API_KEY_EXPIRED = "API_KEY_EXPIRED"
    ORG_INACTIVE = "ORG_INACTIVE"
    ACCOUNT_WAITING = "ACCOUNT_WAITING"
    REGISTRATION_CLOSED = "REGISTRATION_CLOSED"
