"""South African debit-order unpaid (return) reason codes.

The codes are the two-digit reasons a paying bank gives when it returns an EFT debit, as listed
on BankservAfrica's "Schedule of Unpaids" and in the sponsoring banks' unpaid reports.

Two attributes are Arrears's own policy, not part of the code list:

* ``category`` groups the reasons for reporting: ``insufficient_funds``, ``account``
  (the account cannot be debited as it stands: closed, frozen, moved, …), ``disputed``
  (the account holder stopped or disputes the debit, or there is no valid mandate) and
  ``recalled`` (the debit was withdrawn by the user's bank).
* ``retryable`` is True only where presenting the same debit again can succeed without the
  client doing anything: 02 (not provided for) and 22 (effects not cleared). Every other reason
  needs new bank details, a new mandate or a conversation with the client first; re-presenting
  a disputed debit can breach the payer's authority.

Codes not in the table are still accepted by :func:`lookup_unpaid_reason`: they come back with
``known=False`` so that a new code from a bank never breaks reconciliation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from arrears.errors import ValidationFailed
from arrears.premiums.errors import PremiumErrorCode


class UnpaidCodeError(ValidationFailed, ValueError):
    code = PremiumErrorCode.INVALID_UNPAID_CODE


@dataclass(frozen=True, slots=True)
class UnpaidReason:
    code: str
    text: str
    category: str
    retryable: bool
    known: bool = True

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


def _reason(code: str, text: str, category: str, retryable: bool = False) -> UnpaidReason:
    return UnpaidReason(code=code, text=text, category=category, retryable=retryable)


UNPAID_REASONS: dict[str, UnpaidReason] = {
    r.code: r
    for r in (
        _reason("02", "Not provided for", "insufficient_funds", retryable=True),
        _reason("03", "Debits not allowed to this account", "account"),
        _reason("04", "Payment stopped by account holder", "disputed"),
        _reason("06", "Account frozen", "account"),
        _reason("08", "Account in sequestration", "account"),
        _reason("10", "Account in liquidation", "account"),
        _reason("12", "Account closed", "account"),
        _reason("14", "Account transferred within banking group", "account"),
        _reason("16", "Account transferred to another banking group", "account"),
        _reason("18", "Account holder deceased", "account"),
        _reason("22", "Account effects not cleared", "insufficient_funds", retryable=True),
        _reason("26", "No such account", "account"),
        _reason("28", "Recall/withdrawal", "recalled"),
        _reason("30", "No authority to debit", "disputed"),
        _reason("32", "Debit in contravention of payer's authority", "disputed"),
        _reason("34", "Authorisation cancelled", "disputed"),
        _reason("36", "Previously stopped via stop payment advice", "disputed"),
        _reason("56", "Not FICA compliant", "account"),
    )
}

_CODE = re.compile(r"^\d{1,2}$")


def normalise_unpaid_code(code: str | int) -> str:
    """``2``, ``"2"``, ``" 02 "`` -> ``"02"``. Raises UnpaidCodeError for anything but 1-2 digits."""
    if isinstance(code, bool):
        raise UnpaidCodeError(f"invalid unpaid reason code {code!r}")
    if isinstance(code, int):
        text = str(code)
    elif isinstance(code, str):
        text = code.strip()
    else:
        raise UnpaidCodeError(f"invalid unpaid reason code {code!r}")
    if not _CODE.match(text) or not text.isascii():
        raise UnpaidCodeError(f"invalid unpaid reason code {code!r}: expected two digits")
    return text.zfill(2)


def lookup_unpaid_reason(code: str | int) -> UnpaidReason:
    """The reason for ``code``. Unknown (but well-formed) codes give ``known=False``."""
    normalised = normalise_unpaid_code(code)
    found = UNPAID_REASONS.get(normalised)
    if found is not None:
        return found
    return UnpaidReason(
        code=normalised,
        text=f"Unknown unpaid reason code {normalised}",
        category="unknown",
        retryable=False,
        known=False,
    )


def describe_unpaid_code(code: str | int) -> str:
    """``"12"`` -> ``"Account closed"``."""
    return lookup_unpaid_reason(code).text


def _fold(text: str) -> str:
    without_apostrophes = re.sub(r"['\u2019]", "", text.lower())
    return re.sub(r"[^a-z0-9]+", " ", without_apostrophes).strip()


_BY_TEXT: dict[str, UnpaidReason] = {_fold(r.text): r for r in UNPAID_REASONS.values()}


def match_unpaid_reason(text: str) -> UnpaidReason | None:
    """Find the reason whose text matches ``text`` (case and punctuation ignored), else None.

    ``"ACCOUNT CLOSED"`` and ``"account closed."`` both give code 12. Only whole-text matches count.
    """
    return _BY_TEXT.get(_fold(text))
