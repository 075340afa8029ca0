"""Arrears' own endpoints for letters, letter templates and the letterhead, under /api/v1 with the
partner face's conventions (errors {"error": CODE, "message", "details"}, camelCase, UUID ids,
lists as {"data": [...], "pagination": {page, limit, total, totalPages}}, limit at most 100, the
partner rate limit and usage log).

Callers: a user's JWT (anyone with write access who sees the account makes letters for it; admins
and managers write templates and the letterhead: arrears.letters) or a partner `ins_` key with
`letters:read` / `letters:write` (`*` grants all; a :write scope reads too; keys make letters but
never change templates or the letterhead). Another organisation's ids are 404. The rules live in
arrears.letters; this module only translates.
"""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from arrears.db import isoz
from arrears.downloads import content_disposition
from arrears.errors import Forbidden, NotFound, ValidationFailed
from arrears.faces import multipart
from arrears.faces.deps import SessionDep
from arrears.faces.own_api import ApiCaller, MoneyJSON, list_day
from arrears.faces.partner import views
from arrears.faces.partner.routing import partner_router
from arrears.identity.caller import Caller
from arrears.letters import letterhead as letterheads
from arrears.letters import logo as logos
from arrears.letters import placeholders, templates
from arrears.letters import service as letters
from arrears.letters.models import Letterhead
from arrears.partners.service import PAGES

router = partner_router("/api/v1", "Letters")
READ = "letters:read"
WRITE = "letters:write"


def needs(scope: str, users: str) -> str:
    also = f" (or `{WRITE}`)" if scope == READ else ""
    return (f"Scope for `ins_` keys: `{scope}`{also}; `*` covers every scope. Users (JWT): {users} "
            "(docs/contracts.md, \"Letters\").")


def _scope(caller: Caller, write: bool) -> None:
    wanted = (WRITE,) if write else (READ, WRITE)
    if caller.kind == "api_key" and not any(caller.has_scope(s) for s in wanted):
        raise Forbidden(f"This API key needs the {wanted[0]} scope")


# ------------------------------------------------------------------ shapes


def letter_out(v: letters.LetterView) -> dict[str, Any]:
    return {"id": str(v.id), "accountId": str(v.account_id), "account": {"reference": v.reference},
            "customerName": v.customer_name, "templateId": str(v.template_id), "templateName": v.template_name,
            "subject": v.subject, "replyBy": v.reply_by.isoformat() if v.reply_by else None, "pages": v.pages,
            "pdfSize": v.pdf_size, "status": v.status, "statusReason": v.reason,
            "messageId": str(v.message_id) if v.message_id else None, "source": v.source,
            "createdBy": v.created_by, "createdAt": isoz(v.created_at),
            "pdfUrl": f"/api/v1/letters/{v.id}/pdf"}


def template_out(t: templates.TemplateView) -> dict[str, Any]:
    return {"id": str(t.id), "name": t.name, "kind": t.kind, "subject": t.subject, "body": t.body,
            "builtIn": t.builtin, "readOnly": t.builtin, "createdBy": t.created_by, "createdAt": isoz(t.created_at),
            "updatedAt": isoz(t.updated_at)}


def letterhead_out(lh: Letterhead | None, org_name: str) -> dict[str, Any]:
    if lh is None:
        return {"name": org_name, "address": None, "registrationNumber": None, "vatNumber": None, "phone": None,
                "email": None, "website": None, "logo": None, "updatedBy": None, "updatedAt": None}
    logo = ({"contentType": lh.logo_type, "width": lh.logo_width, "height": lh.logo_height, "size": len(lh.logo),
             "url": "/api/v1/letterhead/logo"} if lh.logo else None)
    return {"name": lh.name, "address": lh.address, "registrationNumber": lh.registration_number,
            "vatNumber": lh.vat_number, "phone": lh.phone, "email": lh.email, "website": lh.website, "logo": logo,
            "updatedBy": lh.updated_by, "updatedAt": isoz(lh.updated_at)}


def pdf_response(name: str, data: bytes, disposition: str = "attachment") -> Response:
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": content_disposition(name, disposition),
                             "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


# ------------------------------------------------------------------ letters


class LettersCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accountIds: list[str] = Field(description=f"1 to {letters.MAX_ACCOUNTS} account ids (UUIDs)")
    templateId: str = Field(description="A built-in's or your template's id (GET /api/v1/letter-templates)")
    replyBy: str | None = Field(default=None, description="YYYY-MM-DD, today to a year ahead (default: 14 days)")
    sendEmail: bool = Field(default=False, description="E-mail each letter as a PDF attachment to its customer")


class LetterPreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accountId: str
    templateId: str
    replyBy: str | None = None


@router.post("/letters", status_code=201, summary="Make letters for accounts (one PDF each), optionally e-mailed",
             description=needs(WRITE, "anyone with write access who sees the accounts"))
