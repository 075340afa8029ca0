"""Native messaging endpoints under /api/v1 (so errors take the partner face's body,
{"error": CODE, "message", "details"}): an organisation's own message templates and its opt-outs.

Callers: a user's JWT (any member reads; admins and managers change templates; anyone with write
access records opt-outs) or a partner `ins_` API key with the scopes `templates:read`,
`templates:write`, `opt-outs:read`, `opt-outs:write` (`*` grants all). Requests count against the
caller's partner rate limit (with the partner face's X-RateLimit-* headers) and are logged
in its usage. Shapes follow the partner spec: camelCase, UUID ids, lists as
{"data": [...], "pagination": {page, limit, total, totalPages}} (limit at most 100).
"""

from __future__ import annotations

from typing import Any

from fastapi import Query, Response
from pydantic import BaseModel, ConfigDict, Field

from arrears.db import isoz
from arrears.errors import ValidationFailed
from arrears.faces.deps import SessionDep
from arrears.faces.openapi import one_of
from arrears.faces.own_api import ApiCaller, require_scope
from arrears.faces.partner import views
from arrears.faces.partner.routing import partner_router
from arrears.messaging import optouts, template_store
from arrears.messaging.errors import MessagingErrorCode
from arrears.messaging.models import CHANNELS, MessageTemplate, OptOut
from arrears.messaging.templates import PLACEHOLDERS, validate_template
from arrears.paging import PageRequest
from arrears.partners.service import PAGES

# A partner router: the X-RateLimit-* headers on every answer, the spec's 429 and a usage row.
router = partner_router("/api/v1", "Messaging: templates and opt-outs")


# The scope an `ins_` key needs, in each route's OpenAPI description (issue 20, point 10).
_SCOPES = "; `*` covers every scope; user JWTs go by role. See docs/contracts.md#partner-scopes."
READ_T = "Scope: `templates:read` (or `templates:write`)" + _SCOPES
WRITE_T = "Scope: `templates:write`" + _SCOPES
READ_O = "Scope: `opt-outs:read` (or `opt-outs:write`)" + _SCOPES
WRITE_O = "Scope: `opt-outs:write`" + _SCOPES


def _page(page: int, limit: int) -> PageRequest:
    return PAGES.check(page, limit)


def _listing(data: list[Any], req: PageRequest, total: int) -> dict[str, Any]:
    return views.page(data, req.page, req.size, total)


# ------------------------------------------------------------------ templates


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique in the organisation; at most 100 characters")
    channel: str = Field(default="sms", description="sms or email")
    body: str = Field(description="The text with placeholders such as [CustomerName]; SMS at most 1600 "
                                  "characters; [CustomerName], [AccountCode] and [TotalBalance] are required")
    subject: str | None = Field(default=None, description="E-mail only: one line, placeholders allowed")


class TemplatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    channel: str | None = None
    body: str | None = None
    subject: str | None = None


class TemplateCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = "sms"
    body: str
    subject: str | None = None


def template_out(t: MessageTemplate) -> dict[str, Any]:
    return {"id": str(t.id), "name": t.name, "channel": t.channel, "subject": t.subject, "body": t.body,
            "createdAt": isoz(t.created_at), "updatedAt": isoz(t.updated_at)}


@router.get("/templates", summary="List the organisation's message templates",
            description=READ_T)
async def list_templates(session: SessionDep, caller: ApiCaller,
                         channel: str | None = Query(None, json_schema_extra=one_of(CHANNELS)),
                         page: int = Query(1), limit: int = Query(20)) -> dict[str, Any]:
    require_scope(caller, "templates:read", "templates:write")
    req = _page(page, limit)
    rows, total = await template_store.list_templates(session, caller, channel=channel, offset=req.offset,
                                                      limit=req.size)
    return _listing([template_out(t) for t in rows], req, total)


@router.post("/templates", status_code=201, summary="Create a message template", description=WRITE_T)
async def create_template(body: TemplateIn, session: SessionDep, caller: ApiCaller) -> dict[str, Any]:
    row = await template_store.create_template(session, caller, name=body.name, body=body.body, channel=body.channel,
                                        subject=body.subject)
    return template_out(row)


