"""Arrears' own endpoints for collection strategies, under /api/v1 with the partner face's
conventions (errors {"error": CODE, "message", "details"}, camelCase, UUID ids, lists as
{"data": [...], "pagination": {page, limit, total, totalPages}}, limit at most 100).

Callers: a user's JWT — any member reads; admins and managers with write access write strategies,
pause them and start runs — or a partner `ins_` key with `strategies:read` / `strategies:write`
(`*` grants all; a :write scope reads too). Another organisation's ids are 404. Money is written as
JSON numbers, digit for digit. See docs/contracts.md, "Collection strategies".
"""

from __future__ import annotations

from typing import Any

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from arrears.db import isoz
from arrears.downloads import content_disposition
from arrears.faces.deps import SessionDep
from arrears.faces.own_api import ApiCaller, MoneyJSON, require_scope
from arrears.faces.partner import views
from arrears.faces.partner.routing import partner_router
from arrears.identity.caller import Caller
from arrears.jobs.queue import enqueue
from arrears.partners.service import PAGES
from arrears.strategies import jobs, runner, service
from arrears.strategies import preview as previews
from arrears.strategies.handover import handover_csv
from arrears.strategies.models import Strategy, StrategyAccountState, StrategyRun, StrategyStep

router = partner_router("/api/v1", "Collection strategies")


def needs(scope: str) -> str:
    also = f" (or `{scope.replace(':read', ':write')}`)" if scope.endswith(":read") else ""
    who = ("any member of the organisation" if scope.endswith(":read")
           else "admins and managers with write access")
    return f"Scope for `ins_` keys: `{scope}`{also}; `*` covers every scope. Users (JWT): {who}."


def _read(caller: Caller) -> None:
    require_scope(caller, "strategies:read", "strategies:write")


# ------------------------------------------------------------------ shapes


def step_out(s: StrategyStep) -> dict[str, Any]:
    return {"id": str(s.id), "position": s.position, "variant": s.variant, "name": s.name,
            "minDaysPastDue": s.min_days_past_due, "minBalance": s.min_balance, "action": s.action,
            "messageTemplateId": str(s.message_template_id) if s.message_template_id else None,
            "letterTemplateId": str(s.letter_template_id) if s.letter_template_id else None,
            "letterDelivery": s.letter_delivery if s.action == "letter" else None,
            "handOverTo": s.hand_over_to, "waitDays": s.wait_days, "repeatDays": s.repeat_days}


def strategy_out(st: Strategy, steps: list[StrategyStep]) -> dict[str, Any]:
    return {"id": str(st.id), "name": st.name, "description": st.description, "isDefault": st.is_default,
            "priority": st.priority, "paused": st.paused, "ownerId": st.owner_id,
            "runTime": st.run_time.strftime("%H:%M") if st.run_time else None,
            "segment": {"minBalance": st.min_balance, "maxBalance": st.max_balance,
                        "oldestBuckets": st.oldest_buckets, "accountKind": st.account_kind,
                        "customerConditions": st.customer_conditions or []},
            "challengerPercent": st.challenger_percent, "steps": [step_out(s) for s in steps],
            "createdBy": st.created_by, "createdAt": isoz(st.created_at), "updatedAt": isoz(st.updated_at)}


def run_out(r: StrategyRun) -> dict[str, Any]:
    return {"id": str(r.id), "strategyId": str(r.strategy_id) if r.strategy_id else None,
            "day": r.run_on.isoformat(), "trigger": r.trigger, "dryRun": r.dry_run, "status": r.status,
            "startedBy": r.started_by, "accounts": r.accounts, "messages": r.messages, "letters": r.letters,
            "tasks": r.tasks, "handedOver": r.handed_over, "excluded": r.excluded, "counts": r.counts,
            "error": r.error, "startedAt": isoz(r.started_at), "finishedAt": isoz(r.finished_at)}


