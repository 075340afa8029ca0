"""Results per strategy, step and variant (champion A, challenger B): what happened within
`WINDOW_DAYS` (30) days of each step execution, counted in one grouped SQL query on both engines:
the executions left-joined to the set of those whose message went out, whose task is done, after
which a promise was made, and to their payments summed per execution (joins, not a probe per row:
bench/bench_strategy_results.py, docs/benchmarks.md).

Per (step, variant), over the step executions on days `since` … `until` (all when not given):
- **entered**: step executions (an account that had the step twice — a repeat — counts twice);
- **contacted**: executions that reached the debtor — an SMS or e-mail step's message (the outbox
  row with the execution's idempotency key `strategy:<step>:<account>:<day>`) in status sent,
  delivered or read; a letter step that made its letter (outcome `letter`); a call or visit step
  whose task (the strategy task of that kind opened for the account on that day) is done.
  Messages refused by the contact rules (outcome `skipped`), still pending or failed, open or
  cancelled tasks and hand-overs do not count;
- **promised**: executions after which a promise (not cancelled) was made on the account on the
  step's day or within the 30 days after it (`promises.made_on`);
- **paid**: executions after which a payment in status `recorded` was paid on the account within
  that window (`payments.paid_on`);
- **collected**: the sum of those payments, per execution. Payments only: a book account's balance
  falling between two reports without a recorded payment is not counted.
The window is per execution, so one payment may count under two steps an account had within 30
days of each other (the figures say what followed each step, they do not share money out).

Who sees them: admins and managers (read or write access) and `ins_` keys with
`strategies:read`; another organisation's strategy is 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from arrears.errors import Forbidden
from arrears.identity.caller import Caller
from arrears.messaging.models import SENT_STATUSES, Message
from arrears.payments.models import Payment
from arrears.promises.models import Promise
from arrears.strategies.models import StrategyStepExecution
from arrears.strategies.service import get_strategy, steps_of
from arrears.strategies.sqlparts import days_between
from arrears.tasks.models import Task

WINDOW_DAYS = 30
ZERO = Decimal("0.00")
E = StrategyStepExecution
TASK_KIND = {"call_task": "call", "visit_task": "visit"}


def require_reader(caller: Caller) -> None:
    """Results are a manager's figures: admins and managers (keys are checked by scope in the face)."""
    if caller.kind == "user" and not caller.is_manager_or_admin:
        raise Forbidden("Only admins and managers see the results of strategies.")


def _within(day: Any) -> ColumnElement[bool]:
    """`day` on the step's day or within WINDOW_DAYS after it."""
    gap = days_between(day, E.run_on)
    return and_(day >= E.run_on, gap <= WINDOW_DAYS)


def _key() -> ColumnElement[str]:
    """The execution's message idempotency key (models.message_key), in SQL."""
    return (literal("strategy:") + cast(E.step_id, String) + literal(":") + cast(E.account_id, String)
            + literal(":") + cast(E.run_on, String))


def _hits(conds: list[ColumnElement[bool]]) -> dict[str, Any]:
    """Per execution (its id as `eid`), joined set-based rather than probed row by row: the
    executions whose message went out, whose task is done, after which a promise was made, and the
    payments that followed (their sum)."""
    message = (select(E.id.label("eid"))
               .join(Message, and_(Message.org_id == E.org_id, Message.idempotency_key == _key(),
                                   Message.status.in_(SENT_STATUSES)))
               .where(*conds, E.action.in_(("sms", "email")), E.outcome == "queued").subquery())
    task_kind = case(*((E.action == a, literal(k)) for a, k in TASK_KIND.items()), else_=literal(""))
    task = (select(E.id.label("eid"))
            .join(Task, and_(Task.account_id == E.account_id, Task.org_id == E.org_id, Task.source == "strategy",
                             Task.kind == task_kind, Task.due_date == E.run_on, Task.status == "done"))
            .where(*conds, E.action.in_(tuple(TASK_KIND))).distinct().subquery())
    promise = (select(E.id.label("eid"))
               .join(Promise, and_(Promise.account_id == E.account_id, Promise.org_id == E.org_id,
                                   Promise.status != "cancelled", _within(Promise.made_on)))
               .where(*conds).distinct().subquery())
    payment = (select(E.id.label("eid"), func.sum(Payment.amount).label("amount"))
               .join(Payment, and_(Payment.account_id == E.account_id, Payment.org_id == E.org_id,
                                   Payment.status == "recorded", _within(Payment.paid_on)))
               .where(*conds).group_by(E.id).subquery())
    return {"message": message, "task": task, "promise": promise, "payment": payment}


