"""Debit-order files: build one from due collections, parse one back (with every check)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from arrears.premiums.acb.envelope import (
    UserInfo,
    from_cents,
    parse_envelope,
    to_cents,
    user_set_records,
    wrap_installation,
)
from arrears.premiums.acb.errors import AcbFormatError
from arrears.premiums.acb.layout import RecordType, acb_text
from arrears.premiums.banking import (
    AccountType,
    BankDetailsError,
    is_non_standard_account,
    parse_account_type,
    validate_account_number,
    validate_branch_code,
)

ABBREVIATED_NAME_WIDTH = 10
REFERENCE_WIDTH = 20
ACCOUNT_NAME_WIDTH = 30
CONTRA_ENTRY_CLASS = "10"
MAX_SEQUENCE_NUMBER = 999_999
MAX_CONTRA_CENTS = 10**11 - 1
#: Default purge date: this many days after the action date.
PURGE_DAYS = 7


@dataclass(frozen=True, slots=True)
class DebitItem:
    """One debit: collect ``amount`` from the homing (payer's) account under ``reference``.

    ``reference`` is the mandate or policy reference (1-20 printable ASCII characters, no
    leading or trailing spaces); it fills positions 11-30 of the user reference, after the
    user's abbreviated name, and comes back on unpaids. ``homing_account_name`` is cleaned to
    upper-case ASCII and cut to 30 characters.
    """

    reference: str
    homing_branch: str
    homing_account_number: str
    account_type: AccountType | str
    amount: Decimal
    homing_account_name: str


@dataclass(frozen=True, slots=True)
class ParsedTransaction:
    """A standard transaction (debit) or contra record read from a file.

    ``homing_account_number`` is the account as digits without leading zeros (the ACB field is
    zero-filled, so they cannot be recovered); for a non-standard account it is the number from
    the non-standard field. Contra records have no account name (``""``) and tax code 0.
    """

    line: int
    record_type: RecordType
    sequence_number: int
    user_code: str
    user_branch: str
    user_nominated_account: str
    homing_branch: str
    homing_account_number: str
    account_type: AccountType
    amount_cents: int
    action_date: date
    entry_class: str
    tax_code: int
    user_reference: str
    homing_account_name: str

    @property
    def amount(self) -> Decimal:
        return from_cents(self.amount_cents)

    @property
    def abbreviated_name(self) -> str:
        return self.user_reference[:ABBREVIATED_NAME_WIDTH].rstrip()

    @property
    def reference(self) -> str:
        """Positions 11-30 of the user reference: the mandate/policy reference."""
        return self.user_reference[ABBREVIATED_NAME_WIDTH:].strip()


@dataclass(frozen=True, slots=True)
class ParsedUserSet:
    header: dict[str, Any]
    records: tuple[ParsedTransaction, ...]
    trailer: dict[str, Any]

    @property
    def transactions(self) -> tuple[ParsedTransaction, ...]:
        return tuple(r for r in self.records if r.record_type is RecordType.STANDARD_TRANSACTION)

    @property
    def contras(self) -> tuple[ParsedTransaction, ...]:
        return tuple(r for r in self.records if r.record_type is RecordType.CONTRA)


@dataclass(frozen=True, slots=True)
class ParsedFile:
    installation_header: dict[str, Any]
    user_sets: tuple[ParsedUserSet, ...]
    installation_trailer: dict[str, Any]

    @property
    def transactions(self) -> tuple[ParsedTransaction, ...]:
        """Every standard transaction (debit) of every user set, in file order."""
        return tuple(t for s in self.user_sets for t in s.transactions)

    @property
    def contras(self) -> tuple[ParsedTransaction, ...]:
        return tuple(c for s in self.user_sets for c in s.contras)

    @property
    def total_amount(self) -> Decimal:
        return from_cents(sum(t.amount_cents for t in self.transactions))


def transaction_from_values(line: int, record_type: RecordType, v: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ParsedTransaction (and subclasses) from parsed record values."""
    non_standard = v.get("non_standard_homing_account_number", 0)
    try:
        account_type = AccountType.from_acb_code(v["account_type"])
    except BankDetailsError as exc:
        raise AcbFormatError(exc.message, line=line, field="account_type") from None
    return {
        "line": line,
        "record_type": record_type,
        "sequence_number": v["user_sequence_number"],
        "user_code": v["user_code"],
        "user_branch": v["user_branch"],
        "user_nominated_account": str(v["user_nominated_account"]),
        "homing_branch": v["homing_branch"],
        "homing_account_number": str(non_standard or v["homing_account_number"]),
        "account_type": account_type,
        "amount_cents": v["amount"],
        "action_date": v["action_date"],
        "entry_class": v["entry_class"],
        "tax_code": v.get("tax_code", 0),
        "user_reference": v["user_reference"],
        "homing_account_name": v.get("homing_account_name", ""),
    }


def check_reference(reference: str, *, where: str = "") -> str:
    if not isinstance(reference, str) or not reference:
        raise AcbFormatError(f"{where}reference is required", field="reference")
    if len(reference) > REFERENCE_WIDTH:
        raise AcbFormatError(f"{where}reference {reference!r} is longer than {REFERENCE_WIDTH} characters",
                             field="reference")
    if reference != reference.strip() or not all(" " <= ch <= "~" for ch in reference):
        raise AcbFormatError(
            f"{where}reference {reference!r} must be printable ASCII without leading or trailing spaces",
            field="reference",
        )
    return reference


def user_reference(abbreviated_name: str, reference: str) -> str:
    """The 30-character user reference: abbreviated name (10, space-filled) + reference (20)."""
    return f"{abbreviated_name:<{ABBREVIATED_NAME_WIDTH}}{reference}"


def homing_values(branch: str, account: str, account_type: AccountType | str, name: str,
                  *, where: str) -> dict[str, Any]:
    """Validated homing-account fields of a transaction record."""
    try:
        branch = validate_branch_code(branch)
        account = validate_account_number(account)
        acb_type = parse_account_type(account_type).acb_code
    except BankDetailsError as exc:
        raise AcbFormatError(f"{where}{exc.message}", field=exc.field) from None
    clean_name = acb_text(name, ACCOUNT_NAME_WIDTH)
    if not clean_name:
        raise AcbFormatError(f"{where}the account holder's name is required", field="homing_account_name")
    non_standard = is_non_standard_account(account)
    return {
        "homing_branch": branch,
        "homing_account_number": 0 if non_standard else int(account),
        "non_standard_homing_account_number": int(account) if non_standard else 0,
        "account_type": acb_type,
        "homing_account_name": clean_name,
    }


def build_debit_file(
    user_info: UserInfo,
    action_date: date,
    items: Sequence[DebitItem],
    *,
    creation_date: date | None = None,
    purge_date: date | None = None,
    first_sequence_number: int = 1,
    line_ending: str = "\r\n",
) -> str:
    """An ACB debit-order file: one user set, the ``items`` as standard transactions on
    ``action_date`` followed by one contra record crediting the user's nominated account.

    ``first_sequence_number``: sequence numbers run on from the user's previous file of the same
    day (the caller keeps the counter). ``creation_date`` defaults to today, ``purge_date`` to
    ``action_date`` + 7 days. Raises AcbFormatError (naming the item) for any invalid input.
    """
    user = user_info.validated()
    creation = creation_date or date.today()
    purge = purge_date or action_date + timedelta(days=PURGE_DAYS)
    if not items:
        raise AcbFormatError("a debit-order file needs at least one item")
    if action_date < creation:
        raise AcbFormatError(f"action date {action_date} is before the creation date {creation}",
                             field="action_date")
    if purge < action_date:
        raise AcbFormatError(f"purge date {purge} is before the action date {action_date}", field="purge_date")
    last_sequence = first_sequence_number + len(items)  # the contra takes the last number
    if first_sequence_number < 1 or last_sequence > MAX_SEQUENCE_NUMBER:
        raise AcbFormatError(f"sequence numbers {first_sequence_number}-{last_sequence} do not fit 1-999999",
                             field="user_sequence_number")

    nominated_account = int(user.nominated_account)
    common = {
        "user_branch": user.nominated_branch,
        "user_nominated_account": nominated_account,
        "user_code": user.user_code,
        "action_date": action_date,
    }
    transactions: list[tuple[RecordType, dict[str, Any]]] = []
    sequence = first_sequence_number
    total = 0
    for index, item in enumerate(items):
        where = f"item {index} ({item.reference!r}): " if isinstance(item.reference, str) else f"item {index}: "
        reference = check_reference(item.reference, where=where)
        try:
            cents = to_cents(item.amount)
        except AcbFormatError as exc:
            raise AcbFormatError(where + exc.reason, field="amount") from None
        total += cents
        transactions.append((RecordType.STANDARD_TRANSACTION, {
            **common,
            **homing_values(item.homing_branch, item.homing_account_number, item.account_type,
                            item.homing_account_name, where=where),
            "user_sequence_number": sequence,
            "amount": cents,
            "entry_class": user.entry_class,
            "tax_code": 0,
            "user_reference": user_reference(user.abbreviated_name, reference),
        }))
        sequence += 1
    if total > MAX_CONTRA_CENTS:
        raise AcbFormatError("the total does not fit one contra record's 11-digit amount; split the run",
                             field="amount")
    transactions.append((RecordType.CONTRA, {
        **common,
        "user_sequence_number": sequence,
        "homing_branch": user.nominated_branch,
        "homing_account_number": nominated_account,
        "account_type": AccountType.CURRENT.acb_code,
        "amount": total,
        "entry_class": CONTRA_ENTRY_CLASS,
        "user_reference": user_reference(user.abbreviated_name, f"CONTRA {action_date:%y%m%d}"),
    }))
    user_set = user_set_records(user, creation_date=creation, purge_date=purge,
                                first_sequence_number=first_sequence_number, transactions=transactions)
    return wrap_installation(user, creation, purge, [user_set], line_ending)


def parse_file(text: str | bytes) -> ParsedFile:
    """Parse an ACB debit-order file and check it: record order, lengths, field contents,
    consecutive sequence numbers, user and installation trailer counts, totals and hash total,
    and that every contra credits its user account with the sum of the debits before it on the
    same action date. Raises AcbFormatError with the line number of the first problem."""
    header, raw_sets, trailer = parse_envelope(
        text,
        allowed=frozenset({RecordType.STANDARD_TRANSACTION, RecordType.CONTRA}),
        consecutive_sequence=True,
    )
    if not raw_sets:
        raise AcbFormatError("the file has no user set (04 ... 92)", line=trailer.line)
    user_sets: list[ParsedUserSet] = []
    for raw in raw_sets:
        records = tuple(
            ParsedTransaction(**transaction_from_values(r.line, r.record_type, r.values)) for r in raw.records
        )
        _check_contras(records)
        user_sets.append(ParsedUserSet(raw.header.values, records, raw.trailer.values))
    return ParsedFile(header.values, tuple(user_sets), trailer.values)


def _check_contras(records: Sequence[ParsedTransaction]) -> None:
    pending: list[ParsedTransaction] = []
    for record in records:
        if record.record_type is RecordType.STANDARD_TRANSACTION:
            pending.append(record)
            continue
        if not pending:
            raise AcbFormatError("contra record with no transactions before it", line=record.line)
        if record.amount_cents != sum(t.amount_cents for t in pending):
            raise AcbFormatError(
                f"contra amount {record.amount_cents} is not the sum of its transactions "
                f"({sum(t.amount_cents for t in pending)})",
                line=record.line, field="amount",
            )
        if (record.homing_branch, record.homing_account_number) != (record.user_branch,
                                                                    record.user_nominated_account):
            raise AcbFormatError("a contra record must be to the user's own nominated account", line=record.line,
                                 field="homing_account_number")
        for t in pending:
            if t.action_date != record.action_date:
                raise AcbFormatError("action date differs from its contra record's", line=t.line,
                                     field="action_date")
            if (t.user_branch, t.user_nominated_account) != (record.user_branch, record.user_nominated_account):
                raise AcbFormatError("user account differs from its contra record's", line=t.line,
                                     field="user_nominated_account")
        pending = []
    if pending:
        raise AcbFormatError("transactions after the last contra record", line=pending[0].line)
