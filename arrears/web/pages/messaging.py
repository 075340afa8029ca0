"""Messaging: the template editor (placeholders to insert, live preview for a chosen account, the
character and SMS-segment counter, the API's validation messages), sending to a book's selection
with a confirmation (count, cost in segments, estimated time), the message log whose statuses
update by themselves, opt-outs and the contact rules. The messaging service queues, checks and
sends; the worker does the sending."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from arrears.customers.phones import region_or_default, try_parse_phone
from arrears.db import utcnow
from arrears.debtors import service as debtors
from arrears.debtors.models import DebtorReport, DebtorSnapshot
from arrears.errors import DomainError, Forbidden, ValidationFailed
from arrears.identity import service as identity
from arrears.messaging import contact_settings as contact_rule_settings
from arrears.messaging import optouts, rules, upload_send
from arrears.messaging import service as messaging
from arrears.messaging.errors import MessagingErrorCode
from arrears.messaging.log import visible_log
from arrears.messaging.models import CHANNELS
from arrears.messaging.providers import ProviderNotConfigured, resolve
from arrears.messaging.segments import count_segments
from arrears.messaging.settings import messaging_settings
from arrears.messaging.templates import (
    MAX_TEMPLATE_LENGTH,
    PLACEHOLDERS,
    TemplateContext,
    render_template,
    validate_template,
)
from arrears.web.context import Ctx, CtxDep
from arrears.web.forms import FormState, text
from arrears.web.paging import Page, page_params, paged_query
from arrears.web.render import is_htmx, key_of, page, redirect, render_html

router = APIRouter(prefix="/messaging")
STATUSES = ("pending", "sent", "delivered", "read", "failed")
PREVIEW_ACCOUNTS = 50
LOG_REFRESH_SECONDS = 3
RECEIPT_WAIT_MINUTES = 10


def context_of(snap: DebtorSnapshot) -> TemplateContext:
    """An account's values for a template, as the send fills them in."""
    return upload_send.snapshot_context(snap)


SAMPLE = TemplateContext(customer_name="Thandi Mokoena", account_code="ACC0001", total_balance=Decimal("1250.00"),
                         current=Decimal("250.00"), d30=Decimal("500.00"), d60=Decimal("500.00"),
                         contact_person="Thandi",
                         telephone="27821234567")


def can_manage_templates(ctx: Ctx) -> bool:
    return messaging.may_manage_templates(ctx.caller)


async def latest_upload(ctx: Ctx) -> DebtorReport | None:
    latest = await debtors.completed_reports(ctx.db, ctx.caller, 1)
    return latest[0] if latest else None


async def preview_accounts(ctx: Ctx, report: DebtorReport | None) -> list[DebtorSnapshot]:
    if report is None:
        return []
    page_ = await debtors.list_snapshots(ctx.db, ctx.caller, report.id, page=1, per_page=PREVIEW_ACCOUNTS,
                                         sort="-is_selected,-overdue_amount")
    return page_.items


def preview_of(body: str, snap: DebtorSnapshot | None) -> dict[str, Any]:
    """What the editor shows beside the text: the problems the API would report, the rendered
    message for the chosen account (or a sample), and the counts for the template and the message."""
    problems = validate_template(body)
    rendered = render_template(body, context_of(snap) if snap is not None else SAMPLE)
    return {"problems": problems, "rendered": rendered, "template_count": count_segments(body),
            "count": count_segments(rendered), "snap": snap, "length": len(body), "max": MAX_TEMPLATE_LENGTH}


# ------------------------------------------------------------------ overview and log


@router.get("")
async def overview(ctx: CtxDep) -> Response:
    return await log(ctx)


@router.get("/log")
async def log(ctx: CtxDep) -> Response:
    p = ctx.request.query_params
    f = {"status": p.get("status", ""), "channel": p.get("channel", ""), "search": p.get("search", "").strip(),
         "upload": p.get("upload", "")}
    f["status"] = f["status"] if f["status"] in STATUSES else ""
    f["channel"] = f["channel"] if f["channel"] in CHANNELS else ""
    report = None
    summary = None
    if f["upload"]:
        report = await debtors.get_report(ctx.db, ctx.caller, f["upload"])
        summary = await messaging.upload_summary(ctx.db, ctx.caller, report.id)
    q = visible_log(ctx.caller, status=f["status"] or None, channel=f["channel"] or None,
                    upload_id=key_of(report) if report else None, search=f["search"] or None)
    pg, per = page_params(ctx.request)
    rows = await paged_query(ctx.db, q, pg, per)
    # Refresh while messages wait to go out, or were sent lately and may still get a receipt.
    recent = utcnow() - timedelta(minutes=RECEIPT_WAIT_MINUTES)
    live = any(m.status in ("pending", "sending") or (m.status == "sent" and m.sent_at and m.sent_at > recent)
               for m in rows.items)
    context: dict[str, Any] = {"rows": rows, "f": f, "report": report, "summary": summary, "statuses": STATUSES,
               "channels": CHANNELS, "live": live, "refresh": LOG_REFRESH_SECONDS, "shown": messaging.shown_status,
               "tab": "log"}
    if is_htmx(ctx.request) and ctx.request.headers.get("hx-target") == "message-log":
        return render_html(ctx.request, "messaging/_log_table.html", context, ctx=ctx)
    return page(ctx, "messaging/log.html", **context)


