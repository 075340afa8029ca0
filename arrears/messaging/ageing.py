"""Age brackets as messages speak of them: the overdue amount and the oldest bracket owed.

The AAMA spec shows five brackets (Current, 30, 60, 90, 120+ days). The debtor book keeps finer
buckets (up to d180); those older than 120 days fold into "120+ days" so that a message never
under-states what is owed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class AgeBracket:
    key: str  # attribute of AgeBuckets
    label: str  # as a message prints it ([OldestAgeBracket])
    days_range: str  # as the AAMA summary prints it


# Youngest first; the order is what "oldest" means.
AGE_BRACKETS: tuple[AgeBracket, ...] = (
    AgeBracket("current", "Current", "0 days"),
    AgeBracket("d30", "30 days", "30-59 days"),
    AgeBracket("d60", "60 days", "60-89 days"),
    AgeBracket("d90", "90 days", "90-119 days"),
    AgeBracket("d120", "120+ days", "120+ days"),
)
CURRENT_LABEL = AGE_BRACKETS[0].label


@dataclass(frozen=True, slots=True)
class AgeBuckets:
    current: Decimal = ZERO
    d30: Decimal = ZERO
    d60: Decimal = ZERO
    d90: Decimal = ZERO
    d120: Decimal = ZERO
    # Finer buckets some imports carry; counted inside 120+.
    d150: Decimal = ZERO
    d180: Decimal = ZERO

    @property
    def d120_plus(self) -> Decimal:
        return self.d120 + self.d150 + self.d180

    def bracket_amounts(self) -> tuple[Decimal, ...]:
        """Amounts in AGE_BRACKETS order, with 150/180 folded into 120+."""
        return (self.current, self.d30, self.d60, self.d90, self.d120_plus)


def overdue_amount(buckets: AgeBuckets) -> Decimal:
    """Everything past Current. Credits in old buckets offset debits, but never below zero:
    an account in credit owes nothing overdue."""
    total = sum(buckets.bracket_amounts()[1:], ZERO)
    return max(total, ZERO)


def oldest_age_bracket(buckets: AgeBuckets) -> str:
    """Label of the oldest bracket that holds a positive amount; "Current" when nothing older
    is owed. A negative (credit) amount is not a debt, so it never makes a bracket "oldest"."""
    for bracket, amount in zip(reversed(AGE_BRACKETS), reversed(buckets.bracket_amounts()), strict=True):
        if amount > 0:
            return bracket.label
    return CURRENT_LABEL


def oldest_days_range(buckets: AgeBuckets) -> str:
    """The same bracket written as a range ("90-119 days"), as the AAMA summary's oldest_bucket."""
    label = oldest_age_bracket(buckets)
    return next(b.days_range for b in AGE_BRACKETS if b.label == label)
