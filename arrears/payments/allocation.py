"""Allocation of payments, as pure functions (no database).

A book account's payments go to its oldest bucket first (d180 → d150 → … → d30 → current); what is
left after every bucket is paid is a credit (a negative `current`). A loan's payments fill its
level monthly instalments in date order (arrears.accounts.ageing's schedule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol, TypeVar


class _Owed(Protocol):
    @property
    def amount(self) -> Decimal: ...


Owed = TypeVar("Owed", bound=_Owed)

ZERO = Decimal("0.00")
# Oldest first: the order payments pay buckets off.
OLDEST_FIRST = ("d180", "d150", "d120", "d90", "d60", "d30", "current")


def allocate_buckets(buckets: Mapping[str, Decimal | None], paid: Decimal) -> dict[str, Decimal]:
    """The buckets net of `paid`, oldest paid first. A negative bucket (a credit on the report)
    is left as it is; a payment larger than what is owed leaves `current` negative."""
    out = {name: (buckets.get(name) or ZERO) for name in OLDEST_FIRST}
    left = paid
    for name in OLDEST_FIRST:
        if left <= 0:
            break
        owed = out[name]
        if owed > 0:
            take = min(owed, left)
            out[name] = owed - take
            left -= take
    if left > 0:
        out["current"] -= left
    return out


def fill_instalments(schedule: Sequence[Owed], paid: Decimal) -> list[tuple[Owed, Decimal]]:
    """Each instalment with what `paid` covers of it, earliest first (a loan's schedule, a promise's
    plan)."""
    out = []
    left = paid
    for item in schedule:
        take = min(item.amount, max(left, ZERO))
        out.append((item, take))
        left -= take
    return out