@router.post("/templates/validate", summary="Check a template without saving it", description=READ_T)
async def validate(body: TemplateCheck, caller: ApiCaller) -> dict[str, Any]:
    require_scope(caller, "templates:read", "templates:write")
    problems: list[Any] = []
    try:
        template_store.validate_template_parts(body.channel, body.body, body.subject)
    except ValidationFailed as exc:
        problems = exc.details if isinstance(exc.details, list) else [{"code": exc.code, "message": exc.message}]
    return {"valid": not problems, "problems": problems, "length": len(body.body),
            "placeholders": [f"[{p}]" for p in PLACEHOLDERS],
            "unknown": [p.placeholder for p in validate_template(body.body) if p.code == MessagingErrorCode.UNKNOWN_PLACEHOLDER]}


@router.get("/templates/{template_id}", summary="Get a message template", description=READ_T)
async def get_template(template_id: str, session: SessionDep, caller: ApiCaller) -> dict[str, Any]:
    require_scope(caller, "templates:read", "templates:write")
    return template_out(await template_store.get_template(session, caller, template_id))


@router.put("/templates/{template_id}", summary="Change a message template (fields given are changed)",
            description=WRITE_T)
async def update_template(template_id: str, body: TemplatePatch, session: SessionDep,
                          caller: ApiCaller) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for key in ("name", "channel", "body"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} may not be null", field_errors={key: ["May not be null."]})
    row = await template_store.update_template(session, caller, template_id, changes)
    return template_out(row)


@router.delete("/templates/{template_id}", status_code=204, summary="Delete a message template",
               description=WRITE_T)
async def delete_template(template_id: str, session: SessionDep, caller: ApiCaller) -> Response:
    await template_store.delete_template(session, caller, template_id)
    return Response(status_code=204)


# ------------------------------------------------------------------ opt-outs


class OptOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customerId: int | str | None = Field(default=None, description="The customer (integer id or UUID)")
    recipient: str | None = Field(default=None, description="Or a bare number/address (no customer known)")
    channel: str = Field(default="all", description="sms, email or all")
    reason: str | None = None


def opt_out_out(o: OptOut, customer_uuid: str | None = None) -> dict[str, Any]:
    return {"id": str(o.uuid), "channel": o.channel, "customerId": o.customer_id, "customerUuid": customer_uuid,
            "recipient": o.recipient, "source": o.source, "reason": o.reason, "createdBy": o.created_by,
            "createdAt": isoz(o.created_at)}


@router.get("/opt-outs", summary="List opt-outs", description=READ_O)
async def list_opt_outs(session: SessionDep, caller: ApiCaller,
                        channel: str | None = Query(None, json_schema_extra=one_of((*CHANNELS, "all"))),
                        customer_id: str | None = Query(None, alias="customerId"), page: int = Query(1),
                        limit: int = Query(20)) -> dict[str, Any]:
    require_scope(caller, "opt-outs:read", "opt-outs:write")
    req = _page(page, limit)
    cid = await optouts.customer_ref(session, caller.org_id, customer_id)
    rows, total = await optouts.list_for(session, caller.org_id, channel=channel, customer_id=cid,
                                         offset=req.offset, limit=req.size)
    uuids = await optouts.customer_uuids(session, caller.org_id, rows)
    return _listing([opt_out_out(r, uuids.get(r.customer_id or 0)) for r in rows], req, total)


@router.post("/opt-outs", status_code=201, summary="Record an opt-out (per customer and channel)",
             description=WRITE_O)
async def create_opt_out(body: OptOutIn, session: SessionDep, caller: ApiCaller) -> dict[str, Any]:
    require_scope(caller, "opt-outs:write")
    cid = await optouts.customer_ref(session, caller.org_id, body.customerId)
    rows = await optouts.opt_out(session, caller, channel=body.channel, customer_id=cid,
                                 recipient=body.recipient, reason=body.reason)
    uuids = await optouts.customer_uuids(session, caller.org_id, rows)
    return {"data": [opt_out_out(r, uuids.get(r.customer_id or 0)) for r in rows]}


@router.delete("/opt-outs/{opt_out_id}", status_code=204, summary="Remove an opt-out (opt back in)",
               description=WRITE_O)
async def delete_opt_out(opt_out_id: str, session: SessionDep, caller: ApiCaller) -> Response:
    require_scope(caller, "opt-outs:write")
    await optouts.opt_in(session, caller, opt_out_id)
    return Response(status_code=204)


__all__ = ["router"]
