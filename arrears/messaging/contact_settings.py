"""The organisation's contact rules as its admins set them: permitted contact hours on or off,
the country whose public holidays count, and the contact cap (how many messages per window).
What the rules mean when a message is queued is rules.py's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from arrears.durations import parse_duration
from arrears.errors import Forbidden, ValidationFailed
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation

CONTACT_FIELDS = ("contact_hours", "holiday_country", "contact_cap", "contact_cap_window")


def clean_contact_settings(values: Mapping[str, str]) -> dict[str, str]:
    """The settings to store, from a form's text; ValidationFailed with a message per field."""
    v = {k: (values.get(k) or "").strip() for k in CONTACT_FIELDS}
    v["contact_hours"] = "off" if v["contact_hours"] == "off" else "on"
    errors: dict[str, list[str]] = {}
    if v["holiday_country"] and (len(v["holiday_country"]) != 2 or not v["holiday_country"].isalpha()):
        errors["holiday_country"] = ["Use a two-letter country code such as ZA."]
    if v["contact_cap"] and (not v["contact_cap"].isdigit()):
        errors["contact_cap"] = ["Use a whole number: 0 for no cap, 1 for one message per window, …"]
    if v["contact_cap_window"]:
        try:
            if parse_duration(v["contact_cap_window"]) <= timedelta(0):
                raise ValueError("the window must be longer than zero")
        except ValueError as exc:
            errors["contact_cap_window"] = [f"{exc}. Write a duration such as 24h or 168h."]
    if errors:
        raise ValidationFailed("Check the contact rules", field_errors=errors)
    v["holiday_country"] = v["holiday_country"].upper()
    return v


async def save_contact_settings(session: AsyncSession, caller: Caller, org: Organisation,
                                values: Mapping[str, str]) -> dict[str, str]:
    """Admins with write access only; the organisation must be the caller's."""
    if not caller.is_admin:
        raise Forbidden("Only organisation admins can do this.")
    caller.require_write()
    if org.id != caller.org_id:
        raise Forbidden("Only organisation admins can do this.")
    clean = clean_contact_settings(values)
    await identity.set_org_settings(session, caller, org, clean)
    return clean
