"""Error codes of the debit-order face: the premium spec's names for refused permissions and
inactive captives; the resolver's 401 codes are kept (this face takes JWTs as well as keys)."""

from __future__ import annotations

from dataclasses import replace

from arrears.errors import ErrorCode
from arrears.faces.errors import CODE_MAPS, Problem
from arrears.identity.errors import IdentityErrorCode
from arrears.premiums.errors import PremiumErrorCode

FACE = "collections"
CODES: dict[str, str] = {ErrorCode.FORBIDDEN: PremiumErrorCode.INSUFFICIENT_PERMISSIONS,
                         IdentityErrorCode.ORG_INACTIVE: PremiumErrorCode.CAPTIVE_INACTIVE}


def problem(p: Problem) -> Problem:
    return replace(p, code=CODES[p.code]) if p.code in CODES else p


def install() -> None:
    CODE_MAPS[FACE] = problem
