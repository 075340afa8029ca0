"""A captive's debit-order settings: its ACB user, the daily schedule and the auto-success rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.db import utcnow
from arrears.errors import Conflict, ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.sealed import reveal, same
from arrears.premiums.acb import AcbFormatError, UserInfo
from arrears.premiums.debit_orders.authority import may_change_settings
from arrears.premiums.debit_orders.models import DebitOrderSettings
from arrears.premiums.errors import PremiumErrorCode
from arrears.premiums.schemas import mask

#: Fields a caller may set, with their defaults for a new row (None = required).
FIELDS: dict[str, Any] = {
    "user_code": None, "abbreviated_name": None, "nominated_branch": None, "nominated_account": None,
    "generation_number": 1, "entry_class": "44", "type_of_service": "TWO DAY",
    "schedule_enabled": False, "lead_days": 2, "auto_success_days": 5,
}
_INTS = {"generation_number": (1, 9999), "lead_days": (0, 30), "auto_success_days": (1, 60)}


class NotConfigured(Conflict):
    code = PremiumErrorCode.DEBIT_ORDERS_NOT_CONFIGURED


@dataclass(frozen=True)
class SettingsChange:
    settings: DebitOrderSettings
    schedule_turned_on: bool


def user_info(s: DebitOrderSettings) -> UserInfo:
    """The ACB user as the bank file's header needs it: the one place the nominated account is
    decrypted (it is written into the file)."""
    return UserInfo(user_code=s.user_code, abbreviated_name=s.abbreviated_name,
                    nominated_branch=s.nominated_branch, nominated_account=reveal(s.nominated_account) or "",
                    generation_number=s.generation_number, entry_class=s.entry_class,
                    type_of_service=s.type_of_service)


def settings_out(s: DebitOrderSettings) -> dict[str, Any]:
    return {"user_code": s.user_code, "abbreviated_name": s.abbreviated_name,
            "nominated_branch": s.nominated_branch, "nominated_account": mask(s.nominated_account),
            "generation_number": s.generation_number, "entry_class": s.entry_class,
            "type_of_service": s.type_of_service, "schedule_enabled": s.schedule_enabled,
            "lead_days": s.lead_days, "auto_success_days": s.auto_success_days}


async def get_settings(session: AsyncSession, org_id: int, *, for_update: bool = False
                       ) -> DebitOrderSettings | None:
    q = select(DebitOrderSettings).where(DebitOrderSettings.org_id == org_id)
    if for_update:
        q = q.with_for_update()
    return await session.scalar(q)


async def require_settings(session: AsyncSession, org_id: int, *, for_update: bool = False
                           ) -> DebitOrderSettings:
    s = await get_settings(session, org_id, for_update=for_update)
    if s is None:
        raise NotConfigured("Debit orders are not configured for this captive: set the ACB user "
                            "(user_code, abbreviated_name, nominated_branch, nominated_account) first")
    return s


def _check(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ValidationFailed(f"Unknown setting(s): {', '.join(unknown)}",
                               field_errors={k: ["Unknown setting."] for k in unknown})
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key in _INTS:
            lo, hi = _INTS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                errors[key] = [f"Must be a whole number from {lo} to {hi}."]
                continue
        elif key == "schedule_enabled":
            if not isinstance(value, bool):
                errors[key] = ["Must be true or false."]
                continue
        elif not isinstance(value, str) or not value.strip():
            errors[key] = ["Must be a non-empty string."]
            continue
        else:
            value = value.strip() if key != "abbreviated_name" else value
        clean[key] = value
    if errors:
        raise ValidationFailed("Invalid settings: " + "; ".join(f"{k}: {v[0]}" for k, v in errors.items()),
                               field_errors=errors)
    return clean


#: Stands in for a stored nominated account when the settings are checked: that one was checked
#: when it was written, and it is not decrypted to be checked again.
_CHECKED_ACCOUNT = "1000000001"


def _validated(row: DebitOrderSettings, new_account: str | None) -> None:
    """Check the settings as the file writer will use them, the nominated account only when it
    is being written (in clear)."""
    UserInfo(user_code=row.user_code, abbreviated_name=row.abbreviated_name,
             nominated_branch=row.nominated_branch, nominated_account=new_account or _CHECKED_ACCOUNT,
             generation_number=row.generation_number, entry_class=row.entry_class,
             type_of_service=row.type_of_service).validated()


async def update_settings(session: AsyncSession, caller: Caller, values: dict[str, Any]) -> SettingsChange:
    """Create or change the caller's captive's settings (only the fields given; its admins, see
    `authority`). The ACB user is validated as the file writer will use it, so a bad user code
    fails here and not at the first run."""
    may_change_settings(caller)
    org_id, actor = caller.org_id, caller.actor
    clean = _check(values)
    row = await get_settings(session, org_id, for_update=True)
    before = settings_out(row) if row is not None else None
    was_on = bool(row and row.schedule_enabled)
    if row is None:
        missing = [k for k, d in FIELDS.items() if d is None and k not in clean]
        if missing:
            raise ValidationFailed(f"Debit orders need {', '.join(missing)}",
                                   field_errors={k: ["This field is required."] for k in missing})
        row = DebitOrderSettings(org_id=org_id, created_at=utcnow(),
                                 **{k: clean.get(k, d) for k, d in FIELDS.items()})
        session.add(row)
    else:
        if "nominated_account" in clean and same(row.nominated_account, clean["nominated_account"],
                                                  row.nominated_account_fingerprint):
            del clean["nominated_account"]  # resent as it is: not written again
        for k, v in clean.items():
            setattr(row, k, v)
    try:
        _validated(row, clean.get("nominated_account"))
    except AcbFormatError as exc:
        field = exc.field or "settings"
        raise ValidationFailed(f"Invalid settings: {exc.reason}", field_errors={field: [exc.reason]}) from None
    row.updated_at = utcnow()
    await session.flush()
    after = settings_out(row)
    if after != before or "nominated_account" in clean:  # a new account may end as the old one did
        await events.record(session, org_id=org_id, type="debit_orders.settings_updated", actor=actor,
                            subject_type="debit_order_settings", subject_id=org_id,
                            before=before, after=after, data={"settings": after})
    return SettingsChange(row, row.schedule_enabled and not was_on)
