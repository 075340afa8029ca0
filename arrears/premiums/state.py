"""The collection state machine, as a table (pure: no database).

    pending ──► submitted ──► successful
       │            │    └──► failed
       └────────────┴───────► cancelled

`successful`, `failed` and `cancelled` are final. A move that is not in `TRANSITIONS` (backwards,
skipping `submitted`, or out of a final state) raises `InvalidTransition` (409
`INVALID_STATUS_TRANSITION`) before anything changes; asking for the current status again is a
no-op, never an error.
"""

from __future__ import annotations

import enum

from arrears.errors import Conflict, ValidationFailed
from arrears.premiums.errors import PremiumErrorCode


class CollectionStatus(enum.StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = CollectionStatus

#: status → the statuses it may move to. Everything else is refused.
TRANSITIONS: dict[CollectionStatus, frozenset[CollectionStatus]] = {
    S.PENDING: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.SUCCESSFUL, S.FAILED, S.CANCELLED}),
    S.SUCCESSFUL: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}
FINAL: frozenset[CollectionStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
OPEN: frozenset[CollectionStatus] = frozenset(TRANSITIONS) - FINAL
STATUSES: tuple[str, ...] = tuple(s.value for s in CollectionStatus)


class PolicyStatus(enum.StrEnum):
    ACTIVE = "active"
    LAPSED = "lapsed"
    CANCELLED = "cancelled"


POLICY_STATUSES: tuple[str, ...] = tuple(s.value for s in PolicyStatus)
FREQUENCIES: tuple[str, ...] = ("monthly", "quarterly", "annually")


class InvalidStatus(ValidationFailed):
    code = PremiumErrorCode.INVALID_STATUS


class InvalidTransition(Conflict):
    code = PremiumErrorCode.INVALID_STATUS_TRANSITION


def parse_status(value: object) -> CollectionStatus:
    if isinstance(value, CollectionStatus):
        return value
    if isinstance(value, str):
        try:
            return CollectionStatus(value.strip().lower())
        except ValueError:
            pass
    raise InvalidStatus(f"Invalid status {value!r}; use one of {', '.join(STATUSES)}")


def is_final(status: str) -> bool:
    return CollectionStatus(status) in FINAL


def can_transition(current: str, target: str) -> bool:
    """True when `current → target` is an allowed move (a repeat of the current status is not a move)."""
    return CollectionStatus(target) in TRANSITIONS[CollectionStatus(current)]


def check_transition(current: str, target: str) -> bool:
    """True when the status must change, False for a harmless repeat; raises for a refused move."""
    cur, nxt = CollectionStatus(current), parse_status(target)
    if cur == nxt:
        return False
    if nxt in TRANSITIONS[cur]:
        return True
    if cur in FINAL:
        why = f"it is already {cur.value}, a final status"
    else:
        allowed = " or ".join(sorted(s.value for s in TRANSITIONS[cur]))
        why = f"from {cur.value} it can only move to {allowed}"
    raise InvalidTransition(f"Cannot move a collection from {cur.value} to {nxt.value}: {why}")