# ------------------------------------------------------------------ templates


@router.get("/templates")
async def templates(ctx: CtxDep) -> Response:
    views = await messaging.available_templates(ctx.db, ctx.caller, channel=None)
    pg, per = page_params(ctx.request, default=25)
    return page(ctx, "messaging/templates.html", rows=Page(views[(pg - 1) * per:pg * per], len(views), pg, per),
                can_manage=can_manage_templates(ctx), tab="templates")


async def _editor(ctx: Ctx, form: FormState, template: Any = None, status: int = 200) -> Response:
    report = await latest_upload(ctx)
    accounts = await preview_accounts(ctx, report)
    chosen = next((a for a in accounts if str(key_of(a)) == form.get("account")), accounts[0] if accounts else None)
    return page(ctx, "messaging/editor.html", status=status, form=form, template=template,
                placeholders=PLACEHOLDERS, accounts=accounts, report=report,
                preview=preview_of(form.get("body"), chosen), tab="templates")


@router.get("/templates/new")
async def new_template(ctx: CtxDep) -> Response:
    if not can_manage_templates(ctx):
        raise Forbidden("Only admins and managers with write access change message templates.")
    builtin = (await messaging.available_templates(ctx.db, ctx.caller))[0]
    return await _editor(ctx, FormState({"name": "", "body": builtin.template, "account": ""}))


@router.get("/templates/{template_id}")
async def edit_template(ctx: CtxDep, template_id: str) -> Response:
    row = await messaging.get_template(ctx.db, ctx.caller, template_id)
    return await _editor(ctx, FormState({"name": row.name, "body": row.body, "account": "",
                                         "channel": row.channel, "subject": row.subject or ""}), row)


async def _save(ctx: Ctx, template_id: str | None) -> Response:
    form = await ctx.form()
    state = FormState({"name": text(form, "name"), "body": str(form.get("body") or ""),
                       "account": text(form, "account")})
    row = await messaging.get_template(ctx.db, ctx.caller, template_id) if template_id else None
    try:
        if row is None:
            row = await messaging.create_template(ctx.db, ctx.caller, name=state.values["name"],
                                                  body=state.values["body"])
        else:
            row = await messaging.update_template(ctx.db, ctx.caller, row.id,
                                                  {"name": state.values["name"], "body": state.values["body"]})
    except DomainError as exc:
        if exc.status == 403:
            raise
        if exc.code == MessagingErrorCode.INVALID_TEMPLATE:
            state.add("body", exc.message)
        elif exc.code == MessagingErrorCode.TEMPLATE_NAME_TAKEN:
            state.add("name", exc.message)
        else:
            state.error(exc)
        return await _editor(ctx, state, row, 400)
    return redirect(ctx.request, "/app/messaging/templates", flash=f"Template {row.name} saved.")


@router.post("/templates")
async def create_template(ctx: CtxDep) -> Response:
    return await _save(ctx, None)


@router.post("/templates/{template_id}")
async def update_template(ctx: CtxDep, template_id: str) -> Response:
    return await _save(ctx, template_id)


@router.post("/templates/{template_id}/delete")
async def delete_template(ctx: CtxDep, template_id: str) -> Response:
    await messaging.delete_template(ctx.db, ctx.caller, template_id)
    return redirect(ctx.request, "/app/messaging/templates", flash="Template deleted.")


@router.post("/preview")
async def preview(ctx: CtxDep) -> Response:
    """The live preview (htmx, as the text changes): reads only, writes nothing."""
    form = await ctx.form()
    body = str(form.get("body") or "")
    snap = None
    account = text(form, "account")
    if account:
        snap = await debtors.get_snapshot(ctx.db, ctx.caller, account)
    return render_html(ctx.request, "messaging/_preview.html", {"preview": preview_of(body, snap)}, ctx=ctx)


# ------------------------------------------------------------------ send to a selection


