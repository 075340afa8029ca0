"""The age-analysis send (AAMA's POST /api/messaging/send): one SMS per chosen account of one
upload the caller may see, each filled in from the account's latest balances. The messages are
queued with the contact rules like every other send (service.queue_messages); the worker sends
them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.errors import ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.service import get_org
from arrears.messaging import rules
from arrears.messaging.errors import MessagingErrorCode
from arrears.messaging.service import (
    Draft,
    Queued,
    check_retries,
    humanise_seconds,
    queue_messages,
    require_cap_override,
    require_status_override,
)
from arrears.messaging.settings import messaging_settings
from arrears.messaging.templates import TemplateContext, check_template, render_template

if TYPE_CHECKING:
    from arrears.debtors.models import DebtorSnapshot

MAX_ACCOUNTS_PER_SEND = 10_000


@dataclass
class SendOutcome:
    upload_id: uuid.UUID
    account_count: int
    template: str
    queued: Queued

    @property
    def estimated_time(self) -> str:
        return humanise_seconds(self.queued.estimated_seconds)


def snapshot_context(snap: DebtorSnapshot) -> TemplateContext:
    """An account's values for a template, as a send fills them in. The book's `d120` is 120 days
    and older, `d150`/`d180` being its finer split inside it: they are not passed again, or
    [120Days] would count them twice."""
    return TemplateContext(customer_name=snap.customer_name, account_code=snap.account_code,
                           total_balance=snap.total_balance, current=snap.current, d30=snap.d30, d60=snap.d60,
                           d90=snap.d90, d120=snap.d120, contact_person=snap.contact or "",
                           telephone=snap.telephone or "", overdue_amount=snap.overdue_amount)


async def send_to_accounts(session: AsyncSession, caller: Caller, account_ids: Sequence[Any], template: str, *,
                           max_retries: int | None = None, override_cap: bool = False,
                           override_status: bool = False) -> SendOutcome:
    """POST /api/messaging/send: one SMS per account (all of one upload the caller may see)."""
    from arrears.debtors import service as debtors
    from arrears.debtors.models import DebtorAccount, DebtorReport

    caller.require_write()
    s = messaging_settings()
    retries = check_retries(max_retries, s)
    if override_cap:
        require_cap_override(caller)
    if override_status:
        require_status_override(caller)
    if not isinstance(account_ids, (list, tuple)) or not account_ids:
        raise ValidationFailed("account_ids must list at least one account",
                               field_errors={"account_ids": ["At least one account id."]})
    if len(account_ids) > MAX_ACCOUNTS_PER_SEND:
        raise ValidationFailed(f"At most {MAX_ACCOUNTS_PER_SEND:,} accounts per send",
                               field_errors={"account_ids": [f"At most {MAX_ACCOUNTS_PER_SEND}."]})
    if not isinstance(template, str):
        raise ValidationFailed("message_template is required", field_errors={"message_template": ["Required."]})
    check_template(template)
    wanted: list[uuid.UUID] = []
    bad: list[str] = []
    for raw in account_ids:
        try:
            wanted.append(uuid.UUID(str(raw)))
        except (ValueError, TypeError, AttributeError):
            bad.append(str(raw)[:64])
    unique = list(dict.fromkeys(wanted))
    found = await debtors.get_snapshots(session, caller, unique) if unique else []
    seen = {f.uuid for f in found}
    missing = [str(i) for i in unique if i not in seen] + bad
    if missing:
        raise ValidationFailed(
            f"{len(missing)} of the account ids are not accounts of an upload you can see: "
            + ", ".join(missing[:5]) + ("…" if len(missing) > 5 else ""),
            code=MessagingErrorCode.INVALID_ACCOUNTS, details={"unknown_account_ids": missing[:100]})
    report_ids = {f.report_id for f in found}
    if len(report_ids) > 1:
        uuids = (await session.scalars(select(DebtorReport.uuid).where(DebtorReport.id.in_(report_ids)))).all()
        raise ValidationFailed(f"The accounts belong to {len(report_ids)} uploads; send to one upload at a time",
                               code=MessagingErrorCode.MIXED_UPLOADS, details={"upload_ids": sorted(str(u) for u in uuids)})
    report = await debtors.get_report(session, caller, next(iter(report_ids)))
    codes_list = list({f.account_code for f in found})
    book: dict[str, tuple[int, int | None]] = {}
    for start in range(0, len(codes_list), 500):
        rows = await session.execute(select(DebtorAccount.account_code, DebtorAccount.id, DebtorAccount.customer_id)
                                     .where(DebtorAccount.org_id == caller.org_id,
                                            DebtorAccount.account_code.in_(codes_list[start:start + 500])))
        book.update({r[0]: (r[1], r[2]) for r in rows})
    drafts = []
    for snap in found:
        ctx = snapshot_context(snap)
        account_id, customer_id = book.get(snap.account_code, (None, None))
        problem = None
        if not snap.telephone:
            problem = (rules.NO_RECIPIENT, "Not sent: the account has no telephone number")
        elif not (snap.phone_valid and snap.sms_reachable):
            problem = (rules.INVALID_RECIPIENT,
                       f"Not sent: {snap.telephone_raw or snap.telephone} is not a valid mobile number")
        drafts.append(Draft("sms", snap.telephone, render_template(template, ctx), template=template,
                            customer_id=customer_id, debtor_account_id=account_id, account_id=snap.uuid,
                            upload_id=report.uuid, problem=problem))
    org = await get_org(session, caller.org_id)
    queued = await queue_messages(session, caller, org, drafts, source="aama",
                                  max_retries=retries, override_cap=override_cap, settings=s,
                                  override_status=override_status)
    return SendOutcome(report.uuid, len(found), template, queued)
