"""SMS segments counted in SQL, for a template over many accounts at once (the strategy preview):
the same number as `count_segments(render_template(body, ctx))` (arrears.messaging.segments and
.templates), without rendering.

The rendered text is the template's static text plus the placeholders' values. The static text's
part is counted here in Python, once; each value's in SQL: its length, its GSM-7 extension
characters (they cost 2), whether it holds a character outside GSM-7 (then the whole message is
UCS-2) and, in UCS-2, its characters outside the BMP (a surrogate pair: 2 units) — unless the value
is plain (printable ASCII in GSM-7's basic set, no extension character: most names and codes),
which one test settles: its length, and zeros. Money placeholders print as `format_amount` does
(digits, thousands commas, two decimals: GSM-7, no extension), so only their length matters;
`[OldestAgeBracket]` is one of the bracket labels.

Exact for every text with no 2-unit character, and for every single-segment text. A concatenated
message with a 2-unit character is packed greedily (an escape or surrogate pair never straddles two
segments), which depends on where the pairs fall: there the expression is NULL and the caller
renders that message in Python. On SQLite (no regex) the tests are GLOB character classes; a value
with a character outside the BMP gives NULL there as well (SQLite cannot count them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    LargeBinary,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
)

from arrears.messaging.ageing import AGE_BRACKETS
from arrears.messaging.segments import GSM7_BASIC, GSM7_EXTENSION, LIMITS
from arrears.messaging.templates import _PLACEHOLDER_RE

TEXT_PLACEHOLDERS = ("CustomerName", "AccountCode", "ContactPerson", "Telephone")
AMOUNT_PLACEHOLDERS = ("TotalBalance", "Current", "30Days", "60Days", "90Days", "120Days", "OverdueAmount")
_ALL_GSM = sorted(GSM7_BASIC | GSM7_EXTENSION)
_ASTRAL_MIN, _ASTRAL_MAX = "\U00010000", "\U0010ffff"
_ASCII_NON_GSM = "[\x01-\x09\x0b\x0e-\x1f\x7f`]"
assert {chr(c) for c in range(1, 128)} - set(_ALL_GSM) == {chr(c) for c in [*range(1, 10), 11, *range(14, 32), 127, 96]}


@dataclass(frozen=True)
class SqlValues:
    """One account's placeholder values as SQL: text (any characters, NULL read as empty) and the
    money amounts (NULL read as zero), as arrears.messaging.templates.TemplateContext holds them."""

    customer_name: ColumnElement[Any]
    account_code: ColumnElement[Any]
    contact_person: ColumnElement[Any]
    telephone: ColumnElement[Any]
    total_balance: ColumnElement[Any]
    current: ColumnElement[Any]
    d30: ColumnElement[Any]
    d60: ColumnElement[Any]
    d90: ColumnElement[Any]
    d120: ColumnElement[Any]
    d150: ColumnElement[Any]
    d180: ColumnElement[Any]


def _pg_class(chars: list[str]) -> str:
    # In a PostgreSQL ARE bracket expression a backslash escapes; escape what is special there.
    return "".join("\\" + c if c in "\\]^-[" else c for c in chars)


def _glob_class(chars: list[str]) -> str:
    # A GLOB class has no escapes: `]` goes first, `-` last (both literal there).
    rest = [c for c in chars if c not in "]-"]
    return ("]" if "]" in chars else "") + "".join(rest) + ("-" if "-" in chars else "")


class _Dialect:
    """The few string tests the two engines spell differently."""

    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"

    def non_gsm(self, v: ColumnElement[Any]) -> ColumnElement[bool]:
        if self.pg:
            # Most values are ASCII (one byte a character): then only a backtick or a control
            # character other than \n, \r and \f leaves GSM-7 — a short class, checked fast.
            full = v.op("~", is_comparison=True)(literal("[^" + _pg_class(_ALL_GSM) + "]", String))
            ascii_out = v.op("~", is_comparison=True)(literal(_ASCII_NON_GSM, String))
            return case((self.byte_length(v) == func.length(v), ascii_out), else_=full)
        return v.op("GLOB", is_comparison=True)(literal("*[^" + _glob_class(_ALL_GSM) + "]*", String))

    def byte_length(self, v: ColumnElement[Any]) -> ColumnElement[int]:
        """UTF-8 bytes (SQLite before 3.43 has no octet_length)."""
        return func.octet_length(v) if self.pg else func.length(cast(v, LargeBinary))

    def extension_count(self, v: ColumnElement[Any]) -> ColumnElement[int]:
        if self.pg:
            return func.length(v) - func.length(func.translate(v, "".join(sorted(GSM7_EXTENSION)), ""))
        stripped = v
        for ch in sorted(GSM7_EXTENSION):
            stripped = func.replace(stripped, ch, "")
        return func.length(v) - func.length(stripped)

    def astral_count(self, v: ColumnElement[Any]) -> ColumnElement[int] | None:
        """Characters outside the BMP; None when the engine cannot count them (SQLite)."""
        if not self.pg:
            return None
        return func.length(v) - func.length(func.regexp_replace(v, "[\\U00010000-\\U0010FFFF]", "", "g"))

    def has_astral(self, v: ColumnElement[Any]) -> ColumnElement[bool]:
        return v.op("GLOB", is_comparison=True)(literal(f"*[{_ASTRAL_MIN}-{_ASTRAL_MAX}]*", String))

    def two_decimals(self, amount: ColumnElement[Any]) -> ColumnElement[Any]:
        """The amount as text with two decimals (rounded half away from zero on PostgreSQL's
        exact numerics; SQLite's money is a float a hair from its two decimals)."""
        if self.pg:
            return cast(func.round(amount, 2), String)
        return func.printf("%.2f", amount)


def amount_columns(amount: ColumnElement[Any], dialect: str) -> dict[str, ColumnElement[Any]]:
    """What `amount_length_of` needs of an amount, to select once in a stage of their own: the
    amount (an expression over joins: a flattened subquery writes it out wherever it is used) is
    worked out here once or twice, not once per comparison. PostgreSQL: the rounded amount's size
    and sign; SQLite: its text with two decimals."""
    d = _Dialect(dialect)
    if d.pg:
        rounded = func.round(func.coalesce(amount, 0), 2)
        return {"abs": func.abs(rounded), "neg": rounded < 0}
    return {"text": d.two_decimals(func.coalesce(amount, 0))}


def amount_length_of(cols: Mapping[str, ColumnElement[Any]], dialect: str) -> ColumnElement[int]:
    """len(format_amount(amount)) from `amount_columns`: "-1,234,567.89" — sign, digits, a comma
    per three, ".00"."""
    if _Dialect(dialect).pg:
        # Exact numerics: the integer digits of the rounded amount by comparison, without
        # printing it (amounts of 10**15 and more, which no book holds, are printed).
        size = cols["abs"]
        width = case(*[(size < 10 ** k, k) for k in range(1, 16)], else_=func.length(cast(size, String)) - 3)
        # width + (width - 1) // 3 commas, written with `width` once: (4 * width - 1) // 3
        return (width * 4 - 1) // 3 + 3 + case((cols["neg"], 1), else_=0)
    text = cols["text"]
    negative = case((and_(text.like("-%"), func.replace(func.replace(text, "-", ""), "0", "") != "."), 1), else_=0)
    digits = func.length(text) - 3 - case((text.like("-%"), 1), else_=0)
    return digits + (digits - 1) // 3 + 3 + negative


def amount_length(amount: ColumnElement[Any], dialect: str) -> ColumnElement[int]:
    """len(format_amount(amount)) in one expression (`amount_length_of(amount_columns(…))`)."""
    return amount_length_of(amount_columns(amount, dialect), dialect)


def _zero(v: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.coalesce(v, 0)


def placeholder_sql(values: SqlValues, dialect: str) -> tuple[dict[str, ColumnElement[Any]], dict[str, ColumnElement[int]],
                                                              dict[str, ColumnElement[Any]]]:
    """(text placeholders -> SQL text, label placeholders -> SQL length of what they print, money
    placeholders -> SQL amount: `amount_columns`/`amount_length_of` make its printed length)."""
    texts = {"CustomerName": values.customer_name, "AccountCode": values.account_code,
             "ContactPerson": values.contact_person, "Telephone": values.telephone}
    texts = {k: func.coalesce(v, "") for k, v in texts.items()}
    d120_plus = _zero(values.d120) + _zero(values.d150) + _zero(values.d180)
    overdue = _zero(values.d30) + _zero(values.d60) + _zero(values.d90) + d120_plus
    amounts = {"TotalBalance": values.total_balance, "Current": values.current, "30Days": values.d30,
               "60Days": values.d60, "90Days": values.d90, "120Days": d120_plus,
               "OverdueAmount": case((overdue > 0, overdue), else_=0)}
    lengths: dict[str, ColumnElement[int]] = {}
    # The oldest bracket holding a positive amount, else "Current" (ageing.oldest_age_bracket).
    labels = {b.key: b.label for b in AGE_BRACKETS}
    oldest = case((d120_plus > 0, len(labels["d120"])), (_zero(values.d90) > 0, len(labels["d90"])),
                  (_zero(values.d60) > 0, len(labels["d60"])), (_zero(values.d30) > 0, len(labels["d30"])),
                  else_=len(labels["current"]))
    lengths["OldestAgeBracket"] = oldest
    return texts, lengths, amounts


@dataclass(frozen=True)
class StaticText:
    """The template with its placeholders taken out: what every message of it shares."""

    text: str
    placeholders: tuple[str, ...]  # in order, repeated as often as written

    @classmethod
    def of(cls, body: str) -> StaticText:
        return cls(_PLACEHOLDER_RE.sub("", body), tuple(m.group(1) for m in _PLACEHOLDER_RE.finditer(body)))

    @property
    def gsm(self) -> bool:
        return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in self.text)

    @property
    def septets(self) -> int:
        return sum(2 if c in GSM7_EXTENSION else 1 for c in self.text)

    @property
    def extensions(self) -> int:
        return sum(1 for c in self.text if c in GSM7_EXTENSION)

    @property
    def units(self) -> int:
        return sum(2 if ord(c) > 0xFFFF else 1 for c in self.text)

    @property
    def astral(self) -> int:
        return sum(1 for c in self.text if ord(c) > 0xFFFF)


def _count(total: ColumnElement[int], single: int, multi: int, exact: ColumnElement[bool]) -> ColumnElement[Any]:
    return case((total == 0, 0), (total <= single, 1), (exact, (total + (multi - 1)) // multi),
                else_=literal(None, Integer))


# A value of only these characters (printable ASCII in GSM-7's basic set, not an extension
# character: most names and account codes) is one septet a character, in GSM-7, inside the BMP.
_PLAIN = [chr(c) for c in range(0x20, 0x7F) if chr(c) in GSM7_BASIC and chr(c) not in GSM7_EXTENSION]
assert "".join(_PLAIN) == "".join(chr(c) for c in range(0x20, 0x5B)) + "_" + "".join(chr(c) for c in range(0x61, 0x7B))
_PLAIN_PG = "^[ -Z_a-z]*$"
_NOT_PLAIN_GLOB = "*[^ -Z_a-z]*"


def _plain(v: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return v.op("~", is_comparison=True)(literal(_PLAIN_PG, String))
    return v.op("NOT GLOB", is_comparison=True)(literal(_NOT_PLAIN_GLOB, String))


def _amount_placeholders(static: StaticText) -> list[str]:
    return list(dict.fromkeys(p for p in static.placeholders if p in AMOUNT_PLACEHOLDERS))


def _text_placeholders(static: StaticText) -> list[str]:
    return list(dict.fromkeys(p for p in static.placeholders if p in TEXT_PLACEHOLDERS))


def value_columns(body: str, values: SqlValues, dialect: str) -> dict[str, ColumnElement[Any]]:
    """The first of two stages (columns to select once in a subquery): each text value (`t0`, …)
    and whether they are all plain (`t_plain`: see _PLAIN), each money placeholder's `amount_columns`
    (`m0_abs`, `m0_neg`, … or `m0_text`) and the label placeholders' printed length (`fixed_len`).
    `segment_parts_of` takes it from there."""
    static = StaticText.of(body)
    texts, lengths, amounts = placeholder_sql(values, dialect)
    fixed: ColumnElement[int] = literal(0, Integer)
    for p in static.placeholders:
        if p in lengths:
            fixed = fixed + lengths[p]
    cols: dict[str, ColumnElement[Any]] = {"fixed_len": fixed}
    for i, p in enumerate(_amount_placeholders(static)):
        cols.update({f"m{i}_{k}": c for k, c in amount_columns(amounts[p], dialect).items()})
    used = _text_placeholders(static)
    for i, p in enumerate(used):
        cols[f"t{i}"] = texts[p]
    if used:
        # One test of all the values written together (a pattern match is the dearest thing a row
        # costs here): in the usual row every value is plain; in the others each value is looked at.
        joined = texts[used[0]]
        for p in used[1:]:
            joined = joined + texts[p]
        cols["t_plain"] = _plain(joined, dialect)
    return cols


def segment_parts_of(body: str, cols: Mapping[str, ColumnElement[Any]], dialect: str) -> dict[str, ColumnElement[Any]]:
    """The second stage, from `value_columns`' columns: what `segments_of` needs, per row, as
    columns to select once in a subquery (each value's length, extension characters, characters
    outside the BMP, whether it leaves GSM-7); when all the values are plain, each one's are its
    length and zeros, without looking at its characters again (a plain value among others that are
    not is looked at: its counts come out zero)."""
    d = _Dialect(dialect)
    static = StaticText.of(body)
    # The money placeholders' printed lengths join the rest of the fixed length here, from the
    # first stage's amounts (each placeholder as often as it is written).
    lengths = {}
    for i, p in enumerate(_amount_placeholders(static)):
        prefix = f"m{i}_"
        lengths[p] = amount_length_of({k[len(prefix):]: c for k, c in cols.items() if k.startswith(prefix)}, dialect)
    fixed: ColumnElement[int] = cols["fixed_len"]
    for p in static.placeholders:
        if p in lengths:
            fixed = fixed + lengths[p]
    parts: dict[str, ColumnElement[Any]] = {"fixed_len": fixed}
    for i, _p in enumerate(_text_placeholders(static)):
        v, plain = cols[f"t{i}"], cols["t_plain"]
        parts[f"v{i}_len"] = func.length(v)
        parts[f"v{i}_ext"] = case((plain, 0), else_=d.extension_count(v))
        astral = d.astral_count(v)
        # Outside the BMP is outside GSM-7, and ASCII is inside the BMP: count only what may hold one.
        maybe = d.byte_length(v) != func.length(v)
        parts[f"v{i}_astral"] = case(
            (plain, 0), (maybe, astral if astral is not None else case((d.has_astral(v), -1), else_=0)), else_=0)
        parts[f"v{i}_non_gsm"] = case((plain, 0), (d.non_gsm(v), 1), else_=0)
    return parts


def segment_parts(body: str, values: SqlValues, dialect: str) -> dict[str, ColumnElement[Any]]:
    """Both stages in one (each column of the first written out where the second uses it)."""
    return segment_parts_of(body, value_columns(body, values, dialect), dialect)


def segments_of(body: str, parts: Mapping[str, ColumnElement[Any]]) -> ColumnElement[Any]:
    """The SMS segments of `body` from `segment_parts`' columns; NULL where only rendering can tell
    (see the module's text). An astral count of -1 means "some, not counted" (SQLite)."""
    static = StaticText.of(body)
    used = [p for p in static.placeholders if p in TEXT_PLACEHOLDERS]
    index = {p: i for i, p in enumerate(dict.fromkeys(used))}
    fixed = parts["fixed_len"]
    septets: ColumnElement[int] = literal(static.septets, Integer) + fixed
    extensions: ColumnElement[int] = literal(static.extensions, Integer)
    units: ColumnElement[int] = literal(static.units, Integer) + fixed
    astral: ColumnElement[int] = literal(static.astral, Integer)
    for p in used:
        i = index[p]
        septets = septets + parts[f"v{i}_len"] + parts[f"v{i}_ext"]
        extensions = extensions + parts[f"v{i}_ext"]
        units = units + parts[f"v{i}_len"] + parts[f"v{i}_astral"]
        astral = astral + parts[f"v{i}_astral"]
    uncounted = or_(false(), *[parts[f"v{i}_astral"] < 0 for i in index.values()])
    # GSM-7 unless the static text or a value has a character outside it.
    gsm: ColumnElement[bool] = literal(static.gsm)
    if static.gsm and index:
        gsm = and_(*[parts[f"v{i}_non_gsm"] == 0 for i in index.values()])
    g_single, g_multi = LIMITS["GSM-7"]
    u_single, u_multi = LIMITS["UCS-2"]
    ucs = case((uncounted, literal(None, Integer)), else_=_count(units, u_single, u_multi, astral == 0))
    return case((gsm, _count(septets, g_single, g_multi, extensions == 0)), else_=ucs)


def segments_sql(body: str, values: SqlValues, dialect: str) -> ColumnElement[Any]:
    """`segments_of(segment_parts(…))` in one expression (each part written out where it is used)."""
    return segments_of(body, segment_parts(body, values, dialect))
