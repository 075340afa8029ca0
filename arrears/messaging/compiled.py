"""A template rendered for many accounts (a strategy run's thousands of SMS): split into its text
and placeholders once, and per account only the placeholders it uses worked out — the same text
as `templates.render_template` (tests/strategies/test_bulk_outbox.py compares them) — and the
segments of the result counted with a shortcut for plain GSM-7 text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from arrears.messaging.ageing import oldest_age_bracket, overdue_amount
from arrears.messaging.segments import GSM7_BASIC, LIMITS, count_segments
from arrears.messaging.templates import _PLACEHOLDER_RE, TemplateContext, format_amount

# Each placeholder as TemplateContext.placeholder_values prints it.
_VALUE: dict[str, Callable[[TemplateContext], str]] = {
    "CustomerName": lambda c: str(c.customer_name),
    "AccountCode": lambda c: str(c.account_code),
    "TotalBalance": lambda c: format_amount(c.total_balance),
    "Current": lambda c: format_amount(c.current),
    "30Days": lambda c: format_amount(c.d30),
    "60Days": lambda c: format_amount(c.d60),
    "90Days": lambda c: format_amount(c.d90),
    "120Days": lambda c: format_amount(c.buckets().d120_plus),
    "ContactPerson": lambda c: str(c.contact_person),
    "Telephone": lambda c: str(c.telephone),
    "OverdueAmount": lambda c: format_amount(c.overdue_amount if c.overdue_amount is not None
                                             else overdue_amount(c.buckets())),
    "OldestAgeBracket": lambda c: (c.oldest_age_bracket if c.oldest_age_bracket is not None
                                   else oldest_age_bracket(c.buckets())),
}


# The placeholders printed from one attribute each (no buckets involved).
SIMPLE = frozenset({"CustomerName", "AccountCode", "TotalBalance", "Current", "30Days", "60Days", "90Days",
                    "ContactPerson", "Telephone"})


class CompiledTemplate:
    def __init__(self, body: str) -> None:
        pieces = _PLACEHOLDER_RE.split(body)  # text, name, text, name, …, text
        self._pieces = pieces
        self._slots = [(i, _VALUE[pieces[i]]) for i in range(1, len(pieces), 2)]
        # Only SIMPLE placeholders: `render` reads nothing but those attributes, so any object
        # that has them (money as Decimal, text as str) will do in place of a TemplateContext.
        self.simple = set(pieces[1::2]) <= SIMPLE
        self.placeholders = frozenset(pieces[1::2])

    def bind(self, values: dict[str, Callable[[Any], str]]) -> Callable[[Any], str]:
        """A renderer of this template that prints each placeholder with `values[name](row)`
        rather than from a TemplateContext: a caller that reads its values straight from a row
        (the strategy run's selection) builds no context per message. `values` must give every
        placeholder of the template as _VALUE prints it."""
        pieces = self._pieces
        if len(pieces) == 1:
            text = pieces[0]
            return lambda row: text
        slots = [(i, values[pieces[i]]) for i in range(1, len(pieces), 2)]

        def render(row: Any) -> str:
            out = list(pieces)
            for i, value in slots:
                out[i] = value(row)
            return "".join(out)

        return render

    def render(self, ctx: Any) -> str:
        if not self._slots:
            return self._pieces[0]
        out = list(self._pieces)
        for i, value in self._slots:
            out[i] = value(ctx)
        return "".join(out)


_GSM_SINGLE, _GSM_MULTI = LIMITS["GSM-7"]


def segments(text: str) -> int:
    """count_segments(text).segments; text of the basic GSM-7 table alone (every character one
    septet) is counted by its length."""
    if GSM7_BASIC.issuperset(text):
        n = len(text)
        return 0 if n == 0 else 1 if n <= _GSM_SINGLE else math.ceil(n / _GSM_MULTI)
    return count_segments(text).segments
