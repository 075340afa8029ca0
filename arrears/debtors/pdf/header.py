"""Recognise the column header row of a debtors table and turn it into column positions.

Reports name their columns in many ways ("Acc No", "Account", "A/C"; "30 Days", "30", "31-60";
"180+", "Over 180", "180 Days+"; "Balance", "Total", "Amount Due"), so the header is read as
a sequence of words matched against small vocabularies, not against one fixed layout.
Columns that are not recognised stay as "other" columns: they still own their part of the
line, so the values under them never leak into a neighbour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from arrears.debtors.pdf.model import BUCKETS
from arrears.debtors.pdf.reader import Line, Word

ACC, NAME, EMAIL, PHONE, BALANCE, OTHER = "acc", "name", "email", "phone", "balance", "other"
ACC_NAME = "acc_name"  # one column holding the account and the name: "100234  DOE J MR"
# Header words closer than this many line heights belong to the same label.
LABEL_GAP = 0.7

_ACC_WORDS = frozenset({"acc", "account", "acct", "a/c", "accno", "acc#", "account#", "code", "acc.no", "no", "#",
                        "rekening", "rek"})
_PERSON_WORDS = frozenset({"debtor", "customer", "patient", "client", "member", "account", "acc", "acct"})
_ACC_SUFFIX = frozenset({"no", "number", "num", "nr", "#", "code", "id", "ref"})
_NAME_WORDS = frozenset({"name", "debtor", "customer", "patient", "client", "surname", "description", "details",
                         "naam"})
_EMAIL_WORDS = frozenset({"email", "e-mail", "mail", "emailaddress"})
_PHONE_WORDS = frozenset({"phone", "tel", "telephone", "cell", "cellphone", "mobile", "contact", "cellno", "telno"})
_BALANCE_WORDS = frozenset({"balance", "bal", "total", "outstanding", "due", "amount", "owing", "totals"})
_DAY_WORDS = frozenset({"days", "day", "dys", "d"})
# What may follow a bucket's number: "Days", "+", "Days+", "& over".
_BUCKET_SUFFIX = re.compile(r"(?:days?|dys|d)\+?|\+|over|plus|&|and|older")
_CURRENT_WORDS = frozenset({"current", "curr", "cur"})
_OVER_WORDS = frozenset({"and", "&", "over", "plus", "+"})
_ACC_NAME = re.compile(r"(?:acc(?:ount)?|a/c)/(?:name|patient|debtor|customer)")
# Day ranges and open ends are resolved once the whole header is known ("1 - 30" beside Current
# means days past due): "range:LOW:HIGH" and "over:DAYS" until then.
_RANGE_KIND, _OVER_KIND = "range:", "over:"

_NUMBER = re.compile(r"(?:>|\+|over)?(\d{1,3})(?:\+)?(?:days?|d)?(?:\+)?")
_RANGE = re.compile(r"(\d{1,3})[-\u2013](\d{1,3})(?:days?)?\+?")
# A header names at least one of these; data rows almost never do, so most lines stop here.
_HINT = re.compile(r"current|days|balance|total|outstanding|due|\d\+|over", re.IGNORECASE)


@dataclass(slots=True)
class Column:
    kind: str  # ACC, NAME, EMAIL, PHONE, BALANCE, OTHER or a bucket ("current", "d30" ... "d180")
    label: str
    x0: float
    x1: float

    @property
    def numeric(self) -> bool:
        return self.kind == BALANCE or self.kind in BUCKETS


def _norm(text: str) -> str:
    return text.lower().rstrip(":.").replace("\u2013", "-") or text


def _bucket_for_days(days: int) -> str | None:
    if days == 0:
        return "current"
    if days >= 180:
        return "d180"  # older buckets (210, 240, 365) are all "180+" for us
    if days % 30 == 0:
        return f"d{days}"
    return None


def _bucket_for_range(low: int, high: int) -> str | None:
    if low <= 1:
        return "current"  # 0-30 / 1-30: not yet overdue
    return _bucket_for_days(min(180, (low - 1) // 30 * 30)) if high > low else None


class _Tokens:
    def __init__(self, line: Line) -> None:
        self.words = line.words
        self.norm = [_norm(w.text) for w in line.words]
        self.gap = LABEL_GAP * line.height

    def adjacent(self, i: int) -> bool:
        return i + 1 < len(self.words) and self.words[i + 1].x0 - self.words[i].x1 < self.gap

    def next_in(self, i: int, vocab: frozenset[str]) -> bool:
        return self.adjacent(i) and self.norm[i + 1] in vocab


def _match(t: _Tokens, i: int) -> tuple[str, int] | None:
    """(kind, words consumed) for the label starting at word i, or None."""
    w = t.norm[i]
    if w in _CURRENT_WORDS:
        return "current", 1 + t.next_in(i, _DAY_WORDS)
    bucket, used = None, 0
    if m := _RANGE.fullmatch(w):
        bucket, used = f"{_RANGE_KIND}{m[1]}:{m[2]}", 1
    elif w in (">", "over", "+") and t.adjacent(i) and (m := _NUMBER.fullmatch(t.norm[i + 1])):
        bucket, used = _bucket_for_days(int(m[1])), 2
        if bucket is None:  # "> 90": more than 90 days
            bucket = f"{_OVER_KIND}{int(m[1]) + 1}"
    elif m := _NUMBER.fullmatch(w):
        if t.next_in(i, frozenset({"-"})) and t.adjacent(i + 1) and t.norm[i + 2].isdigit():
            bucket, used = f"{_RANGE_KIND}{m[1]}:{t.norm[i + 2]}", 3  # "31 - 60"
        else:
            bucket, used = _bucket_for_days(int(m[1])), 1
            if bucket is None and (w.endswith("+") or t.next_in(i, _OVER_WORDS)):
                bucket = f"{_OVER_KIND}{m[1]}"  # "91 and over", "91+"
    if used:
        if bucket is None:
            return None
        while t.adjacent(i + used - 1) and _BUCKET_SUFFIX.fullmatch(t.norm[i + used]):
            used += 1
        return bucket, used
    if w in _BALANCE_WORDS:
        used = 1
        while t.next_in(i + used - 1, _BALANCE_WORDS):
            used += 1
        return BALANCE, used
    if w in _PERSON_WORDS and t.next_in(i, frozenset({"name"})):
        return NAME, 2
    if w in _ACC_WORDS | _PERSON_WORDS and t.next_in(i, _ACC_SUFFIX):
        return ACC, 2
    if w == "account" and t.next_in(i, frozenset({"holder"})):
        return NAME, 2
    if _ACC_NAME.fullmatch(w) or (w in _ACC_WORDS and t.next_in(i, frozenset({"/", "&", "and"}))
                                  and t.next_in(i + 1, frozenset({"name", "patient", "debtor", "customer"}))):
        return ACC_NAME, 1 if "/" in w else 3  # "Account / Name": both in one column
    if w in _ACC_WORDS:
        return ACC, 1
    if w in _NAME_WORDS:
        return NAME, 1
    if w in _EMAIL_WORDS:
        return EMAIL, 1 + t.next_in(i, frozenset({"address", "addr"}))
    if w in _PHONE_WORDS:
        used = 1 + t.next_in(i, frozenset({"phone"}))
        return PHONE, used + t.next_in(i + used - 1, _ACC_SUFFIX)
    return None


def parse_header(line: Line) -> list[Column] | None:
    """The columns of a header line, left to right; None when the line is not a debtors table header."""
    if len(line.words) < 3 or _HINT.search(line.text) is None:
        return None  # cheap rejection: most lines of a report are not headers
    t = _Tokens(line)
    cols: list[Column] = []
    keywords = 0
    i = 0
    while i < len(t.words):
        found = _match(t, i)
        if found is None:
            word = t.words[i]
            prev = cols[-1] if cols else None
            if prev is not None and prev.kind == OTHER and word.x0 - prev.x1 < t.gap:
                prev.label, prev.x1 = f"{prev.label} {word.text}", word.x1
            else:
                cols.append(Column(OTHER, word.text, word.x0, word.x1))
            i += 1
            continue
        kind, used = found
        span: list[Word] = t.words[i: i + used]
        if any(not n.isdigit() for n in t.norm[i: i + used]):
            keywords += 1  # "Current", "30 Days", "Balance": words, not just numbers
        cols.append(Column(kind, " ".join(w.text for w in span), span[0].x0, span[-1].x1))
        i += used
    _resolve_days(cols)
    _merge_alternatives(cols)
    buckets = {c.kind for c in cols if c.kind in BUCKETS}
    amounts = sum(c.numeric for c in cols)
    if len(buckets) < 2 or amounts < 3 or keywords < 2:
        return None
    _demote_duplicates(cols)
    return cols


# The second row of a header printed over two rows ("Acc" over "No", "30" over "Days").
_SECOND_ROW = frozenset({"no", "number", "nr", "num", "#", "code", "ref", "name", "names", "holder", "details",
                         "days", "day", "dys", "d", "+", "&", "and", "over", "older", "overdue", "(days)", "due",
                         "amount", "balance", "outstanding", "address", "no.", "nommer"})


def continues_header(line: Line, header: Line) -> bool:
    """A line right under the header made only of the words a header's second row holds."""
    if header.bottom - line.top > 1.5 * line.height:
        return False
    return all(_norm(w.text) in _SECOND_ROW for w in line.words)


