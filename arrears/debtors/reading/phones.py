"""Telephone numbers to international digits (27821234567), fast for the usual SA shapes.

`phonenumbers` decides validity. Parsing every cell with it costs tens of microseconds, so the
shapes that fill a South African debtor book (0821234567, 082 123 4567, +27 82 123 4567,
27821234567, 821234567 from a numeric cell that lost its 0) are checked against a regex built
from phonenumbers' own South African metadata: the fast path answers only when it can say
"valid", with the same digits phonenumbers would give; everything else goes to phonenumbers.
"""

from __future__ import annotations

import functools
import re
from itertools import compress, repeat
from operator import add, getitem, not_, truth

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from arrears.debtors.reading.values import to_text

DEFAULT_REGION = "ZA"
SA_COUNTRY_CODE = "27"
SA_NATIONAL_DIGITS = 9

PhoneResult = tuple[str | None, bool]

# Formatting people type inside a number; "+" is kept, it means the country code follows.
_FORMATTING = str.maketrans("", "", " ()-./\u00a0\u202f\u2009\t")
# Several numbers in one cell: "082 123 4567 / 011 555 1234", "0821234567; 0831234567".
_SEPARATORS = re.compile(r"\s*(?:/|;|,|&|\|)\s*|\s+or\s+", re.IGNORECASE)
_NON_DIGITS = re.compile(r"\D+")


def _sa_valid_pattern() -> re.Pattern[str]:
    """Every ZA national number of nine digits that phonenumbers.is_valid_number accepts.

    phonenumbers calls a number valid when it matches the region's general pattern and the
    pattern of at least one number type (fixed line, mobile, toll free, ...) whose possible
    lengths include the number's length. Same rule here, for length 9 only.
    """
    meta = phonenumbers.PhoneMetadata.metadata_for_region(DEFAULT_REGION)
    if meta is None or meta.general_desc is None:  # pragma: no cover - phonenumbers ships ZA
        raise RuntimeError("phonenumbers has no metadata for ZA")
    types = [
        meta.fixed_line, meta.mobile, meta.toll_free, meta.premium_rate, meta.shared_cost,
        meta.personal_number, meta.voip, meta.pager, meta.uan, meta.voicemail,
    ]  # fmt: skip
    alternatives = [
        desc.national_number_pattern
        for desc in types
        if desc is not None
        and desc.national_number_pattern
        and (not desc.possible_length or SA_NATIONAL_DIGITS in desc.possible_length)
    ]
    general = meta.general_desc.national_number_pattern
    return re.compile(rf"(?=(?:{general})\Z)(?:{'|'.join(f'(?:{a})' for a in alternatives)})")


_SA_VALID = _sa_valid_pattern()


def _mobile_national() -> str:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(DEFAULT_REGION)
    assert meta is not None and meta.mobile is not None
    pattern = meta.mobile.national_number_pattern
    assert pattern is not None  # ZA's metadata has a mobile pattern
    return pattern


_ZA_MOBILE = re.compile(_mobile_national())
# For a column at once (read_phones): a cell's text without formatting is one of read_phone's
# fast shapes when it is nine national digits after an optional prefix (0…, 27…, 0027…, +27…,
# +27 0…); the lookahead fixes the prefix by length, so the national part is the last nine
# characters. Mobile numbers are valid ones, so the (longer) validity pattern runs only on the rest.
_SA_PREFIX = r"(?:\+270|\+27|0027|27|0)?(?=[0-9]{9}\Z)"
_SA_MOBILE_SHAPE = re.compile(rf"{_SA_PREFIX}(?:{_mobile_national()})", re.ASCII)
_SA_VALID_SHAPE = re.compile(_SA_PREFIX + _SA_VALID.pattern, re.ASCII)
_NATIONAL = slice(-SA_NATIONAL_DIGITS, None)


def sms_reachable(telephone: str | None, valid: bool) -> bool:
    """A valid number that takes SMS: a South African mobile, or a foreign mobile number."""
    if not valid or not telephone:
        return False
    if telephone.startswith(SA_COUNTRY_CODE) and len(telephone) == 11:
        return _ZA_MOBILE.fullmatch(telephone[2:]) is not None
    try:
        number = phonenumbers.parse("+" + telephone)
    except NumberParseException:
        return False
    kind = phonenumbers.number_type(number)
    return kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def read_phones(texts: list[str]) -> tuple[list[str | None], list[bool], list[bool]]:
    """read_phones_with_second without the second numbers."""
    return read_phones_with_second(texts)[:3]