def state_out(account_id: str, s: StrategyAccountState | None) -> dict[str, Any]:
    if s is None:
        return {"accountId": account_id, "strategyId": None, "variant": None, "position": None, "stepId": None,
                "lastFiredOn": None, "nextDueOn": None, "paused": False, "pausedBy": None, "leftAtPosition": None,
                "leftStatus": None, "leftOn": None}
    return {"accountId": str(s.account_id), "strategyId": str(s.strategy_id) if s.strategy_id else None,
            "variant": s.variant, "position": s.position, "stepId": str(s.step_id) if s.step_id else None,
            "lastFiredOn": s.last_fired_on.isoformat() if s.last_fired_on else None,
            "nextDueOn": s.next_due_on.isoformat() if s.next_due_on else None, "paused": s.paused,
            "pausedBy": s.paused_by, "leftAtPosition": s.left_at_position, "leftStatus": s.left_status,
            "leftOn": s.left_on.isoformat() if s.left_on else None}


async def _one(session: Any, st: Strategy) -> dict[str, Any]:
    return strategy_out(st, (await service.steps_of(session, [st.id]))[st.id])


# ------------------------------------------------------------------ strategies


class StrategyIn(BaseModel):
    """A strategy; on PATCH only the fields given change (`steps`, when given, is the whole list)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    isDefault: bool | None = None
    priority: int | None = Field(default=None, description="lowest first; the default strategy always last")
    paused: bool | None = None
    ownerId: int | None = Field(default=None, description="a manager or admin (default: you)")
    runTime: str | None = Field(default=None, description="HH:MM, the organisation's local time")
    segment: dict[str, Any] | None = Field(default=None, description="minBalance, maxBalance, oldestBuckets, "
                                           "accountKind (book|loan), customerConditions [{field, op, value}]")
    challengerPercent: int | None = Field(default=None, description="0–100: the share that follows variant B")
    steps: list[dict[str, Any]] | None = Field(default=None, description="in firing order: action, minDaysPastDue, "
                                               "minBalance, messageTemplateId, letterTemplateId, letterDelivery "
                                               "(email|print), handOverTo, "
                                               "waitDays, repeatDays, variant (A, B or null), name; id to keep one")


def _body(body: StrategyIn) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=True)
    return {k: v for k, v in data.items() if not (k in ("isDefault", "paused", "priority") and v is None)}


@router.get("/strategies", summary="List collection strategies (firing order)", description=needs("strategies:read"))
async def list_strategies(session: SessionDep, caller: ApiCaller, page: int = Query(1),
                          limit: int = Query(20)) -> MoneyJSON:
    _read(caller)
    req = PAGES.check(page, limit)
    rows = await service.list_strategies(session, caller.org_id)
    chosen = rows[req.offset:req.offset + req.size]
    steps = await service.steps_of(session, [s.id for s in chosen])
    return MoneyJSON(views.page([strategy_out(s, steps[s.id]) for s in chosen], req.page, req.size, len(rows)))


@router.post("/strategies", status_code=201, summary="Create a strategy with its steps",
             description=needs("strategies:write"))
async def create_strategy(body: StrategyIn, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "strategies:write")
    st = await service.create_strategy(session, caller, _body(body))
    await jobs.ensure_chain(session, caller.org_id)  # the organisation's daily runs start with its first strategy
    return MoneyJSON(await _one(session, st), status_code=201)


@router.get("/strategies/{strategy_id}", summary="A strategy and its steps", description=needs("strategies:read"))
async def get_strategy(strategy_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _read(caller)
    return MoneyJSON(await _one(session, await service.get_strategy(session, caller, strategy_id)))


@router.patch("/strategies/{strategy_id}", summary="Change a strategy (and its steps)",
              description=needs("strategies:write"))
async def update_strategy(strategy_id: str, body: StrategyIn, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "strategies:write")
    st = await service.update_strategy(session, caller, strategy_id, _body(body))
    return MoneyJSON(await _one(session, st))


@router.delete("/strategies/{strategy_id}", status_code=204, summary="Delete a strategy (its history goes too)",
               description=needs("strategies:write"))
async def delete_strategy(strategy_id: str, session: SessionDep, caller: ApiCaller) -> Response:
    require_scope(caller, "strategies:write")
    await service.delete_strategy(session, caller, strategy_id)
    return Response(status_code=204)


@router.post("/strategies/{strategy_id}/pause", summary="Pause a strategy", description=needs("strategies:write"))
async def pause_strategy(strategy_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "strategies:write")
    return MoneyJSON(await _one(session, await service.set_paused(session, caller, strategy_id, True)))


@router.post("/strategies/{strategy_id}/resume", summary="Resume a paused strategy",
             description=needs("strategies:write"))
async def resume_strategy(strategy_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "strategies:write")
    return MoneyJSON(await _one(session, await service.set_paused(session, caller, strategy_id, False)))


@router.get("/strategies/{strategy_id}/preview", summary="What a run would do today, step by step",
            description=needs("strategies:read") + " A collection officer's preview counts their own "
            "customers' accounts only (`scope`: `own`); everyone else's the organisation's (`organisation`).")
async def preview(strategy_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _read(caller)
    out = await previews.preview(session, caller, strategy_id)
    [st] = out["strategies"]
    return MoneyJSON({"strategyId": st["strategyId"], "day": out["day"], "scope": out["scope"], "steps": st["steps"],
                      **{k: out[k] for k in ("accounts", "messages", "letters", "lettersEmailed",
                                                       "lettersPrinted", "tasks", "handedOver", "excluded")}})


class StrategyRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dryRun: bool = Field(default=False, description="record what a run would do, and do nothing")


@router.post("/strategies/{strategy_id}/runs", status_code=202,
             summary="Start a run of this strategy now (a dry run answers at once, 201)",
             description=needs("strategies:write"))
async def start_run(strategy_id: str, session: SessionDep, caller: ApiCaller, body: StrategyRunIn | None = None) -> MoneyJSON:
    require_scope(caller, "strategies:write")
    service.require_writer(caller)
    st = await service.get_strategy(session, caller, strategy_id)
    dry = bool(body and body.dryRun)
    run = await runner.start_run(session, caller, strategy_id=st.id, trigger="manual", dry_run=dry,
                                 status="running" if dry else "queued")
    if dry:
        await runner.execute(session, run)
        return MoneyJSON(run_out(run), status_code=201)
    await enqueue(session, jobs.RUN, {"run_id": str(run.id)}, org_id=caller.org_id)
    return MoneyJSON(run_out(run), status_code=202)


@router.get("/strategies/{strategy_id}/runs", summary="Run history (this strategy's runs and the organisation's)",
            description=needs("strategies:read"))
async def list_runs(strategy_id: str, session: SessionDep, caller: ApiCaller, page: int = Query(1),
                    limit: int = Query(20)) -> MoneyJSON:
    _read(caller)
    req = PAGES.check(page, limit)
    rows, total = await service.list_runs(session, caller, strategy_id, page=req.page, limit=req.size)
    return MoneyJSON(views.page([run_out(r) for r in rows], req.page, req.size, total))


@router.get("/strategies/{strategy_id}/runs/{run_id}", summary="One run and its counts per step",
            description=needs("strategies:read"))
async def get_run(strategy_id: str, run_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _read(caller)
    await service.get_strategy(session, caller, strategy_id)
    return MoneyJSON(run_out(await service.get_run(session, caller, run_id)))


@router.get("/strategies/{strategy_id}/handovers.csv", summary="The hand-over export (CSV)",
            description=needs("strategies:read"))
async def handovers(strategy_id: str, session: SessionDep, caller: ApiCaller) -> Response:
    _read(caller)
    st = await service.get_strategy(session, caller, strategy_id)
    return Response(await handover_csv(session, st), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": content_disposition(f"handovers-{st.id}.csv")})


# ------------------------------------------------------------------ one account


class AccountStrategyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paused: bool


@router.get("/accounts/{account_id}/strategy", summary="Where an account is in its strategy",
            description=needs("strategies:read"))
async def account_strategy(account_id: str, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    _read(caller)
    return MoneyJSON(state_out(account_id, await service.account_state(session, caller, account_id)))


@router.put("/accounts/{account_id}/strategy", summary="Pause or resume one account in its strategy",
            description=needs("strategies:write"))
async def pause_account(account_id: str, body: AccountStrategyIn, session: SessionDep, caller: ApiCaller) -> MoneyJSON:
    require_scope(caller, "strategies:write")
    return MoneyJSON(state_out(account_id, await service.set_account_paused(session, caller, account_id, body.paused)))


# Results live in their own module (arrears.faces.strategies_api.results); this router serves them.
from arrears.faces.strategies_api import results as _results  # noqa: E402

router.include_router(_results.router)
