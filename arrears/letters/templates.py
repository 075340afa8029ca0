"""Letter templates: the built-ins (read-only, the same ids everywhere) and an organisation's own.

Admins and managers write them (a copy of a built-in is how an organisation changes the wording);
every member and `letters:read` keys read them. Another organisation's template is a 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.accounts.service import parse_account_id
from arrears.errors import Conflict, Forbidden, NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.letters import placeholders
from arrears.letters.builtins import BUILTINS, BY_ID, Builtin
from arrears.letters.errors import LetterErrorCode
from arrears.letters.models import KINDS, LetterTemplate
from arrears.messaging.errors import MessagingErrorCode

MAX_NAME = 100


@dataclass(frozen=True)
class TemplateView:
    id: uuid.UUID
    name: str
    kind: str
    subject: str
    body: str
    builtin: bool
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, t: LetterTemplate | Builtin) -> TemplateView:
        if isinstance(t, Builtin):
            return cls(t.id, t.name, t.kind, t.subject, t.body, True)
        return cls(t.id, t.name, t.kind, t.subject, t.body, False, t.created_by, t.created_at, t.updated_at)


def may_write(caller: Caller) -> bool:
    """Admins and managers (users) write templates and the letterhead; never an API key."""
    return caller.kind == "user" and caller.is_manager_or_admin and caller.access == "write"


def require_writer(caller: Caller, what: str = "letter templates") -> None:
    caller.require_write()
    if not may_write(caller):
        raise Forbidden(f"Only admins and managers may change {what}.")


async def list_templates(session: AsyncSession, caller: Caller) -> list[TemplateView]:
    """The built-ins, then the organisation's own by name."""
    own = await session.scalars(select(LetterTemplate).where(LetterTemplate.org_id == caller.org_id)
                                .order_by(LetterTemplate.name, LetterTemplate.id))
    return [TemplateView.of(b) for b in BUILTINS] + [TemplateView.of(t) for t in own]


async def _own(session: AsyncSession, caller: Caller, template_id: Any, *, for_update: bool = False
               ) -> LetterTemplate | None:
    key = parse_account_id(template_id)
    if key is None:
        return None
    q = select(LetterTemplate).where(LetterTemplate.id == key, LetterTemplate.org_id == caller.org_id)
    if for_update:
        q = q.with_for_update()
    return await session.scalar(q)


async def get_template(session: AsyncSession, caller: Caller, template_id: Any) -> TemplateView:
    key = parse_account_id(template_id)
    if key is not None and key in BY_ID:
        return TemplateView.of(BY_ID[key])
    own = await _own(session, caller, template_id)
    if own is None:
        raise NotFound(f"Letter template {str(template_id)[:64]} not found.")
    return TemplateView.of(own)


async def find_template(session: AsyncSession, caller: Caller, name_or_id: str) -> TemplateView:
    """By id, else by name (the organisation's own first, then a built-in's name or key)."""
    if parse_account_id(name_or_id) is not None:
        return await get_template(session, caller, name_or_id)
    wanted = name_or_id.strip()
    own = await session.scalar(select(LetterTemplate).where(LetterTemplate.org_id == caller.org_id,
                                                            func.lower(LetterTemplate.name) == wanted.lower()))
    if own is not None:
        return TemplateView.of(own)
    for b in BUILTINS:
        if wanted.lower() in (b.name.lower(), b.key):
            return TemplateView.of(b)
    raise NotFound(f"Letter template {wanted[:64]} not found.")


