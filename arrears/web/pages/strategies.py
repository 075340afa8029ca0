"""Collection strategies: the list (default first, paused or running, pause/resume), the editor
(segment, steps as a list to add, remove and reorder, message and letter template pickers,
champion/challenger) with
the preview beside it (htmx), run history with "dry run" and "run now", and the results per step
and variant with a chart.

Every member reads the list, the editor (read only) and the runs; admins and managers with write
access change strategies and start runs (the strategies service says so: others get 403); the
results are admins' and managers'. Another organisation's strategy is 404.

The editor's form fields are named as the strategies service names its fields (`segment.minBalance`,
`steps[2].waitDays` …), so a ValidationFailed's field errors land beside their fields as they are.
The step list is edited on the server: "add", "remove", "up" and "down" buttons post the form and get
it back changed, unsaved, so it works without script too."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select
from starlette.datastructures import FormData

from arrears.errors import ValidationFailed
from arrears.identity.models import Membership, User
from arrears.jobs.queue import enqueue
from arrears.letters import templates as letter_templates
from arrears.messaging.models import MessageTemplate
from arrears.strategies import jobs, runner, service
from arrears.strategies import preview as previews
from arrears.strategies import results as strategy_results
from arrears.strategies.models import ACCOUNT_KINDS, ACTIONS, BUCKETS, Strategy, StrategyStep
from arrears.strategies.selection import CONDITION_OPS, CUSTOMER_FIELDS
from arrears.web.charts import Datum, bar_chart
from arrears.web.context import Ctx, CtxDep
from arrears.web.forms import FormState, many, text
from arrears.web.paging import Page, page_params
from arrears.web.render import money, page, redirect, render_html, svg

router = APIRouter(prefix="/strategies")

ACTION_LABELS = {"sms": "SMS", "email": "E-mail", "letter": "Letter", "call_task": "Call task",
                 "visit_task": "Field-visit task", "hand_over": "Hand over"}
BUCKET_LABELS = {"current": "Current", "d30": "30 days", "d60": "60 days", "d90": "90 days", "d120": "120 days",
                 "d150": "150 days", "d180": "180 days"}
STRATEGY_FIELDS = ("name", "description", "priority", "runTime", "challengerPercent", "segment.minBalance",
                   "segment.maxBalance", "segment.accountKind", "segment.customerConditions")
STEP_FIELDS = ("id", "name", "variant", "action", "minDaysPastDue", "minBalance", "messageTemplateId",
               "letterTemplateId", "letterDelivery", "handOverTo", "waitDays", "repeatDays")
STEP_RE = re.compile(r"^steps\[(\d+)\]\.(\w+)$")
OP_RE = re.compile(r"^(add|remove|up|down)(?:-(\d+))?$")


def can_edit(ctx: Ctx) -> bool:
    return ctx.can_write and ctx.is_manager


# ------------------------------------------------------------------ the form ↔ the service's data


def _blank_step() -> dict[str, str]:
    return {k: "" for k in STEP_FIELDS} | {"action": "sms", "minDaysPastDue": "0", "waitDays": "0",
                                           "letterDelivery": "email"}


def _state_of(st: Strategy | None, steps: list[StrategyStep]) -> tuple[FormState, list[dict[str, str]], list[str]]:
    """A saved strategy as the form shows it: fields, steps, ticked buckets."""
    if st is None:
        return FormState({k: "" for k in STRATEGY_FIELDS} | {"priority": "100", "runTime": "08:00",
                                                              "challengerPercent": "0"}), [_blank_step()], []
    conditions = "\n".join(
        " ".join([c["field"], c["op"], *([", ".join(map(str, c["value"]))] if isinstance(c.get("value"), list)
                                         else [] if c.get("value") is None else [str(c["value"])])])
        for c in st.customer_conditions or [])
    values = {"name": st.name, "description": st.description or "", "priority": str(st.priority),
              "runTime": st.run_time.strftime("%H:%M") if st.run_time else "", "isDefault": "1" if st.is_default else "",
              "challengerPercent": str(st.challenger_percent),
              "segment.minBalance": "" if st.min_balance is None else str(st.min_balance),
              "segment.maxBalance": "" if st.max_balance is None else str(st.max_balance),
              "segment.accountKind": st.account_kind or "", "segment.customerConditions": conditions}
    rows = [{"id": str(s.id), "name": s.name or "", "variant": s.variant or "", "action": s.action,
             "minDaysPastDue": str(s.min_days_past_due), "minBalance": "" if s.min_balance is None else str(s.min_balance),
             "messageTemplateId": str(s.message_template_id or ""), "letterTemplateId": str(s.letter_template_id or ""),
             "letterDelivery": s.letter_delivery or "email", "handOverTo": s.hand_over_to or "", "waitDays": str(s.wait_days),
             "repeatDays": "" if s.repeat_days is None else str(s.repeat_days)} for s in steps]
    return FormState(values), rows, list(st.oldest_buckets or [])


def _read_form(form: FormData) -> tuple[FormState, list[dict[str, str]], list[str]]:
    values = {k: text(form, k) for k in STRATEGY_FIELDS}
    values["segment.customerConditions"] = str(form.get("segment.customerConditions") or "").strip()
    values["isDefault"] = "1" if form.get("isDefault") else ""
    found: dict[int, dict[str, str]] = {}
    for key in form.keys():
        m = STEP_RE.match(key)
        if m and m.group(2) in STEP_FIELDS:
            found.setdefault(int(m.group(1)), {k: "" for k in STEP_FIELDS})[m.group(2)] = text(form, key)
    steps = [found[i] for i in sorted(found)]
    buckets = [b for b in many(form, "segment.oldestBuckets") if b in BUCKETS]
    return FormState(values), steps, buckets


def _apply_op(op: str, steps: list[dict[str, str]]) -> list[dict[str, str]]:
    m = OP_RE.match(op)
    if not m:
        return steps
    steps = list(steps)
    what, i = m.group(1), int(m.group(2)) if m.group(2) else -1
    if what == "add":
        steps.append(_blank_step())
    elif 0 <= i < len(steps):
        if what == "remove":
            steps.pop(i)
        elif what == "up" and i > 0:
            steps[i - 1], steps[i] = steps[i], steps[i - 1]
        elif what == "down" and i < len(steps) - 1:
            steps[i + 1], steps[i] = steps[i], steps[i + 1]
    return steps


def _whole(raw: str) -> int | str | None:
    """A typed whole number as an int; anything else as typed, for the service to refuse by name."""
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return raw


def _conditions(raw: str) -> list[Any]:
    """One condition a line: `field op value` (`in`: values separated by commas; `empty`/`present`:
    no value). A line that does not parse goes to the service as it is, to be refused by position."""
    out: list[Any] = []
    for line in (x.strip() for x in raw.splitlines()):
        if not line:
            continue
        parts = line.split(None, 2)
        if len(parts) < 2 or parts[1] not in CONDITION_OPS:
            out.append({"field": line})
            continue
        field, op, value = parts[0], parts[1], parts[2].strip() if len(parts) > 2 else None
        if op == "in":
            out.append({"field": field, "op": op, "value": [v.strip() for v in (value or "").split(",") if v.strip()]})
        else:
            out.append({"field": field, "op": op, "value": value})
    return out


def _data(state: FormState, steps: list[dict[str, str]], buckets: list[str]) -> dict[str, Any]:
    v = state.values
    data: dict[str, Any] = {
        "name": v["name"], "description": v["description"] or None, "isDefault": bool(v.get("isDefault")),
        "challengerPercent": _whole(v["challengerPercent"]) if v["challengerPercent"] else 0,
        "segment": {"minBalance": v["segment.minBalance"] or None, "maxBalance": v["segment.maxBalance"] or None,
                    "oldestBuckets": buckets or None, "accountKind": v["segment.accountKind"] or None,
                    "customerConditions": _conditions(v["segment.customerConditions"]) or None},
        "steps": [{"id": s["id"] or None, "name": s["name"] or None, "variant": s["variant"] or None,
                   "action": s["action"], "minDaysPastDue": _whole(s["minDaysPastDue"]),
                   "minBalance": s["minBalance"] or None, "messageTemplateId": s["messageTemplateId"] or None,
                   "letterTemplateId": s["letterTemplateId"] or None,
                   "letterDelivery": s["letterDelivery"] or None,
                   "handOverTo": s["handOverTo"] or None,
                   "waitDays": _whole(s["waitDays"]), "repeatDays": _whole(s["repeatDays"])} for s in steps],
    }
    if v["priority"]:
        data["priority"] = _whole(v["priority"])
    if v["runTime"]:
        data["runTime"] = v["runTime"]
    return data


def _errors(state: FormState, exc: ValidationFailed, steps: list[dict[str, str]]) -> FormState:
    """The service's field errors beside the fields; a condition's error beside the conditions box,
    anything the form has no field for at the top."""
    shown = set(STRATEGY_FIELDS) | {"segment.oldestBuckets", "isDefault", "steps"} | {
        f"steps[{i}]{'.' + k if k else ''}" for i in range(len(steps)) for k in (*STEP_FIELDS, "")}
    for name, messages in (exc.field_errors or {}).items():
        target = "segment.customerConditions" if name.startswith("segment.customerConditions") else name
        for m in messages:
            if target in shown:
                state.add(target, str(m) if target == name else f"{name.split('.', 1)[1]}: {m}")
            else:
                state.add("__all__", f"{name}: {m}")
    if not exc.field_errors:
        state.add("__all__", exc.message)
    return state


# ------------------------------------------------------------------ shared bits


async def _templates(ctx: Ctx) -> list[tuple[str, str]]:
    rows = await ctx.db.execute(select(MessageTemplate.id, MessageTemplate.name, MessageTemplate.channel)
                                .where(MessageTemplate.org_id == ctx.caller.org_id)
                                .order_by(MessageTemplate.channel, MessageTemplate.name))
    return [(str(r.id), f"{'SMS' if r.channel == 'sms' else 'E-mail'}: {r.name}") for r in rows]


async def _usernames(ctx: Ctx, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await ctx.db.execute(select(User.id, User.username).join(Membership, Membership.user_id == User.id)
                                .where(User.id.in_(ids), Membership.org_id == ctx.caller.org_id))
    return {r.id: r.username for r in rows}


async def _letter_templates(ctx: Ctx) -> list[tuple[str, str]]:
    """The letter templates a step may use: the built-ins, then the organisation's own."""
    views = await letter_templates.list_templates(ctx.db, ctx.caller)
    return [(str(v.id), f"{v.name} (built in)" if v.builtin else v.name) for v in views]