async def create_letters(body: LettersCreateIn, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _scope(caller, True)
    made = await letters.create_letters(session, caller, body.accountIds, body.templateId, reply_by=body.replyBy,
                                        send_email=body.sendEmail, source="manual")
    return MoneyJSON({"data": [letter_out(v) for v in await letters.views_of(session, caller, made)]},
                     status_code=201)


@router.post("/letters/preview", summary="A letter as it would be made now, as a PDF (nothing stored)",
             description=needs(READ, "any member who sees the account"),
             responses={200: {"content": {"application/pdf": {}}}})
async def preview_letter(body: LetterPreviewIn, session: SessionDep, caller: ApiCaller) -> Response:
    _scope(caller, False)
    pdf = await letters.preview(session, caller, body.accountId, body.templateId, reply_by=body.replyBy)
    return pdf_response("letter-preview.pdf", pdf, "inline")


@router.get("/letters", summary="List letters", description=needs(READ, "any member (the accounts they see)"))
async def list_letters(session: SessionDep, caller: ApiCaller,
                       account_id: str | None = Query(None, alias="accountId"),
                       status: str | None = Query(None, description="created, emailed or failed"),
                       template_id: str | None = Query(None, alias="templateId"),
                       source: str | None = Query(None, description="manual, strategy or cli"),
                       date_from: str | None = Query(None, alias="dateFrom", description="made on or after"),
                       date_to: str | None = Query(None, alias="dateTo", description="made on or before"),
                       sort_order: str | None = Query(None, alias="sortOrder", description="desc (default) or asc"),
                       page: int = Query(1), limit: int = Query(20)) -> MoneyJSON:
    _scope(caller, False)
    req = PAGES.check(page, limit)
    if sort_order is not None and sort_order.lower() not in ("asc", "desc"):
        raise ValidationFailed("Invalid list parameters: sortOrder", field_errors={"sortOrder": ["Must be asc or desc."]})
    f = letters.LetterFilter(account_id=account_id, status=status, template_id=template_id, source=source,
                             created_from=list_day("dateFrom", date_from), created_to=list_day("dateTo", date_to))
    rows, total = await letters.list_letters(session, caller, f, offset=req.offset, limit=req.size,
                                             descending=(sort_order or "desc").lower() == "desc")
    return MoneyJSON(views.page([letter_out(v) for v in rows], req.page, req.size, total))


@router.get("/letters/{letter_id}", summary="A letter", description=needs(READ, "any member who sees its account"))
async def get_letter(letter_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _scope(caller, False)
    return MoneyJSON(letter_out(await letters.get_letter(session, caller, letter_id)))


@router.get("/letters/{letter_id}/pdf", summary="Download a letter's PDF",
            description=needs(READ, "any member who sees its account"),
            responses={200: {"content": {"application/pdf": {}}}})
async def letter_pdf(letter_id: str, session: SessionDep, caller: ApiCaller) -> Response:
    _scope(caller, False)
    name, data = await letters.letter_pdf(session, caller, letter_id)
    return pdf_response(name, data)


# ------------------------------------------------------------------ templates


class LetterTemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="Unique in the organisation (required unless copyOf)")
    kind: str | None = Field(default=None, description="reminder, final_demand, letter_of_demand, section_129, other")
    subject: str | None = None
    body: str | None = Field(default=None, description="Plain text; blank lines separate paragraphs; placeholders "
                                                       "in square brackets (GET /api/v1/letter-templates/placeholders)")
    copyOf: str | None = Field(default=None, description="A template's id whose fields fill those left out")


class LetterTemplatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    kind: str | None = None
    subject: str | None = None
    body: str | None = None


WRITERS = "admins and managers with write access (API keys read only)"


@router.get("/letter-templates", summary="Letter templates: the built-ins (read-only), then yours",
            description=needs(READ, "any member"))
async def list_templates(session: SessionDep, caller: ApiCaller, page: int = Query(1),
                         limit: int = Query(20)) -> MoneyJSON:
    _scope(caller, False)
    req = PAGES.check(page, limit)
    rows = await templates.list_templates(session, caller)
    return MoneyJSON(views.page([template_out(t) for t in rows[req.offset:req.offset + req.size]], req.page,
                                req.size, len(rows)))


@router.get("/letter-templates/placeholders", summary="The placeholders a letter template may use",
            description=needs(READ, "any member"))
async def list_placeholders(caller: ApiCaller) -> MoneyJSON:
    _scope(caller, False)
    return MoneyJSON({"data": [{"name": f"[{n}]", "description": d} for n, d in placeholders.PLACEHOLDERS.items()]})


@router.post("/letter-templates", status_code=201, summary="Create a letter template (or copy one: copyOf)",
             description=needs(WRITE, WRITERS))
async def create_template(body: LetterTemplateIn, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _scope(caller, True)
    t = await templates.create_template(session, caller, body.model_dump(exclude_none=True))
    return MoneyJSON(template_out(t), status_code=201)


@router.get("/letter-templates/{template_id}", summary="A letter template", description=needs(READ, "any member"))
async def get_template(template_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _scope(caller, False)
    return MoneyJSON(template_out(await templates.get_template(session, caller, template_id)))


@router.patch("/letter-templates/{template_id}", summary="Change a letter template (built-ins: 409)",
              description=needs(WRITE, WRITERS))
async def update_template(template_id: str, body: LetterTemplatePatch, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _scope(caller, True)
    t = await templates.update_template(session, caller, template_id, body.model_dump(exclude_unset=True))
    return MoneyJSON(template_out(t))


@router.delete("/letter-templates/{template_id}", status_code=204, summary="Delete a letter template (built-ins: 409)",
               description=needs(WRITE, WRITERS))
async def delete_template(template_id: str, session: SessionDep, caller: ApiCaller) -> Response:
    _scope(caller, True)
    await templates.delete_template(session, caller, template_id)
    return Response(status_code=204)


# ------------------------------------------------------------------ letterhead


class LetterheadTextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    address: str | None = Field(default=None, description="Up to 6 lines")
    registrationNumber: str | None = None
    vatNumber: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None


async def _org_name(session: Any, caller: Caller) -> str:
    from arrears.identity.models import Organisation

    org = await session.get(Organisation, caller.org_id)
    return org.name if org is not None else ""


@router.get("/letterhead", summary="The organisation's letterhead", description=needs(READ, "any member"))
async def get_letterhead(session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _scope(caller, False)
    lh = await letterheads.get_letterhead(session, caller.org_id)
    return MoneyJSON(letterhead_out(lh, await _org_name(session, caller)))


@router.put("/letterhead", summary="Replace the letterhead's text (the logo stays: PUT /letterhead/logo)",
            description=needs(WRITE, WRITERS))
async def put_letterhead(body: LetterheadTextIn, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _scope(caller, True)
    data = {"name": body.name, "address": body.address, "registration_number": body.registrationNumber,
            "vat_number": body.vatNumber, "phone": body.phone, "email": body.email, "website": body.website}
    try:
        lh = await letterheads.save_letterhead(session, caller, data)
    except ValidationFailed as exc:  # the service's field names, as this API writes them
        names = {"registration_number": "registrationNumber", "vat_number": "vatNumber"}
        exc.field_errors = {names.get(k, k): v for k, v in (exc.field_errors or {}).items()}
        raise
    return MoneyJSON(letterhead_out(lh, lh.name))


LOGO_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


def _logo_too_large() -> ValidationFailed:
    return logos._refuse(f"The logo may be at most 1 MB ({logos.MAX_BYTES:,} bytes).")


async def read_logo(request: Request) -> bytes:
    """The multipart field `file`, read only after the caller was authenticated, refused as soon
    as it passes 1 MB."""
    try:
        _, sink = await multipart.receive_file(request, lambda _: multipart.MemorySink(logos.MAX_BYTES,
                                                                                        _logo_too_large))
    except multipart.UploadProblem as exc:
        problem = exc.message if exc.kind == exc.MALFORMED else "Send the logo in the multipart field `file`."
        raise ValidationFailed(f"No logo: {problem}", field_errors={"file": [problem]}) from None
    return sink.data


@router.put("/letterhead/logo", summary="Upload the letterhead's logo: PNG or JPEG, at most 1 MB (checked by content)",
            description=needs(WRITE, WRITERS), openapi_extra=LOGO_BODY)
async def put_logo(request: Request, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _scope(caller, True)
    templates.require_writer(caller, "the letterhead")  # before a byte of the body is read
    lh = await letterheads.set_logo(session, caller, await read_logo(request))
    return MoneyJSON(letterhead_out(lh, lh.name))


@router.delete("/letterhead/logo", summary="Remove the letterhead's logo", description=needs(WRITE, WRITERS))
async def delete_logo(session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _scope(caller, True)
    lh = await letterheads.set_logo(session, caller, None)
    return MoneyJSON(letterhead_out(lh, lh.name))


@router.get("/letterhead/logo", summary="The letterhead's logo image", description=needs(READ, "any member"),
            responses={200: {"content": {"image/png": {}, "image/jpeg": {}}},
                       404: {"description": "The letterhead has no logo"}})
async def get_logo(session: SessionDep, caller: ApiCaller) -> Response:
    _scope(caller, False)
    lh = await letterheads.get_letterhead(session, caller.org_id)
    if lh is None or not lh.logo:
        raise NotFound("The letterhead has no logo.")
    return Response(lh.logo, media_type=lh.logo_type or "application/octet-stream",
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
                             "Content-Security-Policy": "default-src 'none'"})


__all__ = ["router"]