def _clean(data: dict[str, Any], base: TemplateView | None) -> dict[str, Any]:
    """name, kind, subject and body, each from `data` or else `base` (a PATCH, or a copy)."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for key in ("name", "kind", "subject", "body"):
        value = data.get(key, getattr(base, key) if base is not None else None)
        if key == "kind" and value is None:
            value = "other"
        if value is not None and not isinstance(value, str):
            errors[key] = ["Not a valid string."]
            continue
        out[key] = value.strip() if isinstance(value, str) and key in ("name", "kind") else value
    name = out.get("name")
    if "name" not in errors and not name:
        errors["name"] = ["This field is required."]
    elif isinstance(name, str) and len(name) > MAX_NAME:
        errors["name"] = [f"Ensure this field has no more than {MAX_NAME} characters."]
    if "kind" not in errors and out.get("kind") not in KINDS:
        errors["kind"] = [f"Must be one of {', '.join(KINDS)}."]
    if "subject" not in errors and "body" not in errors:
        for field, messages in placeholders.problems(out.get("subject") or "", out.get("body") or "").items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        code = (MessagingErrorCode.INVALID_TEMPLATE if set(errors) <= {"subject", "body"} else None)
        raise ValidationFailed("Invalid letter template: " + "; ".join(m for ms in errors.values() for m in ms),
                               code=code, field_errors=errors)
    return out


async def _name_free(session: AsyncSession, org_id: int, name: str, but: uuid.UUID | None = None) -> None:
    q = select(LetterTemplate.id).where(LetterTemplate.org_id == org_id, LetterTemplate.name == name)
    if but is not None:
        q = q.where(LetterTemplate.id != but)
    if await session.scalar(q) is not None:
        raise Conflict(f"A letter template named {name!r} exists already.", code=MessagingErrorCode.TEMPLATE_NAME_TAKEN)


def _snapshot(t: LetterTemplate) -> dict[str, Any]:
    return {"id": str(t.id), "name": t.name, "kind": t.kind, "subject": t.subject, "body": t.body}


async def create_template(session: AsyncSession, caller: Caller, data: dict[str, Any]) -> TemplateView:
    """A template of the organisation's own; `copyOf` (a built-in's or own template's id) fills
    what `data` leaves out (its name gets " (copy)")."""
    require_writer(caller)
    base = None
    if data.get("copyOf") is not None:
        source = await get_template(session, caller, data["copyOf"])
        base = TemplateView(source.id, f"{source.name} (copy)"[:MAX_NAME], source.kind, source.subject, source.body,
                            False)
    clean = _clean(data, base)
    await _name_free(session, caller.org_id, clean["name"])
    t = LetterTemplate(org_id=caller.org_id, created_by=caller.actor, **clean)
    session.add(t)
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="letter_template.created", actor=caller.actor,
                        subject_type="letter_template", subject_id=t.id, after=_snapshot(t))
    return TemplateView.of(t)


async def update_template(session: AsyncSession, caller: Caller, template_id: Any, data: dict[str, Any]
                          ) -> TemplateView:
    require_writer(caller)
    key = parse_account_id(template_id)
    if key is not None and key in BY_ID:
        raise Conflict("Built-in letter templates are read-only: copy one (copyOf) to change its wording.",
                       code=LetterErrorCode.BUILTIN_READ_ONLY)
    t = await _own(session, caller, template_id, for_update=True)
    if t is None:
        raise NotFound(f"Letter template {str(template_id)[:64]} not found.")
    before = _snapshot(t)
    clean = _clean(data, TemplateView.of(t))
    await _name_free(session, caller.org_id, clean["name"], but=t.id)
    for k, v in clean.items():
        setattr(t, k, v)
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="letter_template.updated", actor=caller.actor,
                        subject_type="letter_template", subject_id=t.id, before=before, after=_snapshot(t))
    return TemplateView.of(t)


async def delete_template(session: AsyncSession, caller: Caller, template_id: Any) -> None:
    """Letters made from it keep their PDF and the template's name."""
    require_writer(caller)
    key = parse_account_id(template_id)
    if key is not None and key in BY_ID:
        raise Conflict("Built-in letter templates are read-only.", code=LetterErrorCode.BUILTIN_READ_ONLY)
    t = await _own(session, caller, template_id, for_update=True)
    if t is None:
        raise NotFound(f"Letter template {str(template_id)[:64]} not found.")
    before = _snapshot(t)
    await session.delete(t)
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="letter_template.deleted", actor=caller.actor,
                        subject_type="letter_template", subject_id=before["id"], before=before)