def _resolve_days(cols: list[Column]) -> None:
    """Day ranges to buckets. Beside a Current column, a range starting at day 1 says the ranges count
    days past due (1-30 -> d30, 31-60 -> d60, 91 and over -> d120); otherwise days since invoice
    (0-30 -> current, 31-60 -> d30)."""
    ranges = [c for c in cols if c.kind.startswith((_RANGE_KIND, _OVER_KIND))]
    if not ranges:
        return
    past_due = any(c.kind == "current" for c in cols) and any(
        c.kind.startswith(_RANGE_KIND) and int(c.kind.split(":")[1]) == 1 for c in ranges)
    for c in ranges:
        parts = [int(n) for n in c.kind.split(":")[1:]]
        bucket: str | None
        if c.kind.startswith(_RANGE_KIND):
            low, high = parts
            if past_due:
                bucket = _bucket_for_days(min(180, -(-high // 30) * 30)) if high >= low else None
            else:
                bucket = _bucket_for_range(low, high)
        else:
            days = parts[0]
            bucket = _bucket_for_days(min(180, ((days - 1) // 30 + past_due) * 30)) if days > 0 else None
        c.kind = bucket or OTHER


def _merge_alternatives(cols: list[Column]) -> None:
    """'Naam / Name': one column named twice is one column, not a name and a stray 'other'."""
    i = 0
    while i + 2 < len(cols):
        a, sep, b = cols[i: i + 3]
        if a.kind == b.kind and a.kind not in BUCKETS and sep.kind == OTHER and sep.label in ("/", "|", "-"):
            a.label, a.x1 = f"{a.label} {sep.label} {b.label}", b.x1
            del cols[i + 1: i + 3]
        else:
            i += 1


def _demote_duplicates(cols: list[Column]) -> None:
    """One account, name, email, phone and balance column each; the best-named wins, the rest are 'other'."""
    for kind in (ACC, ACC_NAME, NAME, EMAIL, PHONE, BALANCE):
        same = [c for c in cols if c.kind == kind]
        if len(same) < 2:
            continue
        keep = same[0]
        if kind == BALANCE:  # "Total" and "Balance" both printed: the balance is the balance
            keep = next((c for c in same if "bal" in c.label.lower()), same[-1])
        for c in same:
            if c is not keep:
                c.kind = OTHER
