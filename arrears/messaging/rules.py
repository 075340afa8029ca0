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

from arrears.customers.phones import DEFAULT_REGION, region_or_default, try_parse_phone
from arrears.debtors.reading.phones import normalise_phone
from arrears.durations import parse_duration
from arrears.identity.models import Organisation
from arrears.identity.service import org_setting
from arrears.messaging.contact_rules import DEFAULT_COUNTRY, DEFAULT_TZ, ContactHours
from arrears.messaging.models import Message, OptOut
from arrears.messaging.settings import MessagingSettings

OFF = {"off", "false", "0", "no", "disabled"}

# Per-message reasons, as the logs show them (error_code, response_from_service).
OPTED_OUT = "OPTED_OUT"
CAP_REACHED = "CAP_REACHED"
INVALID_RECIPIENT = "INVALID_RECIPIENT"
NO_RECIPIENT = "NO_RECIPIENT"
DUPLICATE = "DUPLICATE"
# The account is disputed, handed over or written off (arrears.accounts): no collection message.
ACCOUNT_ON_HOLD = "ACCOUNT_ON_HOLD"
OUTSIDE_HOURS = "OUTSIDE_CONTACT_HOURS"  # held (pending), not failed: it goes at the next permitted minute


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


def phone_key(value: str | None, region: str = DEFAULT_REGION) -> str | None:
    """The one form every SMS recipient is stored and compared in: E.164 digits without the `+`
    (27821234567), parsed by phonenumbers in the organisation's region, so `082 123 4567`,
    `+27 82 123 4567` and `27821234567` are the same person. A bare digit string a provider
    reports (international, no `+`) is tried as international when it is not a local number.
    None when it is not a valid number."""
    text = " ".join(str(value or "").split())
    if not text:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    region = region_or_default(region)
    if region == DEFAULT_REGION:
        # The import's fast path: the same digits phonenumbers gives, without its cost per call.
        digits, valid = normalise_phone(text)
        if valid:
            return digits
    phone = try_parse_phone(text, region)
    if phone is None and not text.startswith("+"):
        phone = try_parse_phone("+" + text, region)
    return phone.digits if phone is not None else None


def email_key(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    return text or None


def recipient_channel(recipient: str) -> str:
    """The channel a bare recipient belongs to: an address has an @, anything else is a number."""
    return "email" if "@" in recipient else "sms"


def normalise_recipient(channel: str, recipient: str | None, region: str = DEFAULT_REGION) -> str | None:
    if recipient is None:
        return None
    return email_key(recipient) if channel == "email" else phone_key(recipient, region)


async def org_region(session: AsyncSession, org_id: int) -> str:
    """The organisation's `default_region` (ZA when unset): how numbers without a country code read."""
    org = await session.get(Organisation, org_id)
    return region_or_default(org_setting(org, "default_region") if org is not None else None)


async def opted_out(session: AsyncSession, org_id: int, channel: str,
                    people: Sequence[tuple[int | None, str | None]]) -> set[int]:
    """Indexes of `people` ((customer_id, recipient) pairs) who opted out of the channel."""
    if channel == "email":  # addresses are stored lower-cased in opt-outs, written as given in messages
        people = [(c, r.lower() if r else r) for c, r in people]
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
        by_customer = {cid: int(n) for cid, n in rows if cid is not None}
    if recipients:
        by_to = await session.execute(select(Message.recipient, func.count()).where(
            live, Message.customer_id.is_(None), Message.recipient.in_(recipients)).group_by(Message.recipient))
        by_recipient = {to: int(n) for to, n in by_to}
    return by_customer, by_recipient
