"""Telephone numbers and e-mail addresses of customers: validated with `phonenumbers` and
`email-validator`, never by hand.

A customer keeps the number as it was typed (`+91-9876543210`, shown back to people) and its
E.164 form (`+919876543210`, what messaging dials and what searches compare). Numbers written
without a country code are read in the organisation's region (`default_region` setting, ZA when
unset).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberFormat

DEFAULT_REGION = "ZA"
MAX_PHONE_LENGTH = 32
MAX_EMAIL_LENGTH = 254

INVALID_PHONE = "Enter a valid phone number."
INVALID_EMAIL = "Enter a valid email address."


@dataclass(frozen=True)
class Phone:
    display: str  # as given, trimmed
    e164: str  # +<country code><national number>

    @property
    def digits(self) -> str:
        """The E.164 number without its `+` (27821234567), the form SMS gateways take."""
        return self.e164.lstrip("+")


def region_or_default(region: object) -> str:
    """A region code phonenumbers knows (`za` → `ZA`), else the default."""
    if isinstance(region, str) and region.strip().upper() in phonenumbers.SUPPORTED_REGIONS:
        return region.strip().upper()
    return DEFAULT_REGION


def parse_phone(value: str, region: str = DEFAULT_REGION) -> Phone:
    """The number, validated; raises ValueError with a message for people when it is not one."""
    display = " ".join(value.split())
    if not display:
        raise ValueError(INVALID_PHONE)
    if len(display) > MAX_PHONE_LENGTH:
        raise ValueError(f"Ensure this field has no more than {MAX_PHONE_LENGTH} characters.")
    try:
        number = phonenumbers.parse(display, region)
    except NumberParseException as exc:
        raise ValueError(INVALID_PHONE) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(INVALID_PHONE)
    return Phone(display=display, e164=phonenumbers.format_number(number, PhoneNumberFormat.E164))


def try_parse_phone(value: str | None, region: str = DEFAULT_REGION) -> Phone | None:
    """Lenient: None for a blank or invalid number (imports keep the text and move on)."""
    if not value:
        return None
    try:
        return parse_phone(value, region)
    except ValueError:
        return None


def parse_email(value: str) -> str:
    """The normalised address (domain lower-cased); raises ValueError when it is not one."""
    text = value.strip()
    if len(text) > MAX_EMAIL_LENGTH:
        raise ValueError(f"Ensure this field has no more than {MAX_EMAIL_LENGTH} characters.")
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(INVALID_EMAIL) from exc