async def selected_accounts(ctx: Ctx, report: DebtorReport) -> list[DebtorSnapshot]:
    out: list[DebtorSnapshot] = []
    pg = 1
    while True:
        chunk = await debtors.list_snapshots(ctx.db, ctx.caller, report.id, page=pg, per_page=debtors.MAX_PER_PAGE,
                                             is_selected=True)
        out.extend(chunk.items)
        if not chunk.has_more:
            return out
        pg += 1


async def plan(ctx: Ctx, report: DebtorReport, body: str) -> dict[str, Any]:
    """What a send would do: who gets a message, what it costs in segments, how long it takes."""
    accounts = await selected_accounts(ctx, report)
    reachable = [a for a in accounts if a.telephone and a.phone_valid and a.sms_reachable]
    problems = validate_template(body)
    segments = 0 if problems else sum(count_segments(render_template(body, context_of(a))).segments
                                      for a in reachable)
    estimate = None
    provider_problem = None
    if reachable and not problems:
        s = messaging_settings()
        try:
            provider = resolve(ctx.org, "sms", s)
        except ProviderNotConfigured as exc:
            provider_problem = exc.message
        else:
            now = utcnow()
            due = rules.contact_hours(ctx.org, s).next_permitted(now)
            seconds = await messaging.estimate_seconds(ctx.db, ctx.org, {"sms": provider}, len(reachable),
                                                       due, now, s)
            estimate = {"text": messaging.humanise_seconds(seconds), "later": due > now, "due": due,
                        "simulation": provider.name == "simulation"}
    return {"accounts": accounts, "reachable": reachable, "unreachable": len(accounts) - len(reachable),
            "segments": segments, "estimate": estimate, "problems": problems, "provider_problem": provider_problem}


async def _send_page(ctx: Ctx, report: DebtorReport | None, form: FormState, *, confirm: bool = False,
                     status: int = 200) -> Response:
    views = await messaging.available_templates(ctx.db, ctx.caller)
    context: dict[str, Any] = {"report": report, "form": form, "templates": views, "confirm": confirm,
                               "placeholders": PLACEHOLDERS, "tab": "send",
                               "can_override": messaging.may_override_cap(ctx.caller)}
    if report is not None:
        context["plan"] = await plan(ctx, report, form.get("body"))
        chosen = context["plan"]["reachable"][0] if context["plan"]["reachable"] else None
        context["preview"] = preview_of(form.get("body"), chosen)
    return page(ctx, "messaging/send.html", status=status, **context)


def _send_state(form: Any = None, default_body: str = "") -> FormState:
    if form is None:
        return FormState({"body": default_body, "override_cap": "", "override_status": ""})
    return FormState({"body": str(form.get("body") or ""), "override_cap": text(form, "override_cap"),
                      "override_status": text(form, "override_status")})


@router.get("/send")
async def send_form(ctx: CtxDep) -> Response:
    raw = ctx.request.query_params.get("upload", "")
    report = await debtors.get_report(ctx.db, ctx.caller, raw) if raw else await latest_upload(ctx)
    views = await messaging.available_templates(ctx.db, ctx.caller)
    pick = ctx.request.query_params.get("template", "")
    body = next((v.template for v in views if v.name == pick), views[0].template if views else "")
    return await _send_page(ctx, report, _send_state(default_body=body))


@router.post("/send/confirm")
async def send_confirm(ctx: CtxDep) -> Response:
    """Step one: check everything and show what will happen; nothing is queued yet."""
    ctx.require_write()
    form = await ctx.form()
    report = await debtors.get_report(ctx.db, ctx.caller, text(form, "upload"))
    state = _send_state(form)
    p = await plan(ctx, report, state.get("body"))
    if p["problems"]:
        for problem in p["problems"]:
            state.add("body", problem.message)
    if not p["accounts"]:
        state.add("__all__", "No account of this upload is selected: select the accounts to message first.")
    elif not p["reachable"]:
        state.add("__all__", "None of the selected accounts has a mobile number that SMS can reach.")
    if p["provider_problem"]:
        state.add("__all__", p["provider_problem"])
    return await _send_page(ctx, report, state, confirm=state.ok, status=200 if state.ok else 400)


