"""The organisation's own message templates: list, read, create, change, delete (with the
built-ins shown beside them). Rendering and placeholder checks live in templates.py.

Services take a session and the caller, authorise, flush and never commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.db import advisory_lock, utcnow
from arrears.errors import Conflict, Forbidden, NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.messaging import locks
from arrears.messaging.errors import MessagingErrorCode
from arrears.messaging.models import CHANNELS, MessageTemplate
from arrears.messaging.templates import BUILTIN_TEMPLATES, check_template

MAX_EMAIL_BODY = 20_000
MAX_SUBJECT = 255
TEMPLATE_NAME_MAX = 100
TEMPLATE_MANAGERS = ("admin", "manager")


@dataclass(frozen=True)
class TemplateView:
    name: str
    template: str
    channel: str = "sms"
    subject: str | None = None
    id: uuid.UUID | None = None  # None for the built-ins
    builtin: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


def validate_template_parts(channel: str, body: str, subject: str | None) -> None:
    """SMS: the spec's rules (1600 characters, [CustomerName] [AccountCode] [TotalBalance], no
    unknown placeholders). E-mail: the same placeholders in a longer body, and a one-line subject
    with known placeholders only."""
    if channel not in CHANNELS:
        raise ValidationFailed("channel must be sms or email", field_errors={"channel": ["Must be sms or email."]})
    if channel == "sms":
        if subject:
            raise ValidationFailed("An SMS template has no subject", field_errors={"subject": ["SMS has no subject."]})
        check_template(body)
        return
    if not subject or not subject.strip():
        raise ValidationFailed("An e-mail template needs a subject", field_errors={"subject": ["Required."]})
    if "\n" in subject or "\r" in subject:
        raise ValidationFailed("The subject is one line", field_errors={"subject": ["Remove the line breaks."]})
    check_template(subject, max_length=MAX_SUBJECT, required=())
    check_template(body, max_length=MAX_EMAIL_BODY)


def _template_view(t: MessageTemplate) -> TemplateView:
    return TemplateView(t.name, t.body, t.channel, t.subject, t.id, False, t.created_at, t.updated_at)


async def available_templates(session: AsyncSession, caller: Caller, channel: str | None = "sms"
                              ) -> list[TemplateView]:
    """The built-ins, then the organisation's own (by name)."""
    out = [TemplateView(b.name, b.template, "sms", builtin=True) for b in BUILTIN_TEMPLATES
           if channel in (None, "sms")]
    q = select(MessageTemplate).where(MessageTemplate.org_id == caller.org_id)
    if channel:
        q = q.where(MessageTemplate.channel == channel)
    out.extend(_template_view(t) for t in (await session.scalars(q.order_by(MessageTemplate.name))).all())
    return out


async def list_templates(session: AsyncSession, caller: Caller, *, channel: str | None = None,
                         offset: int = 0, limit: int = 20) -> tuple[list[MessageTemplate], int]:
    q = select(MessageTemplate).where(MessageTemplate.org_id == caller.org_id)
    if channel:
        if channel not in CHANNELS:
            raise ValidationFailed("channel must be sms or email", field_errors={"channel": ["Must be sms or email."]})
        q = q.where(MessageTemplate.channel == channel)
    total = await session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = (await session.scalars(q.order_by(MessageTemplate.name, MessageTemplate.id)
                                  .offset(offset).limit(limit))).all()
    return list(rows), int(total)


def parse_uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise NotFound(f"{what} not found") from None


async def get_template(session: AsyncSession, caller: Caller, template_id: Any) -> MessageTemplate:
    tid = parse_uuid(template_id, "Template")
    row = await session.scalar(select(MessageTemplate).where(MessageTemplate.id == tid,
                                                             MessageTemplate.org_id == caller.org_id))
    if row is None:
        raise NotFound("Template not found")
    return row


def _require_template_manager(caller: Caller, scope: str = "templates:write") -> None:
    caller.require_write()
    if caller.kind == "user":
        if caller.role not in TEMPLATE_MANAGERS:
            raise Forbidden("Only admins and managers change message templates")
    elif not caller.has_scope(scope):
        raise Forbidden(f"This API key lacks the {scope} scope")


