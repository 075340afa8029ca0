"""The daily pass in lanes (`evaluate.daily_pass`, what the daily job and `arrears promises check`
run): on PostgreSQL the organisation's accounts are dealt into two sets by their id, each evaluated
in its own transaction, both at once; on SQLite one transaction. Both databases: the same verdicts,
events and tasks as one pass; a lane that fails leaves the other's accounts done, whole, and the
rerun does the rest exactly once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from arrears.accounts.models import Account, AccountStatusChange
from arrears.db import get_engine, transaction
from arrears.events import DomainEvent
from arrears.promises import evaluate as evaluation
from arrears.promises.evaluate import LANES, daily_pass
from arrears.tasks.models import Task
from tests.faces.repaysync.conftest import RS, Tenant
from tests.promises.helpers import days, loan_account, pay, promise, state, today

KINDS = ("promise.kept", "promise.broken", "task.created", "account.status_changed")


def lane_of(account_id: str) -> int:
    """The set an account is dealt into: its id's last byte, as the pass's statement counts it."""
    return uuid.UUID(account_id).bytes[15] % LANES


async def book(t: Tenant, per_lane: int) -> dict[str, list[tuple[str, dict[str, Any], str]]]:
    """Accounts with one promise each, until both sets have `per_lane` of them: each set's are in
    turn kept (paid in full), broken (part paid) and still open (due later). Returns the accounts
    by set as (account id, promise, what it should become)."""
    day = await today(t)
    by_lane: dict[int, list[tuple[str, dict[str, Any], str]]] = {k: [] for k in range(LANES)}
    while any(len(v) < per_lane for v in by_lane.values()):
        _, acc = await loan_account(t)
        mine = by_lane[lane_of(acc)]
        if len(mine) >= per_lane:
            continue
        fate = ("kept", "broken", "open")[len(mine) % 3]
        due = day + days(10) if fate == "open" else day
        p = await promise(t, acc, [("100.00", due)], role="calling_agent")
        await pay(t, acc, "100.00" if fate == "kept" else "40.00", day, notify=False)
        mine.append((acc, p, fate))
    return {str(k): v for k, v in by_lane.items()}


async def counts(t: Tenant) -> dict[str, int]:
    async with transaction() as s:
        rows = (await s.execute(select(DomainEvent.type, func.count()).where(
            DomainEvent.org_id == t.org.id, DomainEvent.type.in_(KINDS)).group_by(DomainEvent.type))).all()
        tasks = await s.scalar(select(func.count()).select_from(Task).where(Task.org_id == t.org.id))
        history = await s.scalar(select(func.count()).select_from(AccountStatusChange)
                                 .where(AccountStatusChange.org_id == t.org.id))
    return dict.fromkeys(KINDS, 0) | {str(k): int(n) for k, n in rows} | {"tasks": int(tasks or 0),
                                                                          "history": int(history or 0)}


def after(start: dict[str, int], n: int) -> dict[str, int]:
    """The counts once `n` sets are done: a kept and a broken promise each, the broken one's call
    task, and both accounts back to `active` (a history row and an event each)."""
    return start | {"promise.kept": n, "promise.broken": n, "task.created": start["task.created"] + n,
                    "tasks": start["tasks"] + n, "account.status_changed": start["account.status_changed"] + 2 * n,
                    "history": start["history"] + 2 * n}


async def statuses(accounts: list[tuple[str, dict[str, Any], str]]) -> list[tuple[str, str]]:
    """Each promise's status beside its account's."""
    out = []
    for acc, p, _ in accounts:
        async with transaction() as s:
            account = await s.get(Account, uuid.UUID(acc))
        assert account is not None
        out.append(((await state(p["id"]))[0].status, str(account.status)))
    return out


def expected(accounts: list[tuple[str, dict[str, Any], str]]) -> list[tuple[str, str]]:
    # An account keeps `promised` while its promise is open and goes back to `active` otherwise.
    return [(fate, "promised" if fate == "open" else "active") for _, _, fate in accounts]


def pg() -> bool:
    return get_engine().dialect.name == "postgresql"


async def test_the_daily_pass_evaluates_each_set_at_once_and_as_one_pass_would(rs: RS, monkeypatch):
    t = await rs.tenant()
    accounts = await book(t, per_lane=3)
    start = await counts(t)
    # On PostgreSQL both lanes must be inside their pass at the same time: each waits for the
    # other at the barrier (lanes taken in turn would wait there for ever, and time out).
    lanes_met = asyncio.Barrier(LANES)
    entered: list[Any] = []
    real_pass = evaluation._pass

    async def meeting(*args: Any) -> Any:
        entered.append(args[-1])
        if args[-1] is not None:
            await asyncio.wait_for(lanes_met.wait(), 10)
        return await real_pass(*args)

    monkeypatch.setattr(evaluation, "_pass", meeting)
    out = await daily_pass(t.org.id, today=(await today(t)) + days(3))
    assert sorted(x for x in entered if x is not None) == ([(k, LANES) for k in range(LANES)] if pg() else [])
    assert entered.count(None) == (0 if pg() else 1)
    assert (out.kept, out.broken, out.open, out.tasks) == (LANES, LANES, LANES, LANES)
    for lane in accounts.values():
        assert await statuses(lane) == expected(lane)
    assert await counts(t) == after(start, LANES)


async def test_a_lane_that_fails_leaves_the_others_done_and_the_rerun_does_the_rest_once(rs: RS, monkeypatch):
    t = await rs.tenant()
    accounts = await book(t, per_lane=3)
    later = (await today(t)) + days(3)
    start = await counts(t)

    class Died(Exception):
        pass

    real_pass = evaluation._pass

    async def last_lane_dies(*args: Any) -> Any:
        done = await real_pass(*args)  # everything written, then the failure before the commit
        if args[-1] in (None, (LANES - 1, LANES)):
            raise Died
        return done

    monkeypatch.setattr(evaluation, "_pass", last_lane_dies)
    with pytest.raises(Died):
        await daily_pass(t.org.id, today=later)
    monkeypatch.setattr(evaluation, "_pass", real_pass)
    survivors = list(range(LANES - 1)) if pg() else []  # SQLite: one transaction, nothing kept
    for k, lane in accounts.items():
        done = int(k) in survivors
        assert await statuses(lane) == (expected(lane) if done else [("open", "promised")] * len(lane))
    # Each surviving lane's accounts whole: a kept and a broken promise each, the task, the events.
    n = len(survivors)
    assert await counts(t) == after(start, n)

    out = await daily_pass(t.org.id, today=later)
    assert (out.kept, out.broken, out.tasks) == (LANES - n, LANES - n, LANES - n)
    assert out.open == LANES
    for lane in accounts.values():
        assert await statuses(lane) == expected(lane)
    done = await counts(t)
    assert done == after(start, LANES)
    again = await daily_pass(t.org.id, today=later)
    assert (again.kept, again.broken, again.tasks, again.open) == (0, 0, 0, LANES)
    assert await counts(t) == done