@router.post("/send")
async def send(ctx: CtxDep) -> Response:
    """Step two: queue the messages (the worker sends them, within the contact rules)."""
    form = await ctx.form()
    report = await debtors.get_report(ctx.db, ctx.caller, text(form, "upload"))
    state = _send_state(form)
    accounts = await selected_accounts(ctx, report)
    try:
        outcome = await upload_send.send_to_accounts(ctx.db, ctx.caller, [str(key_of(a)) for a in accounts],
                                                     state.get("body"), override_cap=bool(state.get("override_cap")),
                                                     override_status=bool(state.get("override_status")))
    except ValidationFailed as exc:
        if exc.code == MessagingErrorCode.INVALID_TEMPLATE:
            state.add("body", exc.message)
        else:
            state.error(exc, {"account_ids": "__all__", "message_template": "body"})
        return await _send_page(ctx, report, state, status=400)
    q = outcome.queued
    note = f"{q.queued} message{'s' if q.queued != 1 else ''} queued; estimated time {outcome.estimated_time}."
    if q.skipped:
        note += (f" {q.skipped} not sent (no mobile number, opted out, contact cap, or a disputed, handed-over "
                 "or written-off account) — see the log.")
    return redirect(ctx.request, f"/app/messaging/log?upload={key_of(report)}", flash=note)


# ------------------------------------------------------------------ opt-outs


@router.get("/opt-outs")
async def opt_outs(ctx: CtxDep) -> Response:
    return await _opt_outs_page(ctx, FormState({"recipient": "", "channel": "all", "reason": ""}))


async def _opt_outs_page(ctx: Ctx, form: FormState, status: int = 200) -> Response:
    pg, per = page_params(ctx.request)
    rows, total = await optouts.list_for(ctx.db, ctx.org.id, offset=(pg - 1) * per, limit=per)
    return page(ctx, "messaging/opt_outs.html", status=status, rows=Page(rows, total, pg, per), form=form,
                channels=[("all", "Every channel"), ("sms", "SMS"), ("email", "E-mail")], tab="opt-outs")


@router.post("/opt-outs")
async def add_opt_out(ctx: CtxDep) -> Response:
    ctx.require_write()
    form = await ctx.form()
    state = FormState({k: text(form, k) for k in ("recipient", "channel", "reason")})
    if not state.values["recipient"]:
        state.add("recipient", "Enter the mobile number or e-mail address that asked not to be contacted.")
        return await _opt_outs_page(ctx, state, 400)
    recipient = state.values["recipient"]
    if "@" not in recipient:
        # Messages go to international digits (27821234567): an opt-out written as 082 123 4567
        # must be stored the same way to match them.
        phone = try_parse_phone(recipient, region_or_default(identity.org_setting(ctx.org, "default_region")))
        recipient = phone.digits if phone else recipient
    try:
        await optouts.opt_out(ctx.db, ctx.caller, channel=state.values["channel"] or "all",
                              recipient=recipient, reason=state.values["reason"] or None)
    except ValidationFailed as exc:
        state.error(exc, {"customer": "recipient"})
        return await _opt_outs_page(ctx, state, 400)
    return redirect(ctx.request, "/app/messaging/opt-outs", flash=f"{state.values['recipient']} will not be contacted.")


@router.post("/opt-outs/{opt_out_id}/delete")
async def remove_opt_out(ctx: CtxDep, opt_out_id: str) -> Response:
    await optouts.opt_in(ctx.db, ctx.caller, opt_out_id)
    return redirect(ctx.request, "/app/messaging/opt-outs", flash="Opt-out removed.")


# ------------------------------------------------------------------ contact rules


CONTACT_FIELDS = contact_rule_settings.CONTACT_FIELDS


@router.get("/settings")
async def contact_settings(ctx: CtxDep) -> Response:
    values = {k: str(identity.org_setting(ctx.org, k) or "") for k in CONTACT_FIELDS}
    values["contact_hours"] = values["contact_hours"] or "on"
    return _settings_page(ctx, FormState(values))


def _settings_page(ctx: Ctx, form: FormState, status: int = 200) -> Response:
    s = messaging_settings()
    hours = rules.contact_hours(ctx.org, s)
    cap = rules.cap(ctx.org, s)
    now = utcnow()
    return page(ctx, "messaging/settings.html", status=status, form=form, hours=hours, cap=cap,
                permitted_now=hours.is_permitted(now), next_permitted=hours.next_permitted(now),
                deployment_hours=s.messaging_contact_hours, tab="settings",
                cap_hours=cap.window / timedelta(hours=1))


@router.post("/settings")
async def save_contact_settings(ctx: CtxDep) -> Response:
    ctx.require_admin()
    form = await ctx.form()
    state = FormState({k: text(form, k) for k in CONTACT_FIELDS})
    try:
        await contact_rule_settings.save_contact_settings(ctx.db, ctx.caller, ctx.org, state.values)
    except ValidationFailed as exc:
        return _settings_page(ctx, state.error(exc), 400)
    return redirect(ctx.request, "/app/messaging/settings", flash="Contact rules saved.")
