"""Letters: make a letter for an account (preview its PDF first, then make it, or make and e-mail
it), the letters made (download each), the letter templates (built-ins read-only: copy one to
change the wording; admins and managers edit), and Settings → Letterhead (with the logo upload).
The letters service does the work; these pages only read forms and show answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from arrears.downloads import content_disposition
from arrears.errors import DomainError, NotFound, ValidationFailed
from arrears.faces import multipart
from arrears.letters import letterhead as letterheads
from arrears.letters import logo as logos
from arrears.letters import placeholders, templates
from arrears.letters import service as letters
from arrears.letters.models import KINDS
from arrears.paging import Page
from arrears.web.context import CSRF_FIELD, CtxDep, check_streamed_csrf
from arrears.web.forms import FormState, text
from arrears.web.paging import page_params
from arrears.web.render import page, redirect

router = APIRouter()
KIND_LABELS = {"reminder": "Reminder", "final_demand": "Final demand", "letter_of_demand": "Letter of demand",
               "section_129": "Section 129 notice", "other": "Other"}
LETTERHEAD_FIELDS = tuple(letterheads.FIELDS)


def _pdf(name: str, data: bytes, disposition: str) -> Response:
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": content_disposition(name, disposition),
                             "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


# ------------------------------------------------------------------ letters


async def _letters_page(ctx: CtxDep, form: FormState, status: int = 200) -> Response:
    pg, per = page_params(ctx.request)
    rows, total = await letters.list_letters(ctx.db, ctx.caller, letters.LetterFilter(), offset=(pg - 1) * per,
                                             limit=per)
    options = [(str(t.id), t.name + (" (built-in)" if t.builtin else ""))
               for t in await templates.list_templates(ctx.db, ctx.caller)]
    return page(ctx, "letters/index.html", status=status, form=form, letters=Page(rows, total, pg, per),
                templates=options, tab="letters")


@router.get("/letters")
async def letters_index(ctx: CtxDep) -> Response:
    q = ctx.request.query_params
    return await _letters_page(ctx, FormState({"account": q.get("account", ""), "template": q.get("template", ""),
                                               "reply_by": ""}))


@router.get("/letters/preview.pdf")
async def preview_pdf(ctx: CtxDep, account: str = "", template: str = "", reply_by: str = "") -> Response:
    """The letter as it would be made now (nothing stored), shown in the browser."""
    account_id = await letters.find_account(ctx.db, ctx.caller, account)
    pdf = await letters.preview(ctx.db, ctx.caller, account_id, template, reply_by=reply_by or None)
    return _pdf("letter-preview.pdf", pdf, "inline")


@router.post("/letters")
async def make_letter(ctx: CtxDep) -> Response:
    ctx.require_write()
    form = await ctx.form()
    state = FormState.of(form, "account", "template", "reply_by")
    send = text(form, "send_email") == "1"
    try:
        account_id = await letters.find_account(ctx.db, ctx.caller, state.get("account"))
        [made] = await letters.create_letters(ctx.db, ctx.caller, [account_id], state.get("template"),
                                              reply_by=state.get("reply_by") or None, send_email=send)
    except NotFound as exc:
        state.add("account" if "ccount" in exc.message else "template", exc.message)
        return await _letters_page(ctx, state, 404)
    except ValidationFailed as exc:
        return await _letters_page(ctx, state.error(exc, {"replyBy": "reply_by"}), 400)
    what = "made and queued for e-mail" if send and made.message_id else "made"
    why = f" ({made.email_reason})" if made.email_reason else ""
    return redirect(ctx.request, "/app/letters", flash=f"Letter {what}{why}.")


@router.get("/letters/{letter_id}/pdf")
async def letter_pdf(ctx: CtxDep, letter_id: str) -> Response:
    name, data = await letters.letter_pdf(ctx.db, ctx.caller, letter_id)
    return _pdf(name, data, "attachment")


# ------------------------------------------------------------------ templates


@router.get("/letters/templates")
async def templates_index(ctx: CtxDep) -> Response:
    rows = await templates.list_templates(ctx.db, ctx.caller)
    return page(ctx, "letters/templates.html", templates=rows, kinds=KIND_LABELS,
                may_write=templates.may_write(ctx.caller), tab="templates")


def _template_page(ctx: CtxDep, form: FormState, template: templates.TemplateView | None, status: int = 200
                   ) -> Response:
    return page(ctx, "letters/template_form.html", status=status, form=form, template=template,
                kinds=[(k, KIND_LABELS[k]) for k in KINDS], placeholders=placeholders.PLACEHOLDERS,
                may_write=templates.may_write(ctx.caller), tab="templates")


@router.get("/letters/templates/new")
async def new_template(ctx: CtxDep) -> Response:
    return _template_page(ctx, FormState({"kind": "other"}), None)


@router.get("/letters/templates/{template_id}")
async def edit_template(ctx: CtxDep, template_id: str) -> Response:
    t = await templates.get_template(ctx.db, ctx.caller, template_id)
    return _template_page(ctx, FormState({"name": t.name, "kind": t.kind, "subject": t.subject, "body": t.body}), t)


def _template_data(state: FormState) -> dict[str, Any]:
    return {k: state.get(k) for k in ("name", "kind", "subject", "body")}


@router.post("/letters/templates")
async def create_template(ctx: CtxDep) -> Response:
    form = await ctx.form()
    state = FormState.of(form, "name", "kind", "subject", "body")
    try:
        t = await templates.create_template(ctx.db, ctx.caller, _template_data(state))
    except ValidationFailed as exc:
        return _template_page(ctx, state.error(exc), None, 400)
    except DomainError as exc:
        if exc.status != 409:
            raise
        state.add("name", exc.message)
        return _template_page(ctx, state, None, 409)
    return redirect(ctx.request, f"/app/letters/templates/{t.id}", flash=f"Template “{t.name}” saved.")


@router.post("/letters/templates/{template_id}/copy")
async def copy_template(ctx: CtxDep, template_id: str) -> Response:
    t = await templates.create_template(ctx.db, ctx.caller, {"copyOf": template_id})
    return redirect(ctx.request, f"/app/letters/templates/{t.id}", flash=f"Copied as “{t.name}”: edit it here.")


@router.post("/letters/templates/{template_id}")
async def update_template(ctx: CtxDep, template_id: str) -> Response:
    form = await ctx.form()
    state = FormState.of(form, "name", "kind", "subject", "body")
    current = await templates.get_template(ctx.db, ctx.caller, template_id)
    try:
        t = await templates.update_template(ctx.db, ctx.caller, template_id, _template_data(state))
    except ValidationFailed as exc:
        return _template_page(ctx, state.error(exc), current, 400)
    except DomainError as exc:
        if exc.status != 409:
            raise
        state.add("__all__", exc.message)
        return _template_page(ctx, state, current, 409)
    return redirect(ctx.request, f"/app/letters/templates/{t.id}", flash=f"Template “{t.name}” saved.")


@router.post("/letters/templates/{template_id}/delete")
async def delete_template(ctx: CtxDep, template_id: str) -> Response:
    await templates.delete_template(ctx.db, ctx.caller, template_id)
    return redirect(ctx.request, "/app/letters/templates", flash="Template deleted.")


# ------------------------------------------------------------------ Settings → Letterhead


async def _letterhead_page(ctx: CtxDep, form: FormState | None = None, status: int = 200) -> Response:
    lh = await letterheads.get_letterhead(ctx.db, ctx.org.id)
    if form is None:
        values = {k: (getattr(lh, k) or "") if lh is not None else "" for k in LETTERHEAD_FIELDS}
        values["name"] = values["name"] or ctx.org.name
        form = FormState(values)
    return page(ctx, "settings/letterhead.html", status=status, form=form, letterhead=lh,
                may_write=templates.may_write(ctx.caller), max_mb=logos.MAX_BYTES // (1024 * 1024), tab="letterhead")


@router.get("/settings/letterhead")
async def letterhead(ctx: CtxDep) -> Response:
    return await _letterhead_page(ctx)


@router.get("/settings/letterhead/logo")
async def letterhead_logo(ctx: CtxDep) -> Response:
    lh = await letterheads.get_letterhead(ctx.db, ctx.org.id)
    if lh is None or not lh.logo:
        raise NotFound("The letterhead has no logo.")
    return Response(lh.logo, media_type=lh.logo_type or "application/octet-stream",
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


@router.post("/settings/letterhead")
async def save_letterhead(ctx: CtxDep) -> Response:
    """Text fields and an optional logo in one multipart form; the caller is checked before the
    body is read, the logo refused as soon as it passes 1 MB, the token checked before anything
    is kept."""
    templates.require_writer(ctx.caller, "the letterhead")
    state = FormState()

    def refuse() -> Exception:
        return logos._refuse(f"The logo may be at most 1 MB ({logos.MAX_BYTES:,} bytes).")

    try:
        filename, sink, fields = await multipart.receive_form(
            ctx.request, lambda _: multipart.MemorySink(logos.MAX_BYTES, refuse), field="logo",
            fields=(CSRF_FIELD, *LETTERHEAD_FIELDS, "remove_logo"))
    except multipart.UploadProblem as exc:
        if exc.kind != exc.NO_FILE:
            state.add("__all__", f"The form could not be read: {exc.message}")
            return await _letterhead_page(ctx, state, 400)
        check_streamed_csrf(ctx.request, exc.values.get(CSRF_FIELD))
        filename, data, fields = "", b"", exc.values
    except ValidationFailed as exc:
        state.values = {k: "" for k in LETTERHEAD_FIELDS}
        return await _letterhead_page(ctx, state.error(exc), 400)
    else:
        check_streamed_csrf(ctx.request, fields.get(CSRF_FIELD))
        data = sink.data
    state = FormState({k: fields.get(k, "") for k in LETTERHEAD_FIELDS})
    try:
        await letterheads.save_letterhead(ctx.db, ctx.caller, dict(state.values),
                                          logo=data if (filename or data) else None)
        if fields.get("remove_logo") == "1" and not (filename or data):
            await letterheads.set_logo(ctx.db, ctx.caller, None)
    except ValidationFailed as exc:
        return await _letterhead_page(ctx, state.error(exc), 400)
    return redirect(ctx.request, "/app/settings/letterhead", flash="Letterhead saved.")
