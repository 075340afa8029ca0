"""The ACB record layout, written once as data and used both to write and to parse records.

Every record is 180 characters. A :class:`Field` says where a value lives (1-based ``start``,
``width``), whether the field is numeric (right-justified, zero-filled) or alphanumeric
(left-justified, space-filled), and which Python value it carries:

* ``Value.INT``: a non-negative integer (amounts in cents, counts, account numbers, sequence
  numbers). Written zero-filled; parsed with ``int``.
* ``Value.DIGITS``: a code that is all digits of exactly ``width`` (branch codes, entry class,
  homing institution). Kept as a string so leading zeros mean something (``051001``).
* ``Value.DATE``: ``YYMMDD``; parsed into the years 2000-2099.
* ``Value.TEXT``: printable ASCII (0x20-0x7E). Written left-justified; parsed with trailing
  spaces removed.

Constant fields (the record identifier, fillers) are written from the layout and are not part of
the value dictionaries. :func:`write_record` is strict: a missing or unknown field, a value too
wide for its field, or a character outside printable ASCII raises :class:`AcbFormatError`;
nothing is truncated silently (callers that may shorten, such as account names, do so
explicitly before writing). See :mod:`arrears.premiums.acb` for what each record holds.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from arrears.premiums.acb.errors import AcbFormatError

RECORD_LENGTH = 180
_DIGITS = frozenset("0123456789")


class Kind(enum.StrEnum):
    NUMERIC = "N"
    ALPHA = "A"


class Justify(enum.StrEnum):
    LEFT = "left"
    RIGHT = "right"


class Value(enum.StrEnum):
    INT = "int"
    DIGITS = "digits"
    DATE = "date"
    TEXT = "text"


class RecordType(enum.StrEnum):
    INSTALLATION_HEADER = "installation_header"
    USER_HEADER = "user_header"
    STANDARD_TRANSACTION = "standard_transaction"
    CONTRA = "contra"
    UNPAID = "unpaid"
    USER_TRAILER = "user_trailer"
    INSTALLATION_TRAILER = "installation_trailer"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    start: int
    width: int
    kind: Kind
    value: Value = Value.TEXT
    #: Written as is and never parsed into the values (record identifier, fillers).
    constant: str | None = None
    #: Used by write_record when the caller leaves the field out.
    default: Any = None
    #: Parse an all-blank numeric field as 0 (fields some banks leave blank when unused).
    blank_as_zero: bool = False
    justify: Justify = field(init=False)
    pad: str = field(init=False)

    def __post_init__(self) -> None:
        numeric = self.kind is Kind.NUMERIC
        object.__setattr__(self, "justify", Justify.RIGHT if numeric else Justify.LEFT)
        object.__setattr__(self, "pad", "0" if numeric else " ")
        if self.constant is not None and len(self.constant) != self.width:
            raise ValueError(f"{self.name}: constant {self.constant!r} is not {self.width} wide")
        if numeric and self.value is Value.TEXT:
            raise ValueError(f"{self.name}: numeric fields carry INT, DIGITS or DATE values")
        if not numeric and self.value is not Value.TEXT:
            raise ValueError(f"{self.name}: alpha fields carry TEXT values")
        if self.value is Value.DATE and self.width != 6:
            raise ValueError(f"{self.name}: dates are 6 wide (YYMMDD)")

    @property
    def end(self) -> int:
        """1-based position of the last character."""
        return self.start + self.width - 1

    @property
    def slice(self) -> slice:
        return slice(self.start - 1, self.end)


@dataclass(frozen=True, slots=True)
class RecordSpec:
    record_type: RecordType
    record_id: str
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        position = 1
        for f in self.fields:
            if f.start != position:
                raise ValueError(f"{self.record_type}: {f.name} starts at {f.start}, expected {position}")
            position = f.end + 1
        if position != RECORD_LENGTH + 1:
            raise ValueError(f"{self.record_type}: fields cover {position - 1} characters, not {RECORD_LENGTH}")
        first = self.fields[0]
        if first.name != "record_identifier" or first.constant != self.record_id:
            raise ValueError(f"{self.record_type}: the first field must be the record identifier")
        names = [f.name for f in self.fields if f.constant is None]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.record_type}: duplicate field names")

    @property
    def value_fields(self) -> tuple[Field, ...]:
        """The fields that carry values (everything but the record identifier and fillers)."""
        return tuple(f for f in self.fields if f.constant is None)

    def get_field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


# --- field helpers, to keep the tables below readable ------------------------------------------


def _id(record_id: str) -> Field:
    return Field("record_identifier", 1, 2, Kind.NUMERIC, Value.DIGITS, constant=record_id)


def _n(name: str, start: int, width: int, *, default: Any = None, blank_as_zero: bool = False) -> Field:
    return Field(name, start, width, Kind.NUMERIC, Value.INT, default=default, blank_as_zero=blank_as_zero)


def _code(name: str, start: int, width: int, *, default: str | None = None) -> Field:
    return Field(name, start, width, Kind.NUMERIC, Value.DIGITS, default=default)


def _date(name: str, start: int) -> Field:
    return Field(name, start, 6, Kind.NUMERIC, Value.DATE)


def _a(name: str, start: int, width: int, *, default: str | None = None) -> Field:
    return Field(name, start, width, Kind.ALPHA, Value.TEXT, default=default)


def _blank(start: int, width: int) -> Field:
    return Field(f"filler_{start}", start, width, Kind.ALPHA, Value.TEXT, constant=" " * width)


def _zeros(start: int, width: int) -> Field:
    return Field(f"filler_{start}", start, width, Kind.NUMERIC, Value.DIGITS, constant="0" * width)


# --- the layout ---------------------------------------------------------------------------------

_INSTALLATION_COMMON: tuple[Field, ...] = (
    _n("volume_number", 3, 4, default=1),
    _n("tape_serial_number", 7, 8, default=1),
    _a("installation_id_from", 15, 4),
    _a("installation_id_to", 19, 4, default="0021"),
    _date("creation_date", 23),
    _date("purge_date", 29),
    _n("installation_generation_number", 35, 4),
    _n("block_length", 39, 4, default=1800),
    _n("record_length", 43, 4, default=RECORD_LENGTH),
    _a("service", 47, 10, default="MAGTAPE"),
)

INSTALLATION_HEADER = RecordSpec(
    RecordType.INSTALLATION_HEADER,
    "02",
    (_id("02"), *_INSTALLATION_COMMON, _blank(57, 124)),
)

USER_HEADER = RecordSpec(
    RecordType.USER_HEADER,
    "04",
    (
        _id("04"),
        _a("user_code", 3, 4),
        _date("creation_date", 7),
        _date("purge_date", 13),
        _date("first_action_date", 19),
        _date("last_action_date", 25),
        _n("first_sequence_number", 31, 6),
        _n("user_generation_number", 37, 4),
        _a("type_of_service", 41, 10, default="TWO DAY"),
        _a("accepted_report", 51, 1, default="Y"),
        _a("account_type_correct", 52, 1, default="Y"),
        _blank(53, 128),
    ),
)

# Positions 3-100 are shared by the transaction records (standard, contra, unpaid).
_TRANSACTION_HEAD: tuple[Field, ...] = (
    _code("user_branch", 3, 6),
    _n("user_nominated_account", 9, 11),
    _a("user_code", 20, 4),
    _n("user_sequence_number", 24, 6),
    _code("homing_branch", 30, 6),
    _n("homing_account_number", 36, 11),
    _n("account_type", 47, 1),
    _n("amount", 48, 11),
    _date("action_date", 59),
    _code("entry_class", 65, 2),
)

STANDARD_TRANSACTION = RecordSpec(
    RecordType.STANDARD_TRANSACTION,
    "10",
    (
        _id("10"),
        *_TRANSACTION_HEAD,
        _n("tax_code", 67, 1, default=0),
        _zeros(68, 3),
        _a("user_reference", 71, 30),
        _a("homing_account_name", 101, 30),
        _n("non_standard_homing_account_number", 131, 20, default=0, blank_as_zero=True),
        _blank(151, 16),
        _code("homing_institution", 167, 2, default="21"),
        _blank(169, 12),
    ),
)

_CONTRA_DEFAULTS: dict[str, Any] = {"account_type": 1, "entry_class": "10"}

CONTRA = RecordSpec(
    RecordType.CONTRA,
    "12",
    (
        _id("12"),
        *(replace(f, default=_CONTRA_DEFAULTS[f.name]) if f.name in _CONTRA_DEFAULTS else f
          for f in _TRANSACTION_HEAD),
        _zeros(67, 4),
        _a("user_reference", 71, 30),
        _blank(101, 80),
    ),
)

# Arrears's unpaid record: the standard transaction as it was sent (positions 3-150), with the
# reason code and the date of the return in the standard record's filler (see the package doc).
UNPAID = RecordSpec(
    RecordType.UNPAID,
    "13",
    (
        _id("13"),
        *_TRANSACTION_HEAD,
        _n("tax_code", 67, 1, default=0),
        _zeros(68, 3),
        _a("user_reference", 71, 30),
        _a("homing_account_name", 101, 30),
        _n("non_standard_homing_account_number", 131, 20, default=0, blank_as_zero=True),
        _code("unpaid_reason_code", 151, 2),
        _date("unpaid_date", 153),
        _blank(159, 8),
        _code("homing_institution", 167, 2, default="21"),
        _blank(169, 12),
    ),
)

USER_TRAILER = RecordSpec(
    RecordType.USER_TRAILER,
    "92",
    (
        _id("92"),
        _a("user_code", 3, 4),
        _n("first_sequence_number", 7, 6),
        _n("last_sequence_number", 13, 6),
        _date("first_action_date", 19),
        _date("last_action_date", 25),
        _n("no_of_debit_records", 31, 6),
        _n("no_of_credit_records", 37, 6),
        _n("no_of_contra_records", 43, 6),
        _n("total_debit_value", 49, 12),
        _n("total_credit_value", 61, 12),
        _n("hash_total_of_homing_account_numbers", 73, 12),
        _blank(85, 96),
    ),
)

INSTALLATION_TRAILER = RecordSpec(
    RecordType.INSTALLATION_TRAILER,
    "94",
    (
        _id("94"),
        *_INSTALLATION_COMMON,
        _n("block_count", 57, 6),
        _n("record_count", 63, 6),
        _n("user_header_trailer_count", 69, 6),
        _blank(75, 106),
    ),
)

RECORD_SPECS: dict[RecordType, RecordSpec] = {
    spec.record_type: spec
    for spec in (
        INSTALLATION_HEADER,
        USER_HEADER,
        STANDARD_TRANSACTION,
        CONTRA,
        UNPAID,
        USER_TRAILER,
        INSTALLATION_TRAILER,
    )
}
SPECS_BY_ID: dict[str, RecordSpec] = {spec.record_id: spec for spec in RECORD_SPECS.values()}


# --- writing and parsing ------------------------------------------------------------------------


def _is_printable_ascii(text: str) -> bool:
    return all(" " <= ch <= "~" for ch in text)


def format_value(f: Field, value: Any) -> str:
    """The ``f.width`` characters that represent ``value`` in field ``f``."""
    match f.value:
        case Value.INT:
            if isinstance(value, bool) or not isinstance(value, int):
                raise AcbFormatError(f"expected an integer, got {value!r}", field=f.name)
            if value < 0:
                raise AcbFormatError(f"cannot be negative, got {value}", field=f.name)
            text = str(value)
        case Value.DIGITS:
            if not isinstance(value, str) or not value or not set(value) <= _DIGITS:
                raise AcbFormatError(f"expected a string of digits, got {value!r}", field=f.name)
            if len(value) != f.width:
                raise AcbFormatError(f"expected exactly {f.width} digits, got {value!r}", field=f.name)
            text = value
        case Value.DATE:
            if not isinstance(value, date):
                raise AcbFormatError(f"expected a date, got {value!r}", field=f.name)
            if not 2000 <= value.year <= 2099:
                raise AcbFormatError(f"year {value.year} cannot be written as YYMMDD", field=f.name)
            text = value.strftime("%y%m%d")
        case Value.TEXT:
            if not isinstance(value, str):
                raise AcbFormatError(f"expected text, got {value!r}", field=f.name)
            if not _is_printable_ascii(value):
                raise AcbFormatError(f"only printable ASCII is allowed, got {value!r}", field=f.name)
            text = value
    if len(text) > f.width:
        raise AcbFormatError(f"{text!r} is longer than {f.width} characters", field=f.name)
    return text.rjust(f.width, f.pad) if f.justify is Justify.RIGHT else text.ljust(f.width, f.pad)


def parse_value(f: Field, raw: str, *, line: int | None = None) -> Any:
    """The value of field ``f`` from its ``f.width`` characters ``raw``."""
    if f.kind is Kind.ALPHA:
        if not _is_printable_ascii(raw):
            raise AcbFormatError(f"non-printable or non-ASCII characters in {raw!r}", line=line, field=f.name)
        return raw.rstrip(" ")
    if f.blank_as_zero and raw.strip(" ") == "":
        return 0
    if not set(raw) <= _DIGITS:
        raise AcbFormatError(f"expected {f.width} digits, got {raw!r}", line=line, field=f.name)
    match f.value:
        case Value.INT:
            return int(raw)
        case Value.DIGITS:
            return raw
        case Value.DATE:
            try:
                return date(2000 + int(raw[0:2]), int(raw[2:4]), int(raw[4:6]))
            except ValueError:
                raise AcbFormatError(f"invalid date {raw!r} (YYMMDD)", line=line, field=f.name) from None
    raise AssertionError(f.value)  # pragma: no cover


def write_record(spec: RecordSpec, values: Mapping[str, Any]) -> str:
    """The 180-character record for ``values`` (field name -> value) laid out by ``spec``.

    Fields with a default may be left out; constant fields (record identifier, fillers) must be.
    """
    known = {f.name for f in spec.value_fields}
    unknown = sorted(set(values) - known)
    if unknown:
        raise AcbFormatError(f"unknown fields for {spec.record_type}: {', '.join(unknown)}")
    parts: list[str] = []
    for f in spec.fields:
        if f.constant is not None:
            parts.append(f.constant)
            continue
        if f.name in values:
            value = values[f.name]
        elif f.default is not None:
            value = f.default
        else:
            raise AcbFormatError(f"missing value for {spec.record_type}", field=f.name)
        parts.append(format_value(f, value))
    record = "".join(parts)
    assert len(record) == RECORD_LENGTH, (spec.record_type, len(record))
    return record


def parse_record(line: str, *, line_number: int | None = None) -> tuple[RecordType, dict[str, Any]]:
    """Identify a 180-character record by its first two characters and parse its value fields.

    Trailing line terminators are ignored; a record shorter than 180 characters is padded with
    spaces on the right (some systems strip trailing blanks), a longer one is an error. Constant
    fields are not checked: banks are not consistent about blanks versus zeros in fillers.
    """
    record = line.rstrip("\r\n")
    if len(record) > RECORD_LENGTH:
        raise AcbFormatError(f"record is {len(record)} characters long, expected {RECORD_LENGTH}", line=line_number)
    record = record.ljust(RECORD_LENGTH)
    spec = SPECS_BY_ID.get(record[0:2])
    if spec is None:
        raise AcbFormatError(f"unknown record identifier {record[0:2]!r}", line=line_number)
    values = {f.name: parse_value(f, record[f.slice], line=line_number) for f in spec.value_fields}
    return spec.record_type, values


def acb_text(text: str, width: int | None = None) -> str:
    """Free text (names) made safe for an alpha field: ASCII, upper case, single spaces.

    Accents are dropped (``Zoë Müller`` -> ``ZOE MULLER``, ``Straße`` -> ``STRASSE``), other
    characters outside printable ASCII become spaces, and runs of spaces become one. With ``width``, the result is cut to that many characters (and any space
    the cut leaves at the end is dropped, since a parser could not give it back).
    """
    decomposed = unicodedata.normalize("NFKD", text.upper())
    ascii_only = "".join(
        ch if " " <= ch <= "~" else " " for ch in decomposed if not unicodedata.combining(ch)
    )
    cleaned = " ".join(ascii_only.upper().split())
    return cleaned[:width].rstrip() if width is not None else cleaned
