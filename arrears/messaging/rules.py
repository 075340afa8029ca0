"""Contact rules as an organisation applies them: permitted hours in its time zone, opt-outs per
customer and channel, and the per-customer cap. The pure rules are in contact_rules.py; this
module reads the settings and the tables.

Organisation settings (all optional):

- `timezone` (IANA name, default Africa/Johannesburg) and `holiday_country` (default ZA);
- `contact_hours`: `on` (default) or `off`; MESSAGING_CONTACT_HOURS=false turns hours off for
  the whole deployment;
- `contact_cap`: messages per customer per channel in the window (default MESSAGING_CAP, 1;
  0 means no cap) and `contact_cap_window` (default MESSAGING_CAP_WINDOW, 24h).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.identity.models import Organisation
from arrears.identity.service import org_setting
from arrears.messaging.contact_rules import DEFAULT_COUNTRY, DEFAULT_TZ, ContactHours
from arrears.messaging.durations import parse_duration
from arrears.messaging.models import Message, OptOut
from arrears.messaging.settings import MessagingSettings

OFF = {"off", "false", "0", "no", "disabled"}

# Per-message reasons, as the logs show them (error_code, response_from_service).
OPTED_OUT = "OPTED_OUT"
CAP_REACHED = "CAP_REACHED"
INVALID_RECIPIENT = "INVALID_RECIPIENT"
NO_RECIPIENT = "NO_RECIPIENT"


def contact_hours(org: Organisation, settings: MessagingSettings) -> ContactHours:
    enabled = settings.messaging_contact_hours and str(org_setting(org, "contact_hours") or "on").lower() not in OFF
    tz = str(org_setting(org, "timezone") or DEFAULT_TZ)
    country = str(org_setting(org, "holiday_country") or DEFAULT_COUNTRY).upper()
    try:
        return ContactHours(enabled=enabled, tz=tz, country=country)
    except ValueError:
        # A bad time zone must not stop messaging: fall back to the default and keep the rules.
        return ContactHours(enabled=enabled, tz=DEFAULT_TZ, country=country)


@dataclass(frozen=True)
class Cap:
    per_window: int  # 0 = no cap
    window: timedelta


def cap(org: Organisation, settings: MessagingSettings) -> Cap:
    per = org_setting(org, "contact_cap")
    try:
        per_window = int(per) if per not in (None, "") else settings.messaging_cap
    except (TypeError, ValueError):
        per_window = settings.messaging_cap
    window_text = org_setting(org, "contact_cap_window")
    try:
        window = parse_duration(str(window_text)) if window_text else settings.cap_window
    except ValueError:
        window = settings.cap_window
    return Cap(max(0, per_window), window if window > timedelta(0) else settings.cap_window)


def normalise_recipient(channel: str, recipient: str | None) -> str | None:
    if recipient is None:
        return None
    value = recipient.strip()
    if channel == "email":
        return value.lower() or None
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits or None


async def opted_out(session: AsyncSession, org_id: int, channel: str,
                    people: Sequence[tuple[int | None, str | None]]) -> set[int]:
    """Indexes of `people` ((customer_id, recipient) pairs) who opted out of the channel."""
    customers = {c for c, _ in people if c is not None}
    recipients = {r for _, r in people if r}
    if not customers and not recipients:
        return set()
    conds = []
    if customers:
        conds.append(OptOut.customer_id.in_(customers))
    if recipients:
        conds.append(OptOut.recipient.in_(recipients))
    rows = (await session.execute(select(OptOut.customer_id, OptOut.recipient).where(
        OptOut.org_id == org_id, OptOut.channel == channel, or_(*conds)))).all()
    out_customers = {r.customer_id for r in rows if r.customer_id is not None}
    out_recipients = {r.recipient for r in rows if r.recipient is not None}
    return {i for i, (c, r) in enumerate(people)
            if (c is not None and c in out_customers) or (r is not None and r in out_recipients)}


async def recent_counts(session: AsyncSession, org_id: int, channel: str, since: datetime,
                        customers: Iterable[int], recipients: Iterable[str]
                        ) -> tuple[dict[int, int], dict[str, int]]:
    """Messages that count towards the cap since `since`: every message not failed (pending ones
    included: they will go), by customer and, for people without a customer, by recipient."""
    customers, recipients = set(customers), set(recipients)
    by_customer: dict[int, int] = {}
    by_recipient: dict[str, int] = {}
    live = and_(Message.org_id == org_id, Message.channel == channel, Message.status != "failed",
                func.coalesce(Message.sent_at, Message.created_at) > since)
    if customers:
        rows = await session.execute(select(Message.customer_id, func.count()).where(
            live, Message.customer_id.in_(customers)).group_by(Message.customer_id))
        by_customer = {r[0]: int(r[1]) for r in rows}
    if recipients:
        rows = await session.execute(select(Message.recipient, func.count()).where(
            live, Message.customer_id.is_(None), Message.recipient.in_(recipients)).group_by(Message.recipient))
        by_recipient = {r[0]: int(r[1]) for r in rows}
    return by_customer, by_recipient