async def _editor(ctx: Ctx, st: Strategy | None, state: FormState, steps: list[dict[str, str]], buckets: list[str],
                  status: int = 200) -> Response:
    return page(ctx, "strategies/editor.html", status=status, strategy=st, form=state, steps=steps, buckets=buckets,
                templates=await _templates(ctx), actions=[(a, ACTION_LABELS[a]) for a in ACTIONS],
                bucket_options=[(b, BUCKET_LABELS[b]) for b in BUCKETS],
                kinds=[(k, "Book accounts" if k == "book" else "Loans") for k in ACCOUNT_KINDS],
                fields=CUSTOMER_FIELDS, ops=CONDITION_OPS, editable=can_edit(ctx), letter_templates=await _letter_templates(ctx),
                tab="editor", managers=ctx.is_manager)


# ------------------------------------------------------------------ list, pause, resume


@router.get("")
async def index(ctx: CtxDep) -> Response:
    rows = await service.list_strategies(ctx.db, ctx.caller.org_id)
    rows.sort(key=lambda s: not s.is_default)  # the default first; the rest in firing order
    steps = await service.steps_of(ctx.db, [s.id for s in rows])
    return page(ctx, "strategies/index.html", rows=[(s, steps[s.id]) for s in rows], editable=can_edit(ctx),
                labels=ACTION_LABELS)


