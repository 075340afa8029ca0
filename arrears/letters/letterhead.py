"""The organisation's letterhead: name, address, registration and VAT numbers, contact details and
a logo. Admins and managers change it; everyone who may make letters reads it. Until one is saved,
letters carry the organisation's name alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.db import utcnow
from arrears.errors import ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.letters.logo import check_logo
from arrears.letters.models import Letterhead
from arrears.letters.render import Head
from arrears.letters.templates import require_writer

# field: (max length, multi-line)
FIELDS: dict[str, tuple[int, bool]] = {
    "name": (255, False), "address": (1000, True), "registration_number": (64, False), "vat_number": (64, False),
    "phone": (64, False), "email": (254, False), "website": (255, False),
}
MAX_ADDRESS_LINES = 6


async def get_letterhead(session: AsyncSession, org_id: int) -> Letterhead | None:
    return await session.get(Letterhead, org_id)


async def head_for(session: AsyncSession, org_id: int) -> Head:
    """The letterhead as the renderer needs it (the organisation's name when none was saved)."""
    lh = await get_letterhead(session, org_id)
    if lh is None:
        org = await session.get(Organisation, org_id)
        return Head(org.name if org is not None else "")
    address = tuple(x.strip() for x in (lh.address or "").splitlines() if x.strip())
    return Head(lh.name, address, lh.registration_number, lh.vat_number, lh.phone, lh.email, lh.website, lh.logo)


def snapshot(lh: Letterhead) -> dict[str, Any]:
    return {k: getattr(lh, k) for k in FIELDS} | {"logo": {"type": lh.logo_type, "width": lh.logo_width,
                                                           "height": lh.logo_height} if lh.logo else None}


def _clean(data: dict[str, Any]) -> dict[str, str | None]:
    errors: dict[str, list[str]] = {}
    out: dict[str, str | None] = {}
    for name, (limit, multiline) in FIELDS.items():
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            out[name] = None
            continue
        if not isinstance(value, str):
            errors[name] = ["Not a valid string."]
            continue
        text = value.strip().replace("\r\n", "\n")
        if not multiline and ("\n" in text or "\r" in text):
            errors[name] = ["Must be one line."]
        elif len(text) > limit:
            errors[name] = [f"Ensure this field has no more than {limit} characters."]
        elif multiline and len([x for x in text.split("\n") if x.strip()]) > MAX_ADDRESS_LINES:
            errors[name] = [f"At most {MAX_ADDRESS_LINES} lines."]
        out[name] = text
    if not out.get("name") and "name" not in errors:
        errors["name"] = ["This field is required."]
    if errors:
        raise ValidationFailed("Invalid letterhead: " + ", ".join(errors), field_errors=errors)
    return out


async def save_letterhead(session: AsyncSession, caller: Caller, data: dict[str, Any],
                          logo: bytes | None = None) -> Letterhead:
    """Replace the letterhead's text (every field; those left out are cleared) and, when `logo`
    is given, its logo (checked first: a bad logo changes nothing)."""
    require_writer(caller, "the letterhead")
    clean = _clean(data)
    checked = check_logo(logo) if logo is not None else None
    lh = await get_letterhead(session, caller.org_id)
    before = snapshot(lh) if lh is not None else None
    if lh is None:
        lh = Letterhead(org_id=caller.org_id, updated_by=caller.actor)
        session.add(lh)
    for k, v in clean.items():
        setattr(lh, k, v)
    if checked is not None:
        lh.logo, lh.logo_type, lh.logo_width, lh.logo_height = (checked.data, checked.content_type, checked.width,
                                                                checked.height)
    lh.updated_by, lh.updated_at = caller.actor, utcnow()
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="letterhead.updated", actor=caller.actor,
                        subject_type="letterhead", subject_id=caller.org_id, before=before, after=snapshot(lh))
    return lh


async def set_logo(session: AsyncSession, caller: Caller, logo: bytes | None) -> Letterhead:
    """Upload (checked) or remove (None) the logo; a letterhead is started from the organisation's
    name when there is none yet."""
    require_writer(caller, "the letterhead")
    checked = check_logo(logo) if logo is not None else None
    lh = await get_letterhead(session, caller.org_id)
    before = snapshot(lh) if lh is not None else None
    if lh is None:
        org = await session.get(Organisation, caller.org_id)
        lh = Letterhead(org_id=caller.org_id, name=org.name if org is not None else "", updated_by=caller.actor)
        session.add(lh)
    if checked is None:
        lh.logo = lh.logo_type = lh.logo_width = lh.logo_height = None
    else:
        lh.logo, lh.logo_type, lh.logo_width, lh.logo_height = (checked.data, checked.content_type, checked.width,
                                                                checked.height)
    lh.updated_by, lh.updated_at = caller.actor, utcnow()
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="letterhead.updated", actor=caller.actor,
                        subject_type="letterhead", subject_id=caller.org_id, before=before, after=snapshot(lh))
    return lh
