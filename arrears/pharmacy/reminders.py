"""E-mail and SMS reminders to a pharmacy's debtors, sent at once through messaging's
synchronous dispatch (the same outbox rows, contact rules and providers as every other send),
answered per debtor as the spec shows: `sent` and `errors`.

The pharmacy must hold its own provider credentials (SendGrid key; SMSPortal client id and
secret) — even in simulation mode, so that the answer does not change in production.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import isoz
from arrears.debtors.models import DebtorAccount
from arrears.errors import NotFound
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.identity.service import get_org, org_setting
from arrears.messaging.dispatch import DispatchResult, Recipient, dispatch_now
from arrears.messaging.providers import ProviderNotConfigured
from arrears.pharmacy.debtors import (
    ARREARS_BUCKETS,
    amount_of,
    bucket_amounts,
    get_accounts,
)

ZERO = Decimal("0.00")
REQUIRED = {
    "email": (("sendgrid_api_key",), "SendGrid API key not configured for pharmacy: set sendgrid_api_key "
                                     "(and sendgrid_from_email) in the pharmacy's settings"),
    "sms": (("smsportal_client_id", "smsportal_api_secret"),
            "SMS Portal credentials not configured for pharmacy: set smsportal_client_id and "
            "smsportal_api_secret in the pharmacy's settings"),
}


@dataclass
class Plan:
    """What one send request will do: the recipients to dispatch and the errors known up front."""

    channel: str
    org_name: str
    recipients: list[Recipient] = field(default_factory=list)
    shown: dict[int, str | None] = field(default_factory=dict)  # debtor id -> address/phone as shown
    errors: list[dict[str, Any]] = field(default_factory=list)
    order: list[int] = field(default_factory=list)


def require_credentials(org: Organisation, channel: str) -> None:
    keys, message = REQUIRED[channel]
    if not all(str(org_setting(org, k) or "").strip() for k in keys):
        raise ProviderNotConfigured(message)


def _money(amount: Decimal) -> str:
    return f"R{amount:,.2f}"


def _texts(channel: str, pharmacy: str, account: DebtorAccount, amount: Decimal
           ) -> tuple[str, str | None, str | None]:
    """(plain text or SMS, subject, html) of one reminder."""
    name = account.customer_name or "customer"
    if channel == "sms":
        return (f"Dear {name}, your account {account.account_code} at {pharmacy} has {_money(amount)} overdue. "
                f"Please pay or contact us to arrange payment.", None, None)
    subject = f"Reminder: Account Overdue at {pharmacy}"
    text = (f"Dear {name},\n\nYour account {account.account_code} at {pharmacy} has {_money(amount)} overdue.\n"
            f"Please settle the amount or contact us to arrange payment.\n\nKind regards,\n{pharmacy}")
    e = html.escape
    body = (f"<html><body><p>Dear {e(name)},</p><p>Your account <strong>{e(account.account_code)}</strong> at "
            f"{e(pharmacy)} has <strong>{e(_money(amount))}</strong> overdue.</p><p>Please settle the amount or "
            f"contact us to arrange payment.</p><p>Kind regards,<br>{e(pharmacy)}</p></body></html>")
    return text, subject, body


async def plan(session: AsyncSession, caller: Caller, channel: str, debtor_ids: Sequence[int],
               ageing_buckets: tuple[str, ...] | None = None) -> Plan:
    """Check the request and the credentials, find the debtors (404 when none is the
    pharmacy's), and write each reminder. Reads only: dispatch happens outside this session."""
    caller.require_write()
    ids = tuple(dict.fromkeys(debtor_ids))
    buckets = ageing_buckets or ARREARS_BUCKETS
    org = await get_org(session, caller.org_id)
    require_credentials(org, channel)
    accounts = await get_accounts(session, caller.org_id, list(ids))
    if not accounts:
        raise NotFound("No debtors found: none of the debtor_ids is a debtor of this pharmacy")
    out = Plan(channel, org.name)
    for debtor_id in ids:
        out.order.append(debtor_id)
        account = accounts.get(debtor_id)
        if account is None:
            out.errors.append({"debtor_id": debtor_id, "error": "Debtor not found"})
            continue
        if account.settled_at is not None:
            out.errors.append({"debtor_id": debtor_id, "error": "Debtor is settled: not in the latest report"})
            continue
        amount = amount_of(bucket_amounts(account), buckets)
        if amount <= 0:
            out.errors.append({"debtor_id": debtor_id,
                               "error": f"Nothing owed in {', '.join(buckets)}: no reminder sent"})
            continue
        text, subject, body = _texts(channel, org.name, account, amount)
        if channel == "email":
            to, problem = account.email, None if account.email else "No email address"
            out.shown[debtor_id] = account.email
        else:
            printed = account.telephone_raw or (f"+{account.telephone}" if account.telephone else None)
            # Sent to the normalised number; shown as printed in the report.
            to = f"+{account.telephone}" if account.telephone and account.phone_valid else printed
            problem = None if to else "No phone number"
            out.shown[debtor_id] = printed
        out.recipients.append(Recipient(ref=debtor_id, to=to, content=text, subject=subject, html=body,
                                        template=f"pharmacy_{channel}_reminder", customer_id=account.customer_id,
                                        debtor_account_id=account.id, problem=problem))
    return out


def _error_text(r: DispatchResult) -> str:
    reason = getattr(r, "reason", None)  # messaging's own words for a hold, where it gives them
    if reason:
        return str(reason)
    if r.status == "pending" and not r.error and not r.error_code:
        # Neither held nor failed once: another request with the same Idempotency-Key is
        # sending it right now (a replay answers with the state of the first call's message).
        return "Not sent yet: it is being sent by an earlier request with the same Idempotency-Key"
    if r.status == "pending":
        when = f" at {isoz(r.scheduled_for)}" if r.scheduled_for else " later"
        reason = r.error or "outside the permitted contact hours"
        return f"Not sent now ({reason}); it is queued and will be sent{when}"
    return r.error or "Failed"


async def send(caller: Caller, p: Plan, *, idempotency_key: str | None = None,
               override_status: bool = False) -> dict[str, Any]:
    """Dispatch the plan (outside any transaction: dispatch commits on its own) and answer in the
    spec's shape, debtors in the order they were asked for. A debtor whose account is disputed,
    handed over or written off is an error with the reason unless `override_status` (managers
    and admins)."""
    results: Sequence[DispatchResult] = []
    if p.recipients:
        results = await dispatch_now(caller, channel=p.channel, recipients=p.recipients, source="pharmacy",
                                     idempotency_key=idempotency_key, override_status=override_status)
    by_ref = {r.ref: r for r in results}
    known = {e["debtor_id"]: e for e in p.errors}
    key = "email" if p.channel == "email" else "phone"
    sent: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for debtor_id in p.order:
        if debtor_id in known:
            errors.append(known[debtor_id])
            continue
        r = by_ref.get(debtor_id)
        if r is None:
            errors.append({"debtor_id": debtor_id, "error": "Not recorded"})
        elif r.status == "sent":
            sent.append({"debtor_id": debtor_id, key: p.shown.get(debtor_id), "status": "sent",
                         "external_id": r.external_id})
        else:
            errors.append({"debtor_id": debtor_id, "error": _error_text(r)})
    return {"sent": sent, "errors": errors}