@router.post("/{strategy_id}/pause")
async def pause(ctx: CtxDep, strategy_id: str) -> Response:
    st = await service.set_paused(ctx.db, ctx.caller, strategy_id, True)
    return redirect(ctx.request, "/app/strategies", flash=f"{st.name} is paused: its steps do not fire.")


@router.post("/{strategy_id}/resume")
async def resume(ctx: CtxDep, strategy_id: str) -> Response:
    st = await service.set_paused(ctx.db, ctx.caller, strategy_id, False)
    return redirect(ctx.request, "/app/strategies", flash=f"{st.name} runs again.")


# ------------------------------------------------------------------ the editor


@router.get("/new")
async def new(ctx: CtxDep) -> Response:
    service.require_writer(ctx.caller)
    state, steps, buckets = _state_of(None, [])
    return await _editor(ctx, None, state, steps, buckets)


@router.get("/{strategy_id}")
async def edit(ctx: CtxDep, strategy_id: str) -> Response:
    st = await service.get_strategy(ctx.db, ctx.caller, strategy_id)
    state, steps, buckets = _state_of(st, (await service.steps_of(ctx.db, [st.id]))[st.id])
    return await _editor(ctx, st, state, steps, buckets)


@router.post("/preview")  # before "/{strategy_id}", which would take it
async def preview_new(ctx: CtxDep) -> Response:
    return await _draft_preview(ctx, None)


