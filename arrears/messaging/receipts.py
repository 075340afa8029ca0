"""What providers tell us after the send: delivery reports, events and replies.

- SMSPortal posts delivery reports (`Status` DELIVRD, UNDELIV, EXPIRED, REJECTD, …, with our
  reference as `UserReference`) and replies (an inbound `STOP` opts the sender out) to
  `POST /providers/smsportal/dlr/{callback_token}`.
- SendGrid posts its Event Webhook (a JSON array: processed, delivered, open, click, bounce,
  dropped, spamreport, unsubscribe, …; our reference in the `arrears_message_id` custom arg) to
  `POST /providers/sendgrid/events/{callback_token}`; the ECDSA signature is checked when a
  verification key is configured (organisation setting `sendgrid_webhook_public_key`, else
  SENDGRID_WEBHOOK_PUBLIC_KEY).

The token is the organisation's `callback_token`: a wrong one is 404. A reference that matches no
message of that organisation is kept (receipt outcome `unknown_reference`), logged and answered
200, so the provider does not retry it forever. Statuses only move forward (sent → delivered →
read; a failure report does not undo a delivery), except that a report proves a message sent
whose outcome was unknown (OUTCOME_UNKNOWN). Every move to delivered or failed emits
`message.delivered` / `message.failed`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.db import utcnow
from arrears.errors import Forbidden, NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.identity.service import org_setting
from arrears.messaging import optouts, rules
from arrears.messaging.errors import MessagingErrorCode
from arrears.messaging.models import Message, MessageReceipt
from arrears.messaging.outbox import OUTCOME_UNKNOWN, message_event_data
from arrears.messaging.providers.sendgrid import REFERENCE_ARG
from arrears.messaging.settings import messaging_settings

log = logging.getLogger("arrears.messaging.receipts")

SMSPORTAL_STATUSES: dict[str, str | None] = {
    "DELIVRD": "delivered", "DELIVERED": "delivered",
    "UNDELIV": "failed", "UNDELIVERABLE": "failed", "EXPIRED": "failed", "REJECTD": "failed",
    "REJECTED": "failed", "DELETED": "failed", "FAILED": "failed", "BLOCKED": "failed",
    "BLACKLISTED": "failed", "OPTEDOUT": "failed",
    "ACCEPTD": "sent", "ACCEPTED": "sent", "ENROUTE": "sent", "SENT": "sent",
    "UNKNOWN": None, "PENDING": None,
}
SENDGRID_EVENTS: dict[str, str | None] = {
    "processed": "sent", "delivered": "delivered", "open": "read", "click": "read",
    "bounce": "failed", "dropped": "failed", "blocked": "failed",
    "deferred": None, "spamreport": None, "unsubscribe": None, "group_unsubscribe": None,
    "group_resubscribe": None,
}
OPT_OUT_EVENTS = {"spamreport", "unsubscribe", "group_unsubscribe"}
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "OPTOUT", "OPT-OUT", "END", "QUIT", "CANCEL"}
_RANK = {"pending": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}


@dataclass
class Tally:
    received: int = 0
    applied: int = 0
    unchanged: int = 0
    unknown: int = 0
    ignored: int = 0
    duplicates: int = 0
    opted_out: int = 0
    details: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


async def org_by_token(session: AsyncSession, token: str) -> Organisation:
    org = None
    if token and len(token) <= 64:
        org = await session.scalar(select(Organisation).where(Organisation.callback_token == token))
    if org is None:
        raise NotFound("Unknown callback URL")
    return org


# ---------------------------------------------------------------- applying a status


def provider_caller(org_id: int, name: str) -> Caller:
    """Who acts when a provider reports: the system caller of the organisation whose callback
    URL (or simulated message) it is, named `provider:<name>` in the audit trail."""
    return Caller.system(org_id, f"provider:{name}")


async def apply_status(session: AsyncSession, caller: Caller, m: Message, status: str, *,
                       reason: str | None = None, at: datetime | None = None) -> bool:
    """Move a message to sent/delivered/read/failed as a receipt says; False when the receipt
    changes nothing (an older or repeated report). Only a provider's report (the system caller)
    says what became of a message: no user or API key may; another organisation's message is
    not found."""
    if caller.kind != "system":
        raise Forbidden("Only a provider's report changes a message's delivery status")
    if m.org_id != caller.org_id:
        raise NotFound(f"Message {m.uuid} not found")
    actor = caller.actor
    now = utcnow()
    at = at or now
    unknown_before = m.status == "failed" and m.error_code == OUTCOME_UNKNOWN
    proven_sent = m.status in ("sending", "sent", "delivered", "read") or unknown_before or (
        m.status == "pending" and m.attempts > 0)
    if not proven_sent:
        return False  # a report about a message never handed to a provider: nothing to learn
    current = "sent" if unknown_before else m.status
    had_delivered = m.status in ("delivered", "read")
    if status == "failed":
        if m.status in ("delivered", "read") or (m.status == "failed" and not unknown_before):
            return False
        m.status = "failed"
        m.error_code = "UNDELIVERED"
        m.response = reason or "The provider reported the message undelivered"
        m.failed_at = at
        m.sent_at = m.sent_at or m.attempt_started_at or at
    else:
        if _RANK.get(current, 0) >= _RANK[status] and not unknown_before:
            return False
        was = m.status
        m.status = status if _RANK[status] > _RANK.get(current, 0) else current
        if unknown_before:
            m.error_code = None
            m.failed_at = None
        m.sent_at = m.sent_at or m.attempt_started_at or at
        if status in ("delivered", "read"):
            m.delivered_at = m.delivered_at or at
        if status == "read":
            m.read_at = m.read_at or at
        if reason:
            m.response = reason
        if was == "pending":
            # Proven sent by an earlier attempt: it must not go again.
            m.claimed_by = None
            m.claim_until = None
    m.updated_at = now
    await session.flush()
    if m.status == "failed":
        await events.record(session, org_id=m.org_id, type="message.failed", actor=actor,
                            subject_type="message", subject_id=m.uuid, data=message_event_data(m))
    elif m.status in ("delivered", "read") and not had_delivered:
        await events.record(session, org_id=m.org_id, type="message.delivered", actor=actor,
                            subject_type="message", subject_id=m.uuid, data=message_event_data(m))
    return True


def _locked(q: Any) -> Any:
    """The message locked and read afresh: two reports of one message at once (a resent report,
    a delivery and a failure) are applied one after the other, each to what the other left."""
    return q.with_for_update().execution_options(populate_existing=True)


def _ref_key(ref: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(ref).strip()) if ref else None
    except ValueError:
        return None


async def _lock_refs(session: AsyncSession, org_id: int, refs: Iterable[Any]) -> None:
    """Lock the messages a batch of reports names, in one order (id), before any is applied: two
    batches naming the same messages in other orders then wait for each other, never deadlock."""
    keys = {k for k in (_ref_key(r) for r in refs) if k is not None}
    if keys:
        await session.execute(select(Message.id).where(Message.org_id == org_id, Message.uuid.in_(keys))
                              .order_by(Message.id).with_for_update())


async def _find(session: AsyncSession, org_id: int, provider: str, ref: str | None,
                external_id: str | None = None, recipient: str | None = None) -> Message | None:
    if ref:
        key = _ref_key(ref)
        if key is not None:
            m = await session.scalar(_locked(select(Message).where(Message.uuid == key,
                                                                   Message.org_id == org_id)))
            if m is not None:
                return m
    if external_id:
        q = select(Message).where(Message.org_id == org_id, Message.provider == provider,
                                  Message.external_id == external_id)
        if recipient:
            q = q.where(Message.recipient == recipient)
        rows = (await session.scalars(_locked(q.order_by(Message.id).limit(2)))).all()
        if len(rows) == 1:
            return rows[0]
    return None


async def _keep(session: AsyncSession, org: Organisation, provider: str, kind: str, payload: Mapping[str, Any], *,
                message: Message | None, reference: str | None, external_id: str | None, status: str | None,
                event_key: str | None, outcome: str) -> bool:
    """Store the receipt; False when the same event (by the provider's id) was stored already."""
    if event_key:
        dup = await session.scalar(select(MessageReceipt.id).where(MessageReceipt.provider == provider,
                                                                   MessageReceipt.event_key == event_key))
        if dup is not None:
            return False
    row = MessageReceipt(org_id=org.id, message_id=message.id if message else None, provider=provider, kind=kind,
                         reference=(reference or None) and str(reference)[:128],
                         external_id=(external_id or None) and str(external_id)[:128],
                         status=(status or None) and str(status)[:64], event_key=event_key and event_key[:200],
                         outcome=outcome, payload=_jsonable(payload), received_at=utcnow())
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


def _jsonable(payload: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(dict(payload), default=str))
    except (TypeError, ValueError):
        return {"raw": str(payload)[:4000]}


def _epoch(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


# ---------------------------------------------------------------- SMSPortal


def _first(item: Mapping[str, Any], *keys: str) -> Any:
    lowered = {str(k).lower(): v for k, v in item.items()}
    for key in keys:
        value = lowered.get(key.lower())
        if value not in (None, ""):
            return value
    return None


def _items(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, dict):
        for key in ("Messages", "messages", "Reports", "reports", "Items", "items", "data"):
            if isinstance(payload.get(key), list):
                return [x for x in payload[key] if isinstance(x, dict)]
        return [payload]
    if isinstance(payload, list):
        return [x for x in payload if isinstance(x, dict)]
    raise ValidationFailed("Expected a JSON object or array of delivery reports")


async def smsportal(session: AsyncSession, token: str, payload: Any) -> Tally:
    """Delivery reports and replies from SMSPortal (one object, or an array of them)."""
    org = await org_by_token(session, token)
    tally = Tally()
    items = _items(payload)
    await _lock_refs(session, org.id, (_first(item, "UserReference", "CustomerId", "CustomerID") for item in items))
    for item in items:
        tally.received += 1
        if _first(item, "Status") is not None:
            await _smsportal_dlr(session, org, item, tally)
        elif _first(item, "IncomingData", "Message", "MessageText", "Content", "Text", "Body") is not None:
            await _smsportal_reply(session, org, item, tally)
        else:
            tally.ignored += 1
            await _keep(session, org, "smsportal", "unknown", item, message=None, reference=None,
                        external_id=None, status=None, event_key=None, outcome="ignored")
    return tally


def _region(org: Organisation) -> str:
    return rules.region_or_default(org_setting(org, "default_region"))


async def _smsportal_dlr(session: AsyncSession, org: Organisation, item: Mapping[str, Any], tally: Tally) -> None:
    raw = str(_first(item, "Status")).strip()
    status = SMSPORTAL_STATUSES.get(raw.upper().replace("-", "").replace(" ", ""), None)
    ref = _first(item, "UserReference", "CustomerId", "CustomerID")
    event_id = _first(item, "EventId", "EventID")
    written = str(_first(item, "Msisdn", "Phonenumber", "PhoneNumber") or "")
    msisdn = rules.phone_key(written, _region(org)) or written.lstrip("+") or None  # as recipients are stored
    m = await _find(session, org.id, "smsportal", ref, str(event_id) if event_id is not None else None, msisdn)
    key = f"dlr:{ref or ''}:{event_id or ''}:{msisdn or ''}:{raw}:{_first(item, 'Received', 'ID', 'Id') or ''}"
    if m is None:
        tally.unknown += 1
        log.warning("SMSPortal report for an unknown message (org %s, reference %r, event %r, status %s)",
                    org.id, ref, event_id, raw)
        await _keep(session, org, "smsportal", "status", item, message=None, reference=ref, external_id=event_id,
                    status=raw, event_key=key, outcome="unknown_reference")
        return
    if status is None:
        tally.ignored += 1
        await _keep(session, org, "smsportal", "status", item, message=m, reference=ref, external_id=event_id,
                    status=raw, event_key=key, outcome="ignored_status")
        return
    if not await _keep(session, org, "smsportal", "status", item, message=m, reference=ref, external_id=event_id,
                       status=raw, event_key=key, outcome="applied"):
        tally.duplicates += 1
        return
    reason = f"SMSPortal delivery report: {raw}" if status == "failed" else None
    changed = await apply_status(session, provider_caller(org.id, "smsportal"), m, status, reason=reason,
                                 at=_epoch(_first(item, "Received")))
    if changed:
        tally.applied += 1
    else:
        tally.unchanged += 1


def is_stop(text: str) -> bool:
    words = text.strip().upper().replace(".", " ").replace("!", " ").split()
    if not words:
        return False
    return words[0] in STOP_WORDS or " ".join(words[:2]) == "OPT OUT"


async def _smsportal_reply(session: AsyncSession, org: Organisation, item: Mapping[str, Any], tally: Tally) -> None:
    text = str(_first(item, "IncomingData", "Message", "MessageText", "Content", "Text", "Body"))
    number = "".join(ch for ch in str(_first(item, "Msisdn", "Phonenumber", "PhoneNumber", "From",
                                             "SourceAddress") or "") if ch.isdigit())
    ref = _first(item, "UserReference", "CustomerId", "CustomerID")
    m = await _find(session, org.id, "smsportal", ref) if ref else None
    key = f"reply:{_first(item, 'Id', 'IncomingID', 'IncomingId') or ''}:{number}:{text[:50]}"
    stop = is_stop(text)
    if not await _keep(session, org, "smsportal", "reply", item, message=m, reference=ref, external_id=None,
                       status="STOP" if stop else "REPLY", event_key=key, outcome="opt_out" if stop else "stored"):
        tally.duplicates += 1
        return
    if not stop:
        tally.ignored += 1
        return
    customers = set(await optouts.customers_with_phone(session, org.id, number)) if number else set()
    if m is not None and m.customer_id is not None:
        customers.add(m.customer_id)
    reason = f"Replied {text.strip()[:40]!r} by SMS"
    reporter = provider_caller(org.id, "smsportal")
    if number:
        await optouts.add(session, reporter, channel="sms", recipient=number, source="reply", reason=reason)
    for cid in customers:
        await optouts.add(session, reporter, channel="sms", customer_id=cid, source="reply", reason=reason)
    tally.opted_out += 1


# ---------------------------------------------------------------- SendGrid


def verify_sendgrid_signature(public_key: str, signature: str | None, timestamp: str | None, body: bytes) -> bool:
    """SendGrid's Event Webhook signature: ECDSA P-256 / SHA-256 over timestamp + raw body."""
    if not signature or not timestamp:
        return False
    try:
        key_text = public_key.strip()
        if "BEGIN PUBLIC KEY" in key_text:
            key = load_pem_public_key(key_text.encode())
        else:
            key = load_der_public_key(base64.b64decode(key_text))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        return False


async def sendgrid(session: AsyncSession, token: str, body: bytes, headers: Mapping[str, str]) -> Tally:
    org = await org_by_token(session, token)
    key = org_setting(org, "sendgrid_webhook_public_key") or messaging_settings().sendgrid_webhook_public_key
    if key:
        sig = headers.get("x-twilio-email-event-webhook-signature")
        ts = headers.get("x-twilio-email-event-webhook-timestamp")
        if not verify_sendgrid_signature(str(key), sig, ts, body):
            raise Forbidden("The SendGrid event signature is missing or does not verify", code=MessagingErrorCode.BAD_SIGNATURE)
    try:
        payload = json.loads(body or b"[]")
    except ValueError:
        raise ValidationFailed("The body is not JSON") from None
    tally = Tally()
    items = _items(payload)
    await _lock_refs(session, org.id, (_sendgrid_ref(item) for item in items))
    for item in items:
        tally.received += 1
        await _sendgrid_event(session, org, item, tally)
    return tally


def _sendgrid_ref(item: Mapping[str, Any]) -> Any:
    ref = item.get(REFERENCE_ARG)
    if ref is None and isinstance(item.get("custom_args"), dict):
        ref = item["custom_args"].get(REFERENCE_ARG)
    return ref


async def _sendgrid_event(session: AsyncSession, org: Organisation, item: Mapping[str, Any], tally: Tally) -> None:
    event = str(item.get("event") or "").strip().lower()
    ref = _sendgrid_ref(item)
    sg_id = str(item.get("sg_message_id") or "") or None
    external = sg_id.split(".", 1)[0] if sg_id else None
    m = await _find(session, org.id, "sendgrid", ref, external)
    key = str(item.get("sg_event_id") or "") or f"{sg_id}:{event}:{item.get('timestamp')}"
    if m is None and event not in OPT_OUT_EVENTS:
        tally.unknown += 1
        log.warning("SendGrid %s event for an unknown message (org %s, reference %r, sg_message_id %r)",
                    event, org.id, ref, sg_id)
        await _keep(session, org, "sendgrid", "event", item, message=None, reference=ref, external_id=external,
                    status=event, event_key=key, outcome="unknown_reference")
        return
    status = SENDGRID_EVENTS.get(event)
    outcome = "opt_out" if event in OPT_OUT_EVENTS else ("applied" if status else "ignored_status")
    if not await _keep(session, org, "sendgrid", "event", item, message=m, reference=ref, external_id=external,
                       status=event, event_key=key, outcome=outcome):
        tally.duplicates += 1
        return
    if event in OPT_OUT_EVENTS:
        address = str(item.get("email") or (m.recipient if m else "") or "")
        customers = set(await optouts.customers_with_email(session, org.id, address)) if address else set()
        if m is not None and m.customer_id is not None:
            customers.add(m.customer_id)
        reason = f"SendGrid {event} event"
        reporter = provider_caller(org.id, "sendgrid")
        if address:
            await optouts.add(session, reporter, channel="email", recipient=address, source="provider",
                              reason=reason)
        for cid in customers:
            await optouts.add(session, reporter, channel="email", customer_id=cid, source="provider",
                              reason=reason)
        tally.opted_out += 1
        return
    if status is None or m is None:
        tally.ignored += 1
        return
    failure: str | None = None
    if status == "failed":
        why = item.get("reason") or item.get("response") or item.get("type") or event
        failure = f"SendGrid {event}: {str(why)[:500]}"
    changed = await apply_status(session, provider_caller(org.id, "sendgrid"), m, status, reason=failure,
                                 at=_epoch(item.get("timestamp")))
    if changed:
        tally.applied += 1
    else:
        tally.unchanged += 1


# ---------------------------------------------------------------- the simulation's reports


async def simulated(session: AsyncSession, refs: Iterable[str], status: str) -> int:
    """The simulated network reporting: "delivered", "read" or "failed:<reason>"."""
    target, _, reason = status.partition(":")
    changed = 0
    keys = []
    for ref in refs:
        try:
            keys.append(uuid.UUID(ref))
        except ValueError:
            continue
    if not keys:
        return 0
    rows = (await session.scalars(_locked(select(Message).where(Message.uuid.in_(keys)).order_by(Message.id)))).all()
    for m in rows:
        if m.provider != "simulation":
            continue
        if await apply_status(session, provider_caller(m.org_id, "simulation"), m, target,
                              reason=f"Simulated report: {reason}" if reason else None):
            changed += 1
    return changed