def may_manage_templates(caller: Caller) -> bool:
    """Whether the caller may create, change and delete the organisation's templates."""
    try:
        _require_template_manager(caller)
    except Forbidden:
        return False
    return True


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("name is required", field_errors={"name": ["Required."]})
    name = " ".join(name.split())
    if len(name) > TEMPLATE_NAME_MAX:
        raise ValidationFailed(f"name is longer than {TEMPLATE_NAME_MAX} characters",
                               field_errors={"name": [f"At most {TEMPLATE_NAME_MAX} characters."]})
    if any(b.name.lower() == name.lower() for b in BUILTIN_TEMPLATES):
        raise Conflict(f"{name!r} is the name of a built-in template; choose another", code=MessagingErrorCode.TEMPLATE_NAME_TAKEN)
    return name


async def _name_free(session: AsyncSession, org_id: int, name: str, exclude: uuid.UUID | None = None) -> None:
    q = select(MessageTemplate.id).where(MessageTemplate.org_id == org_id,
                                         func.lower(MessageTemplate.name) == name.lower())
    if exclude is not None:
        q = q.where(MessageTemplate.id != exclude)
    if await session.scalar(q) is not None:
        raise Conflict(f"A template named {name!r} already exists", code=MessagingErrorCode.TEMPLATE_NAME_TAKEN)


async def create_template(session: AsyncSession, caller: Caller, *, name: Any, body: Any, channel: str = "sms",
                          subject: str | None = None) -> MessageTemplate:
    _require_template_manager(caller)
    name = _clean_name(name)
    if not isinstance(body, str):
        raise ValidationFailed("body is required", field_errors={"body": ["Required."]})
    validate_template_parts(channel, body, subject)
    # Names are unique whatever their case, which the unique index cannot say: check and write
    # under the organisation's lock, so that "Notice" and "notice" created at once are not both kept.
    await advisory_lock(session, locks.TEMPLATE_NAMES, caller.org_id)
    await _name_free(session, caller.org_id, name)
    now = utcnow()
    row = MessageTemplate(org_id=caller.org_id, name=name, channel=channel, body=body,
                          subject=subject.strip() if subject else None, created_by_id=caller.user_id,
                          created_at=now, updated_at=now)
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"A template named {name!r} already exists", code=MessagingErrorCode.TEMPLATE_NAME_TAKEN) from None
    await events.record(session, org_id=caller.org_id, type="message_template.created", actor=caller.actor,
                        subject_type="message_template", subject_id=row.id,
                        after={"name": name, "channel": channel})
    return row


async def update_template(session: AsyncSession, caller: Caller, template_id: Any, changes: dict[str, Any]
                          ) -> MessageTemplate:
    _require_template_manager(caller)
    row = await get_template(session, caller, template_id)
    before = {"name": row.name, "channel": row.channel, "subject": row.subject, "body": row.body}
    name = _clean_name(changes["name"]) if "name" in changes else row.name
    channel = changes.get("channel", row.channel)
    body = changes.get("body", row.body)
    subject = changes["subject"] if "subject" in changes else row.subject
    if channel == "sms" and "channel" in changes and "subject" not in changes:
        subject = None
    if not isinstance(body, str):
        raise ValidationFailed("body must be text", field_errors={"body": ["Must be text."]})
    validate_template_parts(channel, body, subject)
    if name != row.name:
        await advisory_lock(session, locks.TEMPLATE_NAMES, caller.org_id)
        await _name_free(session, caller.org_id, name, exclude=row.id)
    row.name, row.channel, row.body = name, channel, body
    row.subject = subject.strip() if subject else None
    row.updated_at = utcnow()
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"A template named {name!r} already exists", code=MessagingErrorCode.TEMPLATE_NAME_TAKEN) from None
    await events.record(session, org_id=caller.org_id, type="message_template.updated", actor=caller.actor,
                        subject_type="message_template", subject_id=row.id, before=before,
                        after={"name": row.name, "channel": row.channel, "subject": row.subject, "body": row.body})
    return row


async def delete_template(session: AsyncSession, caller: Caller, template_id: Any) -> None:
    _require_template_manager(caller)
    row = await get_template(session, caller, template_id)
    await session.delete(row)
    await session.flush()
    await events.record(session, org_id=caller.org_id, type="message_template.deleted", actor=caller.actor,
                        subject_type="message_template", subject_id=row.id, before={"name": row.name})