async def _save(ctx: Ctx, strategy_id: str | None) -> Response:
    service.require_writer(ctx.caller)  # before anything, the step buttons included
    st = await service.get_strategy(ctx.db, ctx.caller, strategy_id) if strategy_id else None
    form = await ctx.form()
    state, steps, buckets = _read_form(form)
    op = text(form, "op")
    if op and op != "save":
        return await _editor(ctx, st, state, _apply_op(op, steps), buckets)
    data = _data(state, steps, buckets)
    try:
        async with ctx.db.begin_nested():  # a refused save leaves nothing half-written behind
            if st is None:
                st = await service.create_strategy(ctx.db, ctx.caller, data)
                await jobs.ensure_chain(ctx.db, ctx.caller.org_id)  # daily runs start with the first strategy
            else:
                st = await service.update_strategy(ctx.db, ctx.caller, st.id, data)
    except ValidationFailed as exc:
        if strategy_id:
            st = await service.get_strategy(ctx.db, ctx.caller, strategy_id)
        return await _editor(ctx, st if strategy_id else None, _errors(state, exc, steps), steps, buckets, 400)
    return redirect(ctx.request, f"/app/strategies/{st.id}", flash=f"Strategy {st.name} saved.")


@router.post("")
async def create(ctx: CtxDep) -> Response:
    return await _save(ctx, None)


@router.post("/{strategy_id}")
async def update(ctx: CtxDep, strategy_id: str) -> Response:
    return await _save(ctx, strategy_id)


# ------------------------------------------------------------------ preview (htmx panel)


@router.get("/{strategy_id}/preview")
async def preview(ctx: CtxDep, strategy_id: str) -> Response:
    """What a run would do today, per step: the same preview service the API's preview answers with
    (a collection officer's counts their own customers' accounts)."""
    st = await service.get_strategy(ctx.db, ctx.caller, strategy_id)
    out = await previews.preview(ctx.db, ctx.caller, st.id)
    steps = out["strategies"][0]["steps"] if out["strategies"] else []
    names = await _usernames(ctx, {t["assigneeId"] for s in steps for t in s["tasks"] if t["assigneeId"]})
    return render_html(ctx.request, "strategies/_preview.html",
                       {"strategy": st, "out": out, "steps": steps, "names": names, "labels": ACTION_LABELS,
                        "draft": False, "paused": st.paused}, ctx=ctx)


