"""One header label read on its own: the key labels are compared by, and the days or months an
ageing label names ("31-60", "120+", "< 1 Month", "Older"). Which bucket a day label fills depends on
the whole header (headers.py): "1-30" beside "Current" is days past due."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_BUCKET_DAYS = 720
_TOKENS = re.compile(r"[a-z]+|\d+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_BUCKET_NOISE = frozenset(
    "days day d dys dy plus over older than and or more aged age above overdue od past due gt "
    "balance bal amount amt".split()
)
_MONTH_WORDS = frozenset({"month", "months", "mth", "mths", "mnth", "m"})


def _fold(text: str) -> str:
    """Lower case without accents: 'Télephone' -> 'telephone'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def header_key(text: str) -> str:
    """The form headers are compared in: 'Acc. No.' -> 'accno'."""
    if text.isascii():  # the common case, and 10x cheaper than Unicode folding
        return _NON_ALNUM.sub("", text.lower())
    return _NON_ALNUM.sub("", _fold(text))


def bucket_days(text: str) -> int | None:
    """The first day of the ageing bucket a header names, or None when it names none.

    '30 Days', 'Days 30', '30', '31-60', '30-59 Days' -> 30; '0-30' -> 0; '120+', 'Over 120',
    '121+' -> 120; '2 Months' -> 60. Buckets are 30 days wide and start at most at 720.
    """
    numbers: list[int] = []
    months = False
    for token in _TOKENS.findall(_fold(text)):
        if token.isdigit():
            numbers.append(int(token))
        elif token in _MONTH_WORDS:
            months = True
        elif token not in _BUCKET_NOISE:
            return None
    if months:
        numbers = [n * 30 for n in numbers]
    if len(numbers) == 1:
        start = numbers[0]
    elif len(numbers) == 2:
        start, end = numbers
    else:
        return None
    if start % 30 == 1:
        start -= 1  # "31-60", "121+": the bucket that starts at 30, at 120
    if start % 30 or start > MAX_BUCKET_DAYS:
        return None
    if len(numbers) == 2 and end - start not in (29, 30):
        return None  # "0-60" spans two buckets
    return start


@dataclass(frozen=True, slots=True)
class DayLabel:
    """A header naming days or months: '31-60', '120+', '< 1 Month', 'Older'."""

    start: int | None  # None: 'Older' (the bucket after the last one)
    end: int | None = None
    over: bool = False  # '120+', 'Over 90', '> 90', '91 and over'
    under: bool = False  # '< 1 Month', 'Less than 30'
    months: bool = False


_OVER_WORDS = frozenset({"over", "plus", "more", "above", "gt", "older"})
_UNDER_WORDS = frozenset({"less", "under", "within", "lt"})
_DAY_NOISE = _BUCKET_NOISE | _UNDER_WORDS | frozenset({"to", "from", "dpd"})
_OLDER = frozenset({"older", "olderthan", "olderbalance", "prior", "beyond"})


def day_label(text: str) -> DayLabel | None:
    key = header_key(text)
    if key in _OLDER:
        return DayLabel(None)
    numbers: list[int] = []
    months = over = under = False
    for token in _TOKENS.findall(_fold(text)):
        if token.isdigit():
            numbers.append(int(token))
        elif token in _MONTH_WORDS:
            months = True
        elif token not in _DAY_NOISE:
            return None
        over = over or token in _OVER_WORDS
        under = under or token in _UNDER_WORDS
    over = over or ">" in text or "+" in text
    under = under or "<" in text
    if len(numbers) == 1:
        return DayLabel(numbers[0], None, over, under, months)
    if len(numbers) == 2 and not months:
        return DayLabel(numbers[0], numbers[1])
    return None


def resolve_days(spec: DayLabel, past_due: bool, month_shift: bool, last: int) -> tuple[int | None, str]:
    """The first day of our bucket a day/month column fills, and why (None: it fills none)."""
    start = spec.start
    if start is None:
        return last + 30, f"older than the last bucket ({last} days)"
    if spec.months:
        days = 0 if spec.under and start == 1 else start * 30
        if spec.under and start != 1:
            return None, "a month range we cannot place"
        if month_shift:
            return days + 30, "months past due (the header has a Current column before '< 1 Month')"
        return days, "months since invoice"
    if spec.end is not None:
        if past_due and spec.end % 30 == 0 and spec.end - start in (29, 30):
            return spec.end, f"days past due {start}-{spec.end} (the header has a column starting at day 1)"
        first = start - 1 if start % 30 == 1 else start
        if first % 30 == 0 and spec.end - first in (29, 30):
            return first, f"days since invoice {start}-{spec.end}"
        return None, "a day range that spans more than one bucket"
    if spec.over:
        if past_due and start % 30 in (0, 1):
            return start - start % 30 + 30, f"over {start} days past due"
        first = start - 1 if start % 30 == 1 else start
        return (first, f"{first} days and older") if first % 30 == 0 else (None, "not a bucket boundary")
    if spec.under:
        return (start - 30, f"under {start} days") if start % 30 == 0 and start else (None, "not a bucket boundary")
    return (start, f"{start} days since invoice") if start % 30 == 0 else (None, "not a bucket boundary")


_GROUP_WORDS = frozenset({"ageing", "aging", "aged", "age", "days", "overdue", "past", "due", "analysis", "balances",
                          "outstanding", "period", "periods", "months", "in"})


def is_group_label(text: str) -> bool:
    """'Ageing (days)', 'Days overdue', 'Aged balances': a label over several bucket columns."""
    words = _TOKENS.findall(_fold(text))
    return bool(words) and all(w in _GROUP_WORDS for w in words)
