"""South African bank-detail validation for debit orders (pure: no database, no network).

Rules implemented here, and why:

* **Branch code**: exactly 6 digits (the universal/branch codes SA banks publish, e.g. ``051001``,
  ``250655``, ``632005``). ``000000`` is rejected. Spaces and hyphens used as visual separators
  (``051 001``, ``051-001``) are removed first; any other character is an error.
* **Account number**: digits only, 6 to 16 digits after removing spaces and hyphens. 6 is the
  shortest account number we accept (shorter numbers are almost always typing errors); 16 is the
  longest we can carry in an ACB file: up to 11 digits go in the ACB "homing account number"
  field, 12 to 16 digits go in the 20-character "non-standard homing account number" field.
  An all-zero number is rejected. Leading zeros are kept in the returned string, but note that
  the ACB file carries the number as a zero-filled numeric field, so ``0012345678`` and
  ``12345678`` reach the bank as the same account.
* **Account type**: ``current`` (ACB code 1), ``savings`` (2), ``transmission`` (3). ``cheque``
  is accepted as an alias of ``current`` (the name most SA banks print).

Bank-specific check-digit (CDV) verification is *not* done here: the algorithms and weightings
are per bank and change; the bank validates them when it receives the file.
"""

from __future__ import annotations

import enum
import re

from arrears.errors import ValidationFailed
from arrears.premiums.errors import PremiumErrorCode

BRANCH_CODE_LENGTH = 6
ACCOUNT_NUMBER_MIN_LENGTH = 6
ACCOUNT_NUMBER_MAX_LENGTH = 16
#: Account numbers up to this many digits fit the ACB standard "homing account number" field.
ACB_STANDARD_ACCOUNT_DIGITS = 11

_SEPARATORS = re.compile(r"[ \-]")


class BankDetailsError(ValidationFailed, ValueError):
    """Invalid bank details. ``field`` names the offending field (branch_code, account_number, …)."""

    code = PremiumErrorCode.INVALID_BANK_DETAILS

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message, field_errors={field: [message]})
        self.field = field


class AccountType(enum.StrEnum):
    CURRENT = "current"
    SAVINGS = "savings"
    TRANSMISSION = "transmission"

    @property
    def acb_code(self) -> int:
        """The one-digit ACB "type of account" code."""
        return _ACB_CODES[self]

    @classmethod
    def from_acb_code(cls, code: int | str) -> AccountType:
        try:
            number = int(code)
        except (TypeError, ValueError):
            raise BankDetailsError(f"invalid ACB account type code {code!r}", field="account_type") from None
        for account_type, acb in _ACB_CODES.items():
            if acb == number:
                return account_type
        raise BankDetailsError(
            f"invalid ACB account type code {code!r}: expected 1 (current), 2 (savings) or 3 (transmission)",
            field="account_type",
        )


_ACB_CODES: dict[AccountType, int] = {
    AccountType.CURRENT: 1,
    AccountType.SAVINGS: 2,
    AccountType.TRANSMISSION: 3,
}

_ACCOUNT_TYPE_ALIASES: dict[str, AccountType] = {
    "current": AccountType.CURRENT,
    "cheque": AccountType.CURRENT,
    "savings": AccountType.SAVINGS,
    "transmission": AccountType.TRANSMISSION,
}


def parse_account_type(value: AccountType | str) -> AccountType:
    """``current|savings|transmission`` (case-insensitive; ``cheque`` = ``current``) -> AccountType."""
    if isinstance(value, AccountType):
        return value
    if isinstance(value, str):
        found = _ACCOUNT_TYPE_ALIASES.get(value.strip().lower())
        if found is not None:
            return found
    raise BankDetailsError(
        f"invalid account type {value!r}: expected one of current, savings, transmission",
        field="account_type",
    )


def acb_account_type_code(value: AccountType | str) -> int:
    """``"savings"`` -> 2, and so on."""
    return parse_account_type(value).acb_code


def _digits(value: str | int, *, field: str, label: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BankDetailsError(f"{label} must be a string of digits", field=field)
    text = _SEPARATORS.sub("", str(value).strip())
    if not text:
        raise BankDetailsError(f"{label} is required", field=field)
    if not text.isascii() or not text.isdigit():
        raise BankDetailsError(f"{label} must contain digits only, got {value!r}", field=field)
    return text


def validate_branch_code(value: str | int) -> str:
    """Return the 6-digit branch code, or raise BankDetailsError."""
    text = _digits(value, field="branch_code", label="branch code")
    if len(text) != BRANCH_CODE_LENGTH:
        raise BankDetailsError(
            f"branch code must be exactly {BRANCH_CODE_LENGTH} digits, got {len(text)}", field="branch_code"
        )
    if int(text) == 0:
        raise BankDetailsError("branch code cannot be all zeros", field="branch_code")
    return text


def validate_account_number(value: str | int) -> str:
    """Return the account number as digits (6-16 of them), or raise BankDetailsError."""
    text = _digits(value, field="account_number", label="account number")
    if not ACCOUNT_NUMBER_MIN_LENGTH <= len(text) <= ACCOUNT_NUMBER_MAX_LENGTH:
        raise BankDetailsError(
            f"account number must be {ACCOUNT_NUMBER_MIN_LENGTH} to {ACCOUNT_NUMBER_MAX_LENGTH} digits, "
            f"got {len(text)}",
            field="account_number",
        )
    if int(text) == 0:
        raise BankDetailsError("account number cannot be all zeros", field="account_number")
    return text


def is_non_standard_account(account_number: str) -> bool:
    """True when the number is too long for the ACB 11-digit homing account field."""
    return len(account_number) > ACB_STANDARD_ACCOUNT_DIGITS


def account_problem(number: str | None) -> str | None:
    """Why an account number cannot go into a bank file (None: it can, or there is none). Kept
    beside the encrypted number when it is written, so that nothing decrypts it to ask again."""
    if number is None:
        return None
    try:
        validate_account_number(number)
    except BankDetailsError as exc:
        return exc.message
    return None