async def _draft_preview(ctx: Ctx, strategy_id: str | None) -> Response:
    """The preview of the form as it stands, unsaved: the strategy is written inside a savepoint,
    previewed, and the savepoint rolled back — the same preview service as for a saved one."""
    service.require_writer(ctx.caller)
    saved = await service.get_strategy(ctx.db, ctx.caller, strategy_id) if strategy_id else None
    state, steps, buckets = _read_form(await ctx.form())
    data = _data(state, steps, buckets)
    savepoint = await ctx.db.begin_nested()
    try:
        if saved is None:
            draft = await service.create_strategy(ctx.db, ctx.caller, data)
        else:
            draft = await service.update_strategy(ctx.db, ctx.caller, saved.id, data)
        out = await previews.preview(ctx.db, ctx.caller, draft.id)
    except ValidationFailed as exc:
        await savepoint.rollback()
        errors = _errors(FormState(), exc, steps).errors
        return render_html(ctx.request, "strategies/_draft_errors.html", {"errors": errors}, ctx=ctx)
    else:
        await savepoint.rollback()  # nothing of the draft stays
    if saved is not None:
        await ctx.db.refresh(saved)  # as saved, not as the draft left it
    steps_out = out["strategies"][0]["steps"] if out["strategies"] else []
    names = await _usernames(ctx, {t["assigneeId"] for s in steps_out for t in s["tasks"] if t["assigneeId"]})
    return render_html(ctx.request, "strategies/_preview.html",
                       {"strategy": saved, "out": out, "steps": steps_out, "names": names, "labels": ACTION_LABELS,
                        "draft": True, "paused": saved.paused if saved else False}, ctx=ctx)


@router.post("/{strategy_id}/preview")
async def preview_draft(ctx: CtxDep, strategy_id: str) -> Response:
    return await _draft_preview(ctx, strategy_id)


# ------------------------------------------------------------------ runs


async def _runs_page(ctx: Ctx, st: Strategy) -> Response:
    pg, per = page_params(ctx.request, default=20)
    rows, total = await service.list_runs(ctx.db, ctx.caller, st.id, page=pg, limit=per)
    ids = {int(r.started_by.split(":", 1)[1]) for r in rows
           if r.started_by.startswith("user:") and r.started_by.split(":", 1)[1].isdigit()}
    return page(ctx, "strategies/runs.html", strategy=st, rows=Page(rows, total, pg, per),
                names=await _usernames(ctx, ids), editable=can_edit(ctx), tab="runs", managers=ctx.is_manager)


@router.get("/{strategy_id}/runs")
async def runs(ctx: CtxDep, strategy_id: str) -> Response:
    return await _runs_page(ctx, await service.get_strategy(ctx.db, ctx.caller, strategy_id))


@router.post("/{strategy_id}/runs")
async def start_run(ctx: CtxDep, strategy_id: str) -> Response:
    service.require_writer(ctx.caller)
    st = await service.get_strategy(ctx.db, ctx.caller, strategy_id)
    dry = (await ctx.form()).get("dry_run") == "1"
    run = await runner.start_run(ctx.db, ctx.caller, strategy_id=st.id, trigger="manual", dry_run=dry,
                                 status="running" if dry else "queued")
    if dry:
        await runner.execute(ctx.db, run)
        message = (f"Dry run done: {run.accounts} accounts would get a step, {run.messages} messages, "
                   f"{run.letters} letters, {run.tasks} tasks; {run.excluded} left out. Nothing was sent.")
    else:
        await enqueue(ctx.db, jobs.RUN, {"run_id": str(run.id)}, org_id=ctx.caller.org_id)
        message = "The run is queued; it shows here as completed when the worker has done it."
    return redirect(ctx.request, f"/app/strategies/{st.id}/runs", flash=message)


# ------------------------------------------------------------------ results


@router.get("/{strategy_id}/results")
async def results(ctx: CtxDep, strategy_id: str) -> Response:
    st = await service.get_strategy(ctx.db, ctx.caller, strategy_id)
    out = await strategy_results.results(ctx.db, ctx.caller, st.id)
    chart = bar_chart([Datum(f"{r['position']}{r['variant'] if len(out['variants']) > 1 else ''}", r["collected"],
                             display=money(r["collected"], ctx.currency)) for r in out["steps"]],
                      title="Collected within 30 days, per step" + (" and variant" if len(out["variants"]) > 1 else ""))
    paid = bar_chart([Datum(f"{r['position']}{r['variant'] if len(out['variants']) > 1 else ''}", r["paidRate"] or 0,
                            display=f"{r['paidRate'] or 0:.1f}%") for r in out["steps"]],
                     title="Accounts that paid within 30 days (% of those entered)")
    return page(ctx, "strategies/results.html", strategy=st, out=out, chart=svg(chart), paid_chart=svg(paid),
                labels=ACTION_LABELS, tab="results", managers=True)

