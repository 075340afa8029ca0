"""How the daily pass writes (issue 22's performance work): event ids that grow in time, the two
event indexes nobody reads gone, and on PostgreSQL heap-only updates of what changes without
touching an index (an open promise's `paid_amount`; the instalments are not written at all: what is
paid of each follows from it, 0031). Both databases."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, inspect, select, text

from arrears.db import transaction, utcnow
from arrears.events import DomainEvent, new_event_uuid
from arrears.identity.caller import Caller
from arrears.promises.models import covered
from tests.faces.repaysync.conftest import RS
from tests.promises.helpers import days, loan_account, pay, promise, run, state, today


def _version_7_at(value: uuid.UUID, millis: int, slack: int = 60_000) -> bool:
    return value.version == 7 and value.variant == uuid.RFC_4122 and abs((value.int >> 80) - millis) < slack


async def test_event_ids_are_version_7_and_those_of_one_statement_ascend(rs: RS):
    t = await rs.tenant()
    day = await today(t)
    accounts = [(await loan_account(t))[1] for _ in range(4)]
    for acc in accounts:
        await promise(t, acc, [("100.00", day)], role="calling_agent")
    out = await run(t, day + days(3))  # nothing paid: all four broken
    assert (out.broken, out.tasks) == (4, 4)
    now = int(utcnow().timestamp() * 1000)
    async with transaction() as s:
        rows = (await s.execute(select(DomainEvent.type, DomainEvent.uuid).where(DomainEvent.org_id == t.org.id)
                                .order_by(DomainEvent.id))).all()
    by_type: dict[str, list[uuid.UUID]] = {}
    for kind, value in rows:
        by_type.setdefault(kind, []).append(value)
    # Through the API one at a time (the organisation, users, customers, loans, promises), and the
    # pass's three kinds in bulk.
    counts = {k: len(v) for k, v in by_type.items()}
    assert (counts["promise.created"], counts["promise.broken"], counts["task.created"]) == (4, 4, 4)
    assert counts["account.status_changed"] == 8  # promised, then active again
    assert all(_version_7_at(value, now) for _, value in rows)
    assert len({value for _, value in rows}) == len(rows)
    for kind in ("promise.broken", "task.created"):  # one INSERT … SELECT each: in row order
        assert by_type[kind] == sorted(by_type[kind])
    made = [new_event_uuid() for _ in range(3)]
    assert all(_version_7_at(value, now) for value in made) and len(set(made)) == 3


async def test_events_keep_only_the_indexes_something_reads(rs: RS):
    await rs.tenant()
    async with transaction() as s:
        conn = await s.connection()
        indexed = await conn.run_sync(lambda c: {tuple(i["column_names"])
                                                 for i in inspect(c).get_indexes("domain_events")})
    # Nothing reads events by organisation but the organisation's deletion (a trigger, 0030).
    assert ("org_id",) not in indexed
    assert ("type",) not in indexed and ("created_at",) not in indexed


async def test_what_changes_no_index_is_rewritten_in_place(rs: RS):
    """An open promise's `paid_amount` changes, the promise stays open (another is kept in the same
    pass): the values are right on both databases (what it covers of each instalment follows from
    it), and on PostgreSQL the open promise is updated heap-only (no new index entry), its table
    leaving room on each page for it; its instalments are not written."""
    t = await rs.tenant()
    _, acc = await loan_account(t)
    _, other = await loan_account(t)
    day = await today(t)
    p = await promise(t, acc, [("100.00", day + days(5)), ("100.00", day + days(9))], role="calling_agent")
    await promise(t, other, [("100.00", day)], role="calling_agent")
    await pay(t, acc, "130.00", day, notify=False)
    await pay(t, other, "100.00", day, notify=False)  # kept in the same pass: its status moves
    async with transaction() as s:
        pg = s.get_bind().dialect.name == "postgresql"
        from arrears.promises.evaluate import evaluate

        out = await evaluate(s, Caller.system(t.org.id), today=day)
        hot = {}
        if pg:
            hot = {r.relname: (r.n_tup_upd, r.n_tup_hot_upd) for r in await s.execute(text(
                "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
                " WHERE relname IN ('promises', 'promise_instalments')"))}
            fill = dict((await s.execute(text(
                "SELECT relname, array_to_string(reloptions, ',') FROM pg_class"
                " WHERE relname IN ('promises', 'promise_instalments')"))).all())
    assert (out.kept, out.broken, out.open) == (1, 0, 1)
    row, plan = await state(p["id"])
    assert (row.status, row.paid_amount) == ("open", Decimal("130.00"))
    assert covered(row.paid_amount, plan) == [Decimal("100.00"), Decimal("30.00")]
    if pg:
        # The kept one's status is indexed (a full update); the open one's new paid amount is
        # written first (before the status changes take the pages' room), heap-only.
        assert hot.get("promises") == (2, 1) and hot.get("promise_instalments", (0, 0))[0] == 0
        assert fill == {"promises": "fillfactor=70", "promise_instalments": None}


async def test_an_accounts_status_change_in_the_pass_is_heap_only(rs: RS):
    """A kept promise takes its account from `promised` back to `active`: the status is in no index
    (0030: `ix_accounts_org_id`, not `(org_id, status)`) and the table leaves room on its pages, so
    on PostgreSQL the UPDATE writes no index entry. Both databases: the statuses and history right."""
    t = await rs.tenant()
    accounts = [(await loan_account(t))[1] for _ in range(3)]
    day = await today(t)
    for acc in accounts:
        await promise(t, acc, [("100.00", day)], role="calling_agent")
        await pay(t, acc, "100.00", day, notify=False)
    async with transaction() as s:
        pg = s.get_bind().dialect.name == "postgresql"
        from arrears.promises.evaluate import evaluate

        out = await evaluate(s, Caller.system(t.org.id), today=day)
        if pg:
            upd, hot = (await s.execute(text(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'accounts'"))).one()
            fill = await s.scalar(text("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'accounts'"))
        conn = await s.connection()
        indexed = await conn.run_sync(lambda c: {tuple(i["column_names"]) for i in inspect(c).get_indexes("accounts")})
    assert out.kept == 3
    assert ("org_id",) in indexed and not any("status" in cols for cols in indexed)
    async with transaction() as s:
        from arrears.accounts.models import Account, AccountStatusChange

        statuses = set(await s.scalars(select(Account.status).where(Account.org_id == t.org.id)))
        moves = (await s.execute(select(AccountStatusChange.from_status, AccountStatusChange.to_status)
                                 .where(AccountStatusChange.org_id == t.org.id))).all()
    assert statuses == {"active"}
    assert sorted(moves) == [("active", "promised")] * 3 + [("promised", "active")] * 3
    if pg:
        assert upd >= 3 and hot == upd  # every update of an account in the pass heap-only
        assert fill == "fillfactor=70"


async def test_a_pass_that_finds_nothing_new_rewrites_nothing(rs: RS):
    """The second pass of a day over a promise part paid (the first wrote its paid amount): nothing
    moved, nothing paid since, so the promise is not written again — not even `updated_at` — nor its
    instalments nor its account, and no event. Both databases."""
    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    p = await promise(t, acc, [("100.00", day + days(5))], role="calling_agent")
    await pay(t, acc, "30.00", day, notify=False)
    first = await run(t, day)
    assert (first.kept, first.broken, first.open) == (0, 0, 1)
    before, _ = await state(p["id"])
    assert before.paid_amount == Decimal("30.00")
    async with transaction() as s:
        events_before = await s.scalar(select(func.count()).select_from(DomainEvent)
                                       .where(DomainEvent.org_id == t.org.id))
        from arrears.promises.evaluate import evaluate

        pg = s.get_bind().dialect.name == "postgresql"
        # The counts of this backend not yet flushed include its earlier transactions' (the first
        # pass may have run on this connection): what this pass wrote is the difference.
        updates = text("SELECT relname, n_tup_upd FROM pg_stat_xact_user_tables"
                       " WHERE relname IN ('promises', 'promise_instalments', 'accounts')")
        start = dict((await s.execute(updates)).all()) if pg else {}
        again = await evaluate(s, Caller.system(t.org.id), today=day)
        written = None
        if pg:
            written = {k: v - start.get(k, 0) for k, v in (await s.execute(updates)).all()}
        events_after = await s.scalar(select(func.count()).select_from(DomainEvent)
                                      .where(DomainEvent.org_id == t.org.id))
    assert (again.kept, again.broken, again.reopened, again.open) == (0, 0, 0, 1)
    after, _ = await state(p["id"])
    assert (after.paid_amount, after.updated_at) == (before.paid_amount, before.updated_at)
    assert events_after == events_before
    if written is not None:
        assert written == {"promises": 0, "promise_instalments": 0, "accounts": 0}


async def test_a_pass_killed_before_its_commit_leaves_nothing_and_its_rerun_acts_once(rs: RS):
    """The daily pass dies after all its statements ran but before the commit (the worker killed):
    nothing of it stays. Run again, it marks, raises events and opens tasks exactly once; a third
    run finds nothing left to do. Both databases."""
    from arrears.promises.evaluate import evaluate
    from arrears.tasks.models import Task

    t = await rs.tenant()
    kept_acc, broken_acc = (await loan_account(t))[1], (await loan_account(t))[1]
    day = await today(t)
    kept = await promise(t, kept_acc, [("100.00", day)], role="calling_agent")
    broken = await promise(t, broken_acc, [("100.00", day)], role="calling_agent")
    await pay(t, kept_acc, "100.00", day, notify=False)
    await pay(t, broken_acc, "40.00", day, notify=False)
    later = day + days(3)

    class Killed(Exception):
        pass

    async def counts() -> dict[str, int]:
        async with transaction() as s:
            rows = (await s.execute(select(DomainEvent.type, func.count()).where(
                DomainEvent.org_id == t.org.id, DomainEvent.type.in_(
                    ("promise.kept", "promise.broken", "task.created", "account.status_changed")))
                .group_by(DomainEvent.type))).all()
            tasks = await s.scalar(select(func.count()).select_from(Task).where(Task.org_id == t.org.id))
        return {str(k): int(n) for k, n in rows} | {"tasks": int(tasks or 0)}

    start = await counts()
    try:
        async with transaction() as s:
            out = await evaluate(s, Caller.system(t.org.id), today=later)
            assert (out.kept, out.broken, out.tasks) == (1, 1, 1)
            raise Killed
    except Killed:
        pass
    assert await counts() == start
    assert [(await state(x["id"]))[0].status for x in (kept, broken)] == ["open", "open"]

    out = await run(t, later)
    assert (out.kept, out.broken, out.tasks) == (1, 1, 1)
    done = await counts()
    assert done == start | {"promise.kept": 1, "promise.broken": 1, "task.created": start.get("task.created", 0) + 1,
                            "tasks": start["tasks"] + 1,
                            "account.status_changed": start["account.status_changed"] + 2}
    kept_row, _ = await state(kept["id"])
    broken_row, _ = await state(broken["id"])
    assert (kept_row.status, kept_row.paid_amount) == ("kept", Decimal("100.00"))
    assert (broken_row.status, broken_row.paid_amount) == ("broken", Decimal("40.00"))
    again = await run(t, later)
    assert (again.kept, again.broken, again.tasks) == (0, 0, 0)
    assert await counts() == done
