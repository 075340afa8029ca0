"""AAMA: /api/messaging/… — templates, send, message logs and their summary (the spec's Messaging
section). The face translates; the rules live in arrears.messaging (service, upload_send).

Beyond the spec: each template carries `channel`, `subject` and (for an organisation's own) `id`;
the send answer adds `batch_id`, `queued_count`, `skipped_count` (opted out, over the contact cap,
no valid mobile number: written `failed` with the reason) and `scheduled_for` (later than now
outside permitted contact hours); `override_cap: true` (managers and admins) sends past the
per-customer cap.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from arrears.db import isoz
from arrears.faces.age_analysis.json import AamaJSONResponse
from arrears.faces.deps import SessionDep, UserDep
from arrears.messaging import service, upload_send
from arrears.messaging.models import Message

router = APIRouter(prefix="/api/messaging", tags=["AAMA: messaging"], default_response_class=AamaJSONResponse)


class SendBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    account_ids: list[Any] = Field(description="Accounts (of one upload) to message")
    message_template: str = Field(description="The SMS template, with [CustomerName], [AccountCode] and "
                                              "[TotalBalance]; at most 1600 characters")
    max_retries: int | None = Field(default=None, description="Retries of transient failures (default 3)")
    override_cap: bool = Field(default=False, description="Managers and admins: send past the "
                                                          "per-customer contact cap")
    override_account_status: bool = Field(
        default=False, description="Beyond the spec — managers and admins: message accounts that are disputed, "
                                   "handed over or written off (otherwise skipped, ACCOUNT_ON_HOLD)")


def template_out(t: service.TemplateView) -> dict[str, Any]:
    return {"name": t.name, "template": t.template, "channel": t.channel, "subject": t.subject,
            "id": str(t.id) if t.id else None, "builtin": t.builtin}


def log_out(m: Message, user_uuid: str | None) -> dict[str, Any]:
    return {
        "id": str(m.uuid), "account_id": str(m.account_id) if m.account_id else None,
        "upload_id": str(m.upload_id) if m.upload_id else None, "user_id": user_uuid,
        "message_template": m.template, "message_content": m.content, "recipient_telephone": m.recipient,
        "status": service.shown_status(m.status), "external_message_id": m.external_id,
        "sent_at": isoz(m.sent_at), "retry_count": m.retry_count, "max_retries": m.max_retries,
        "response_from_service": m.response, "created_at": isoz(m.created_at), "updated_at": isoz(m.updated_at),
        "error_code": m.error_code, "delivered_at": isoz(m.delivered_at),
    }


@router.get("/templates", summary="Available message templates (built-in and the organisation's own)")
async def templates(session: SessionDep, caller: UserDep) -> dict[str, Any]:
    views = await service.available_templates(session, caller, channel="sms")
    return {"templates": [template_out(t) for t in views]}


@router.post("/send", status_code=202, summary="Send messages to accounts of one upload")
async def send(body: SendBody, session: SessionDep, caller: UserDep) -> AamaJSONResponse:
    out = await upload_send.send_to_accounts(session, caller, body.account_ids, body.message_template,
                                         max_retries=body.max_retries, override_cap=body.override_cap,
                                         override_status=body.override_account_status)
    q = out.queued
    return AamaJSONResponse({
        "message": "Messaging job started successfully", "account_count": out.account_count,
        "upload_id": str(out.upload_id), "template_used": out.template, "estimated_time": out.estimated_time,
        "batch_id": str(q.batch_id), "queued_count": q.queued, "skipped_count": q.skipped,
        "skipped_reasons": dict(q.reasons), "scheduled_for": isoz(q.scheduled_for),
    }, status_code=202)


@router.get("/logs/{upload_id}", summary="Message logs of an upload")
async def logs(upload_id: str, session: SessionDep, caller: UserDep, page: int = Query(1),
               per_page: int = Query(20)) -> dict[str, Any]:
    p = await service.upload_logs(session, caller, upload_id, page=page, per_page=per_page)
    return {"message_logs": [log_out(m, u) for m, u in p.items], "total": p.total, "page": p.page,
            "per_page": p.size, "total_pages": p.pages, "has_more": p.has_more}


@router.get("/logs/{upload_id}/summary", summary="Messaging summary of an upload")
async def summary(upload_id: str, session: SessionDep, caller: UserDep) -> dict[str, Any]:
    s = await service.upload_summary(session, caller, upload_id)
    return {"upload_id": str(s.upload_id), "total_messages": s.total_messages, "sent_messages": s.sent_messages,
            "failed_messages": s.failed_messages, "delivered_messages": s.delivered_messages,
            "first_sent_at": isoz(s.first_sent_at), "last_sent_at": isoz(s.last_sent_at),
            "pending_messages": s.pending_messages, "read_messages": s.read_messages}
