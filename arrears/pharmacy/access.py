"""Which pharmacy a request acts for: the path's pharmacy_id is an organisation the caller
belongs to, with read or write access there."""

from __future__ import annotations

from arrears.errors import NotFound
from arrears.identity.caller import Caller


def for_pharmacy(caller: Caller, pharmacy_id: int, *, write: bool = False) -> Caller:
    """The caller acting in that pharmacy; 404 for a pharmacy it does not belong to (never 403:
    another tenant's ids are not found), 403 when `write` is needed and it only reads there."""
    try:
        acting = caller.in_org(pharmacy_id)
    except NotFound:
        raise NotFound("Pharmacy not found") from None
    if write:
        acting.require_write()
    return acting
