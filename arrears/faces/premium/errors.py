"""The premium face's error codes: the spec's names for the resolver's codes, `INVALID_STATUS` for
a bad status value, `CAPTIVE_INACTIVE` for an inactive organisation. Rendered by
`arrears.faces.errors` as `{"error": {"message", "code"}}`."""

from __future__ import annotations

from dataclasses import replace

from arrears.errors import ErrorCode
from arrears.faces.errors import CODE_MAPS, Problem
from arrears.identity.errors import IdentityErrorCode as Id
from arrears.premiums.errors import PremiumErrorCode as Pr
from arrears.premiums.schemas import code_for_fields

MISSING_KEY_MESSAGE = "Authorization header missing: send Authorization: Bearer pct_<your API key>"
INVALID_KEY_MESSAGE = "API key not found or invalid format"

# resolver / foundation code → (spec code, message to show instead, or None to keep it)
CODES: dict[str, tuple[str, str | None]] = {
    Id.MISSING_CREDENTIALS: (Pr.MISSING_API_KEY, MISSING_KEY_MESSAGE),
    Id.TOKEN_INVALID: (Id.INVALID_API_KEY, INVALID_KEY_MESSAGE),
    Id.TOKEN_EXPIRED: (Id.INVALID_API_KEY, INVALID_KEY_MESSAGE),
    Id.USER_INACTIVE: (Id.INVALID_API_KEY, INVALID_KEY_MESSAGE),
    Id.INVALID_API_KEY: (Id.INVALID_API_KEY, None),
    Id.API_KEY_REVOKED: (Id.API_KEY_REVOKED, None),
    Id.API_KEY_EXPIRED: (Id.API_KEY_EXPIRED, None),
    Id.ORG_INACTIVE: (Pr.CAPTIVE_INACTIVE, "Cell captive account is inactive"),
    ErrorCode.FORBIDDEN: (Pr.INSUFFICIENT_PERMISSIONS, None),
}


def premium_code(code: str, field_errors: dict[str, list[str]] | None = None) -> str:
    if code == ErrorCode.VALIDATION_ERROR and field_errors:
        return code_for_fields(field_errors)
    return CODES.get(code, (code, None))[0]


def premium_problem(p: Problem) -> Problem:
    if p.code == ErrorCode.VALIDATION_ERROR and p.field_errors:
        return replace(p, code=code_for_fields(p.field_errors))
    if p.code in CODES:
        code, message = CODES[p.code]
        return replace(p, code=code, message=message or p.message)
    return p


def install() -> None:
    CODE_MAPS["premium"] = premium_problem
