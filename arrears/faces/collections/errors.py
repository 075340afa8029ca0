"""Error codes of the debit-order face: the premium spec's names for refused permissions and
inactive captives; the resolver's 401 codes are kept (this face takes JWTs as well as keys)."""

from __future__ import annotations

from dataclasses import replace

from arrears.faces.errors import CODE_MAPS, Problem

FACE = "collections"
CODES = {"FORBIDDEN": "INSUFFICIENT_PERMISSIONS", "ORG_INACTIVE": "CAPTIVE_INACTIVE"}


def problem(p: Problem) -> Problem:
    return replace(p, code=CODES[p.code]) if p.code in CODES else p


def install() -> None:
    CODE_MAPS[FACE] = problem