def read_phones_with_second(texts: list[str]
                            ) -> tuple[list[str | None], list[bool], list[bool], list[str | None]]:
    """read_phone for a column of cells already read as text (stripped): (digits with country
    code or None, valid, SMS-reachable) per cell. The usual SA shapes are recognised with C-level
    passes: the formatting dropped from the whole column at once, then one regex match per cell
    (a second only for cells that are not mobile numbers); every other cell goes through
    read_phone."""
    compact = "\n".join(texts).translate(_FORMATTING).split("\n")
    if len(compact) != len(texts):  # a cell with a line break: one at a time
        compact = [""] * len(texts)
    sms = list(map(truth, map(_SA_MOBILE_SHAPE.fullmatch, compact)))
    valid = sms[:]
    for index in compress(range(len(compact)), map(not_, sms)):
        valid[index] = _SA_VALID_SHAPE.fullmatch(compact[index]) is not None
    digits: list[str | None] = list(map(add, repeat(SA_COUNTRY_CODE), map(getitem, compact, repeat(_NATIONAL))))
    second: list[str | None] = [None] * len(texts)
    for index in compress(range(len(texts)), map(not_, valid)):  # blanks and the unusual shapes
        text = texts[index]
        if text:
            _, digits[index], valid[index], second[index] = read_phone_pair(text)
            sms[index] = sms_reachable(digits[index], valid[index])
        else:
            digits[index] = None
    return digits, valid, sms, second


def _sa_national(digits: str) -> str | None:
    """The nine national digits of an all-digit SA-looking number, or None for other shapes."""
    size = len(digits)
    if size == 10 and digits[0] == "0":
        return digits[1:]
    if size == 11 and digits.startswith(SA_COUNTRY_CODE):
        return digits[2:]
    if size == 9 and digits[0] != "0":
        return digits  # a numeric cell that dropped the leading 0
    if size == 13 and digits.startswith("0027"):
        return digits[4:]
    return None


def normalise_phone(value: object) -> PhoneResult:
    """(digits with country code, valid) for a telephone cell; (None, False) when it is blank.

    Numbers of other countries keep their own country code (+44 20 7946 0958 -> 442079460958).
    An invalid number keeps its digits as written, with valid False: the row is still imported,
    and messaging skips it.
    """
    return read_phone(value)[1:]


def read_phone(value: object) -> tuple[str, str | None, bool]:
    """(the cell as text, digits with country code or None, valid): normalise_phone plus the text
    it worked from, so that an import reads each telephone cell once."""
    return read_phone_pair(value)[:3]


def read_phone_pair(value: object) -> tuple[str, str | None, bool, str | None]:
    """read_phone and the cell's second number: of two numbers in one cell the first mobile one is
    the account's number and the other its second (international digits), else None."""
    text = value.strip() if value.__class__ is str else to_text(value)
    if not text:
        return text, None, False, None
    compact = text
    if not compact.isdigit():
        # str.replace for the usual formatting is several times cheaper than translate().
        compact = compact.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
        if not (compact.isdigit() or (compact[:1] == "+" and compact[1:].isdigit())):
            compact = compact.translate(_FORMATTING)
    if compact.isdigit() and compact.isascii():
        national = _sa_national(compact)
    elif compact.startswith("+27") and compact[1:].isdigit() and compact.isascii():
        national = compact[3:]
        if len(national) == 10 and national[0] == "0":
            national = national[1:]  # +27 (0)82 123 4567
    else:
        national = None
    if national is not None and len(national) == SA_NATIONAL_DIGITS and _SA_VALID.fullmatch(national):
        return text, SA_COUNTRY_CODE + national, True, None
    return (text, *_slow_pair(text))


def _slow_path(text: str) -> PhoneResult:
    return _slow_pair(text)[:2]


@functools.lru_cache(maxsize=4096)  # the same rubbish ("n/a", "0", "TBA") fills whole columns
def _slow_pair(text: str) -> tuple[str | None, bool, str | None]:
    parts = [part for part in _SEPARATORS.split(text) if part.strip()]
    if len(parts) > 1:
        found = [digits for digits in map(_valid_digits, parts) if digits is not None]
        if found:
            # The first mobile number is the one to message; the other is kept as the second.
            first = next((d for d in found if sms_reachable(d, True)), found[0])
            others = [d for d in found if d != first]
            return first, True, others[0] if others else None
    digits = _valid_digits(text)
    if digits is not None:
        return digits, True, None
    # Invalid: keep the digits as written (no guessed country code), for people to correct.
    written = _NON_DIGITS.sub("", parts[0] if parts else text)
    return (written or None), False, None


def _valid_digits(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164).lstrip("+")
