"""Unpaid (returned debit) files in the ACB style: the same installation and user sets as a
debit-order file, with one unpaid record (identifier 13) per returned debit. See the package
docstring for the layout and why it is ours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from arrears.premiums.acb.debit import (
    PURGE_DAYS,
    ParsedTransaction,
    check_reference,
    homing_values,
    transaction_from_values,
    user_reference,
)
from arrears.premiums.acb.envelope import (
    UserInfo,
    parse_envelope,
    to_cents,
    user_set_records,
    wrap_installation,
)
from arrears.premiums.acb.errors import AcbFormatError
from arrears.premiums.acb.layout import RecordType
from arrears.premiums.banking import AccountType
from arrears.premiums.unpaid_codes import (
    UnpaidCodeError,
    UnpaidReason,
    lookup_unpaid_reason,
    normalise_unpaid_code,
)


@dataclass(frozen=True, slots=True)
class UnpaidItem:
    """A debit the payer's bank returned: the original transaction's details, the reason code and
    the date of the return."""

    user_sequence_number: int
    reference: str
    homing_branch: str
    homing_account_number: str
    account_type: AccountType | str
    amount: Decimal
    action_date: date
    homing_account_name: str
    reason_code: str
    unpaid_date: date


@dataclass(frozen=True, slots=True)
class ParsedUnpaid(ParsedTransaction):
    reason_code: str
    unpaid_date: date
    reason: UnpaidReason


@dataclass(frozen=True, slots=True)
class UnpaidsFile:
    installation_header: dict[str, Any]
    user_headers: tuple[dict[str, Any], ...]
    unpaids: tuple[ParsedUnpaid, ...]
    installation_trailer: dict[str, Any]

    @property
    def unknown_codes(self) -> tuple[str, ...]:
        """Reason codes in the file that are not in the known table, in order of first appearance."""
        return tuple(dict.fromkeys(u.reason_code for u in self.unpaids if not u.reason.known))


def build_unpaids_file(
    user_info: UserInfo,
    items: Sequence[UnpaidItem],
    *,
    creation_date: date,
    purge_date: date | None = None,
    line_ending: str = "\r\n",
) -> str:
    """An unpaids file as a bank (or the simulator standing in for one) returns it.

    With no items the file holds only the installation header and trailer.
    """
    user = user_info.validated()
    purge = purge_date or creation_date + timedelta(days=PURGE_DAYS)
    records: list[tuple[RecordType, dict[str, Any]]] = []
    for index, item in enumerate(items):
        where = f"unpaid {index}: "
        try:
            code = normalise_unpaid_code(item.reason_code)
        except UnpaidCodeError as exc:
            raise AcbFormatError(where + exc.message, field="unpaid_reason_code") from None
        try:
            cents = to_cents(item.amount)
        except AcbFormatError as exc:
            raise AcbFormatError(where + exc.reason, field="amount") from None
        records.append((RecordType.UNPAID, {
            "user_branch": user.nominated_branch,
            "user_nominated_account": int(user.nominated_account),
            "user_code": user.user_code,
            "user_sequence_number": item.user_sequence_number,
            **homing_values(item.homing_branch, item.homing_account_number, item.account_type,
                            item.homing_account_name, where=where),
            "amount": cents,
            "action_date": item.action_date,
            "entry_class": user.entry_class,
            "tax_code": 0,
            "user_reference": user_reference(user.abbreviated_name, check_reference(item.reference, where=where)),
            "unpaid_reason_code": code,
            "unpaid_date": item.unpaid_date,
        }))
    user_sets = []
    if records:
        user_sets.append(user_set_records(
            user, creation_date=creation_date, purge_date=purge,
            first_sequence_number=records[0][1]["user_sequence_number"], transactions=records,
        ))
    return wrap_installation(user, creation_date, purge, user_sets, line_ending)


def parse_unpaids_file(text: str | bytes) -> UnpaidsFile:
    """Parse and check an unpaids file. Unknown reason codes are kept (``reason.known`` False)."""
    header, raw_sets, trailer = parse_envelope(
        text, allowed=frozenset({RecordType.UNPAID}), consecutive_sequence=False
    )
    for raw in raw_sets:
        for r in raw.records:
            if r.values["unpaid_date"] < r.values["action_date"]:
                raise AcbFormatError("the unpaid date is before the action date", line=r.line, field="unpaid_date")
    unpaids = tuple(
        ParsedUnpaid(
            **transaction_from_values(r.line, r.record_type, r.values),
            reason_code=r.values["unpaid_reason_code"],
            unpaid_date=r.values["unpaid_date"],
            reason=lookup_unpaid_reason(r.values["unpaid_reason_code"]),
        )
        for raw in raw_sets
        for r in raw.records
    )
    return UnpaidsFile(header.values, tuple(raw.header.values for raw in raw_sets), unpaids, trailer.values)
