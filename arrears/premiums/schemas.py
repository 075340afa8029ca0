"""Pydantic input models of the premium domain and the spec's output objects.

Inputs ignore fields they do not know (webhook senders add their own) and normalise what they
keep: money to `Decimal` with two places, dates from `YYYY-MM-DD` only, phones to E.164 (default
region ZA), emails as email-validator writes them, bank details through `premiums.banking`.
Outputs write money as JSON numbers, ids as UUID strings and timestamps as ISO 8601 with `Z`;
bank account and ID numbers are masked to their last four characters.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from arrears import validation
from arrears.db import isoz
from arrears.errors import ErrorCode, ValidationFailed
from arrears.identity import sealed
from arrears.premiums import banking
from arrears.premiums.errors import PremiumErrorCode
from arrears.premiums.models import Collection, Policy, WebhookLog
from arrears.premiums.state import FREQUENCIES, POLICY_STATUSES, STATUSES

MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)
CENT = Decimal("0.01")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-/.:#]{0,63}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ---------------------------------------------------------------- field types


def _money(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError("must be a number such as 1500.00")
    try:
        if isinstance(value, float):
            amount = Decimal(repr(value))
        elif isinstance(value, (int, Decimal)):
            amount = Decimal(value)
        elif isinstance(value, str):
            amount = Decimal(value.strip())
        else:
            raise ValueError("must be a number such as 1500.00")
    except InvalidOperation:
        raise ValueError("must be a number such as 1500.00") from None
    if not amount.is_finite():
        raise ValueError("must be a number such as 1500.00")
    if amount <= 0:
        raise ValueError("must be positive")
    if amount != amount.quantize(CENT):
        raise ValueError("must have at most two decimal places")
    if amount > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT}")
    return amount.quantize(CENT)


def _iso_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a calendar date") from None
    if not 1900 <= parsed.year <= 2200:
        raise ValueError("must be a date between 1900 and 2200")
    return parsed


def _reference(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    value = value.strip()
    if not _REFERENCE.match(value):
        raise ValueError("must be 1 to 64 letters, digits or _ - / . : # (starting with a letter or digit)")
    return value


def _text(limit: int) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be blank")
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value

    return check


def _phone(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a phone number such as +27821234567")
    try:
        number = phonenumbers.parse(value, "ZA")
    except phonenumbers.NumberParseException:
        raise ValueError(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be an email address")
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address: {exc}") from None


def _id_number(value: Any) -> str:
    """A South African ID number (13 digits, Luhn check digit) or a passport number."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError("must be a string")
    text = re.sub(r"[\s-]", "", str(value))
    if not re.fullmatch(r"[A-Za-z0-9]{5,20}", text):
        raise ValueError("must be an SA ID number (13 digits) or a passport number (5-20 letters/digits)")
    if len(text) == 13 and text.isdigit():
        total = 0
        for i, ch in enumerate(reversed(text)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10:
            raise ValueError("is not a valid SA ID number (check digit)")
    return text.upper()


def _wrap_bank(fn: Any) -> Any:
    def check(value: Any) -> str:
        try:
            return fn(value)
        except banking.BankDetailsError as exc:
            raise ValueError(exc.message) from None

    return check


def _status(allowed: tuple[str, ...]) -> Any:
    def check(value: Any) -> str:
        if isinstance(value, str) and value.strip().lower() in allowed:
            return value.strip().lower()
        raise ValueError(f"invalid status {value!r}; use one of {', '.join(allowed)}")

    return check


def _frequency(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in FREQUENCIES:
        return value.strip().lower()
    raise ValueError(f"invalid frequency {value!r}; use one of {', '.join(FREQUENCIES)}")


def _account_type(value: Any) -> str:
    try:
        return banking.parse_account_type(value).value
    except banking.BankDetailsError:
        raise ValueError(f"invalid bank_account_type {value!r}; use one of current, savings, "
                         "transmission") from None


def _day(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 31:
        raise ValueError("must be a day of the month, 1 to 31")
    return value


Money = Annotated[Decimal, BeforeValidator(_money)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Reference = Annotated[str, BeforeValidator(_reference)]
CollectionStatusField = Annotated[str, BeforeValidator(_status(STATUSES))]
PolicyStatusField = Annotated[str, BeforeValidator(_status(POLICY_STATUSES))]
Name = Annotated[str, BeforeValidator(_text(255))]
Reason = Annotated[str, BeforeValidator(_text(255))]
IdNumber = Annotated[str, BeforeValidator(_id_number)]
Email = Annotated[str, BeforeValidator(_email)]
Phone = Annotated[str, BeforeValidator(_phone)]
Frequency = Annotated[str, BeforeValidator(_frequency)]
AccountNumber = Annotated[str, BeforeValidator(_wrap_bank(banking.validate_account_number))]
BranchCode = Annotated[str, BeforeValidator(_wrap_bank(banking.validate_branch_code))]
AccountType = Annotated[str, BeforeValidator(_account_type)]
Day = Annotated[int, BeforeValidator(_day)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PolicyUpdateIn(_In):
    """`POST /api/webhooks/policies/update`: create or update by policy_number; only the fields
    sent change (null clears an optional field)."""

    policy_number: Reference
    client_name: Name | None = None
    client_id_number: IdNumber | None = None
    client_email: Email | None = None
    client_phone: Phone | None = None
    premium_amount: Money | None = None
    frequency: Frequency | None = None
    status: PolicyStatusField | None = None
    mandate_reference: Reference | None = None
    bank_account_holder: Name | None = None
    bank_account_number: AccountNumber | None = None
    bank_branch_code: BranchCode | None = None
    bank_account_type: AccountType | None = None
    next_collection_date: IsoDate | None = None
    collection_day: Day | None = None

    def sent(self) -> dict[str, Any]:
        """The fields the client sent, without policy_number."""
        return {k: getattr(self, k) for k in self.model_fields_set if k != "policy_number"}


# A null clears an optional field; the service refuses null where a policy needs a value.
POLICY_REQUIRED = ("client_name", "premium_amount", "frequency")
POLICY_NOT_NULL = (*POLICY_REQUIRED, "status", "bank_account_type")


class CollectionUpdateIn(_In):
    """One collection status update: by collection_reference, or policy_number (+ collection_date)."""

    collection_reference: Reference | None = None
    policy_number: Reference | None = None
    collection_date: IsoDate | None = None
    status: CollectionStatusField
    amount: Money | None = None
    failure_reason: Reason | None = None
    investec_reference: Reference | None = None
    bank_reference: Reference | None = None
    transaction_date: IsoDate | None = None

    @model_validator(mode="after")
    def _names_a_collection(self) -> CollectionUpdateIn:
        if not self.collection_reference and not self.policy_number:
            raise ValueError("send collection_reference, or policy_number (with collection_date to "
                             "name one collection)")
        if "amount" in self.model_fields_set and self.amount is None:
            raise ValueError("amount: must be a number such as 1500.00")
        return self


class BulkCollectionsIn(_In):
    collections: list[Any] = Field(description="1 to 100 collection updates, each as in "
                                               "/api/webhooks/collections/update")


BULK_MAX = 100


# ---------------------------------------------------------------- validation → error codes


def code_for_fields(field_errors: dict[str, list[str]]) -> str:
    """`INVALID_STATUS` when only a status value was wrong, else `VALIDATION_ERROR`."""
    if field_errors and all(name.rsplit(".", 1)[-1] == "status" for name in field_errors):
        if not any("required" in m for msgs in field_errors.values() for m in msgs):
            return PremiumErrorCode.INVALID_STATUS
    return ErrorCode.VALIDATION_ERROR


def validation_failed(exc: ValidationError, prefix: str = "") -> ValidationFailed:
    fields = validation.field_errors(exc.errors(), prefix=prefix)
    return ValidationFailed(validation.summary(fields), code=code_for_fields(fields), field_errors=fields)


def parse_collection_update(raw: Any) -> CollectionUpdateIn:
    """One bulk item; raises ValidationFailed (INVALID_STATUS or VALIDATION_ERROR)."""
    if not isinstance(raw, dict):
        raise ValidationFailed("Invalid request: each collection update must be a JSON object")
    try:
        return CollectionUpdateIn.model_validate(raw)
    except ValidationError as exc:
        raise validation_failed(exc) from None


# ---------------------------------------------------------------- output objects


def money(value: Decimal | None) -> float | None:
    """A JSON number. Two-decimal amounts of Numeric(14, 2) survive float's shortest repr exactly."""
    return None if value is None else float(value)


def mask(value: str | None) -> str | None:
    """An account or ID number as shown: masked, without decrypting one read from the database."""
    return sealed.masked(value) if value else value


def policy_out(p: Policy) -> dict[str, Any]:
    return {
        "id": str(p.uuid),
        "policy_number": p.policy_number,
        "client_name": p.client_name,
        "client_id_number": mask(p.client_id_number),
        "client_email": p.client_email,
        "client_phone": p.client_phone,
        "premium_amount": money(p.premium_amount),
        "frequency": p.frequency,
        "status": p.status,
        "mandate_reference": p.mandate_reference,
        "bank_account_holder": p.bank_account_holder,
        "bank_account_number": mask(p.bank_account_number),
        "bank_branch_code": p.bank_branch_code,
        "bank_account_type": p.bank_account_type,
        "next_collection_date": p.next_collection_date.isoformat() if p.next_collection_date else None,
        "collection_day": p.collection_day,
        "customer_id": p.customer_id,
        "created_at": isoz(p.created_at),
        "updated_at": isoz(p.updated_at),
    }


def collection_out(c: Collection, p: Policy) -> dict[str, Any]:
    return {
        "id": str(c.uuid),
        "collection_reference": c.collection_reference,
        "policy_number": p.policy_number,
        "client_name": p.client_name,
        "amount": money(c.amount),
        "status": c.status,
        "collection_date": c.collection_date.isoformat(),
        "processed_at": isoz(c.processed_at),
        "investec_reference": c.investec_reference,
        "bank_reference": c.bank_reference,
        "failure_reason": c.failure_reason,
        "transaction_date": c.transaction_date.isoformat() if c.transaction_date else None,
        "created_at": isoz(c.created_at),
        "updated_at": isoz(c.updated_at),
    }


def audit_value(field: str, value: Any) -> Any:
    """A field's value as the audit trail keeps it (account and ID numbers masked)."""
    if field in ("bank_account_number", "client_id_number"):
        return mask(value)
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def log_out(row: WebhookLog) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "endpoint": row.endpoint,
        "method": row.method,
        "response_status": row.response_status,
        "processing_time_ms": row.processing_time_ms,
        "created_at": isoz(row.created_at),
        "api_key": row.api_key_prefix,
        "error_code": row.error_code,
        "idempotency_key": row.idempotency_key,
    }

