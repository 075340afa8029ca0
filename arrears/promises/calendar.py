"""The organisation's calendar as promises need it: its local today, its grace days, its next
working day (weekends and the public holidays of its `holiday_country` skipped)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from arrears.debtors.book import local_today, zone_of
from arrears.identity.service import get_org, org_setting
from arrears.messaging.contact_rules import DEFAULT_COUNTRY, is_public_holiday

DEFAULT_GRACE_DAYS = 2
MAX_GRACE_DAYS = 60


async def org_today(session: AsyncSession, org_id: int, now: datetime | None = None) -> date:
    """Today in the organisation's time zone (its `timezone` setting, Johannesburg by default)."""
    return local_today(zone_of(await get_org(session, org_id)), now)


def grace_days(org: Any) -> int:
    """The organisation's `promise_grace_days` (default 2): the days after an instalment's date
    that a payment still counts as on time."""
    raw = org_setting(org, "promise_grace_days")
    try:
        value = int(str(raw).strip()) if raw is not None and str(raw).strip() else DEFAULT_GRACE_DAYS
    except ValueError:
        return DEFAULT_GRACE_DAYS
    return min(max(value, 0), MAX_GRACE_DAYS)


def holiday_country(org: Any) -> str:
    raw = org_setting(org, "holiday_country")
    return raw.strip().upper() if isinstance(raw, str) and len(raw.strip()) == 2 else DEFAULT_COUNTRY


def next_working_day(day: date, country: str = DEFAULT_COUNTRY) -> date:
    """The first day after `day` that is neither a weekend nor a public holiday of `country`."""
    nxt = day + timedelta(days=1)
    while nxt.weekday() >= 5 or is_public_holiday(nxt, country):
        nxt += timedelta(days=1)
    return nxt