@dataclass
class Row:
    step_id: uuid.UUID
    variant: str
    entered: int
    contacted: int
    promised: int
    paid: int
    collected: Decimal


async def tally(session: AsyncSession, org_id: int, strategy_id: uuid.UUID, *, since: date | None = None,
                until: date | None = None) -> list[Row]:
    """The counts per (step, variant): the executions, left-joined to what followed each, grouped."""
    conds: list[ColumnElement[bool]] = [E.org_id == org_id, E.strategy_id == strategy_id]
    if since is not None:
        conds.append(E.run_on >= since)
    if until is not None:
        conds.append(E.run_on <= until)
    h = _hits(conds)
    letter = func.coalesce(func.sum(case((and_(E.action == "letter", E.outcome == "letter"), 1), else_=0)), 0)
    q = (select(E.step_id, E.variant, func.count().label("entered"),
                (func.count(h["message"].c.eid) + func.count(h["task"].c.eid) + letter).label("contacted"),
                func.count(h["promise"].c.eid).label("promised"), func.count(h["payment"].c.eid).label("paid"),
                func.coalesce(func.sum(h["payment"].c.amount), 0).label("collected"))
         .select_from(E)
         .outerjoin(h["message"], h["message"].c.eid == E.id).outerjoin(h["task"], h["task"].c.eid == E.id)
         .outerjoin(h["promise"], h["promise"].c.eid == E.id).outerjoin(h["payment"], h["payment"].c.eid == E.id)
         .where(*conds).group_by(E.step_id, E.variant))
    return [Row(r.step_id, r.variant, int(r.entered), int(r.contacted), int(r.promised), int(r.paid),
                Decimal(str(r.collected)).quantize(ZERO)) for r in (await session.execute(q)).all()]


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _figures(entered: int, contacted: int, promised: int, paid: int, collected: Decimal) -> dict[str, Any]:
    return {"entered": entered, "contacted": contacted, "promised": promised, "paid": paid, "collected": collected,
            "contactedRate": _rate(contacted, entered), "promisedRate": _rate(promised, entered),
            "paidRate": _rate(paid, entered)}


async def results(session: AsyncSession, caller: Caller, strategy_id: Any, *, since: date | None = None,
                  until: date | None = None) -> dict[str, Any]:
    """Per step (in position order) and variant, and totals per variant: the API's and the page's shape."""
    require_reader(caller)
    st = await get_strategy(session, caller, strategy_id)
    steps = (await steps_of(session, [st.id]))[st.id]
    found = {(r.step_id, r.variant): r for r in await tally(session, st.org_id, st.id, since=since, until=until)}
    rows: list[dict[str, Any]] = []
    totals: dict[str, list[Any]] = {}
    for step in steps:
        variants = [step.variant] if step.variant else (["A", "B"] if st.challenger_percent else ["A"])
        variants += sorted({v for (sid, v) in found if sid == step.id and v not in variants})
        for v in variants:
            r = found.get((step.id, v))
            nums = (r.entered, r.contacted, r.promised, r.paid, r.collected) if r else (0, 0, 0, 0, ZERO)
            rows.append({"stepId": str(step.id), "position": step.position, "name": step.name,
                         "action": step.action, "variant": v, **_figures(*nums)})
            t = totals.setdefault(v, [0, 0, 0, 0, ZERO])
            for i, n in enumerate(nums):
                t[i] += n
    return {"strategyId": str(st.id), "windowDays": WINDOW_DAYS,
            "from": since.isoformat() if since else None, "until": until.isoformat() if until else None,
            "steps": rows,
            "variants": [{"variant": v, **_figures(*totals[v])} for v in sorted(totals)]}
