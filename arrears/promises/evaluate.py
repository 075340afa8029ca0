"""Promise evaluation: which open promises were kept, which broken, what was paid — in a few
set-based statements per pass, whatever the number of promises (never one promise at a time).

The rules:
- What counts as paid towards a promise: the account's `recorded` payments dated on or after the
  promise's `made_on`. A book account without such payments counts a later report (its latest,
  after the promise's `baseline_report_id`) whose balance fell below the baseline: the fall is a
  payment dated on that report's date, and the promise's `evidence` says which report and the
  balances.
- Payments fill the instalments in date order, the promise's `paid_amount` is their sum (what they
  cover of each instalment follows from it: `models.covered`, not stored).
- An instalment is late when what was paid by its date plus the organisation's grace days
  (`promise_grace_days`, default 2) does not cover it and every instalment before it.
- A promise is broken as soon as an instalment is late and its date plus grace is behind us
  ("today" is the organisation's local date); kept when no instalment is late (all covered in
  time, the last included); otherwise open.
- A kept promise evaluated again (after a payment changed: a reversal) goes back to open, or to
  broken when it is too late; a broken one stays broken.
- Kept: `promise.kept`. Broken: `promise.broken`, a call task for the agent who took it, due the
  next working day (weekends and the organisation's `holiday_country` holidays skipped), and the
  customer's timeline shows it (promises.timeline). The account's `promised` status follows.

The pass works through temporary tables (the candidates, what was paid, each promise's verdict),
so that the evaluation is computed once and the updates, events and tasks read it.

The daily pass (`daily_pass`: the daily job, the CLI) runs in transactions of its own. On
PostgreSQL the organisation's accounts are dealt into `LANES` sets by their id, and each set is
evaluated in its own transaction on its own connection, all at once: the statements of one run in
one backend while the other's run in another (the pass is the database's work, and a bare statement
has one core of two). An account's promises are always in one set, with everything they move — the
account's status, history, events and tasks — so each transaction is a whole pass over its accounts.
A lane that fails leaves the others committed; the job's next attempt finds their promises no
longer open and evaluates the rest, once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Numeric,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events, sqljson
from arrears.accounts import service as accounts
from arrears.db import GUID, UTCDateTime, transaction, utcnow
from arrears.identity.caller import Caller
from arrears.identity.service import get_org
from arrears.promises.calendar import grace_days, holiday_country, next_working_day, org_today
from arrears.promises.models import Promise
from arrears.tasks import service as tasks

ACTOR = "system"
CHUNK = 500
LANES = 2  # the daily pass's transactions at once on PostgreSQL: one per core of these machines
_TEMP = ("tmp_promise_moves", "tmp_promise_eval", "tmp_promise_pay", "tmp_promise_cand")


@dataclass
class Outcome:
    """What one pass did: promises newly kept, broken, re-opened; open ones left (in the organisation)."""

    kept: int = 0
    broken: int = 0
    reopened: int = 0
    open: int = 0
    tasks: int = 0

    def add(self, other: Outcome) -> None:
        self.kept += other.kept
        self.broken += other.broken
        self.reopened += other.reopened
        self.tasks += other.tasks


# ------------------------------------------------------------------ the statements


def _sql(dialect: str) -> dict[str, str]:
    pg = dialect == "postgresql"
    plus_grace = "(i.due_date + CAST(:grace AS INTEGER))" if pg else "date(i.due_date, :grace_mod)"
    report_day = ("COALESCE(d.latest_report_date, CAST(d.latest_report_at AS DATE))" if pg
                  else "COALESCE(d.latest_report_date, date(d.latest_report_at))")
    cents = "CAST(ROUND(({}) * 100) AS BIGINT)"
    return {
        "cand": f"""
CREATE TEMP TABLE tmp_promise_cand AS
SELECT p.id, p.account_id, p.made_on, p.baseline_balance, p.baseline_report_id, p.status, p.agent_id, p.amount,
       {cents.format('p.paid_amount')} AS old_paid
FROM promises p WHERE p.org_id = :org AND p.status IN ({{statuses}}) {{accounts}} {{lane}}""",
        # Recorded payments since each promise was made; for a book account without any, the fall
        # in balance of a report newer than the promise's baseline, dated on that report's date.
        "pay": f"""
CREATE TEMP TABLE tmp_promise_pay AS
SELECT c.id AS promise_id, x.paid_on AS paid_on, {cents.format('x.amount')} AS cents,
       CAST(NULL AS INTEGER) AS report_id
FROM tmp_promise_cand c JOIN payments x ON x.account_id = c.account_id
WHERE x.status = 'recorded' AND x.paid_on >= c.made_on
UNION ALL
SELECT c.id, {report_day}, {cents.format('c.baseline_balance - d.total_balance')}, d.latest_report_id
FROM tmp_promise_cand c JOIN accounts a ON a.id = c.account_id
JOIN debtor_accounts d ON d.id = a.debtor_account_id
WHERE a.kind = 'book' AND c.baseline_report_id IS NOT NULL AND d.latest_report_id > c.baseline_report_id
  AND d.total_balance < c.baseline_balance
  AND NOT EXISTS (SELECT 1 FROM payments y WHERE y.account_id = c.account_id AND y.status = 'recorded'
                  AND y.paid_on >= c.made_on)""",
        # Each promise's verdict beside what it was (status, paid): the updates, events, tasks and
        # accounts read it, none of them the promises again. Per instalment (all in cents: exact on
        # both engines): its amount, what was paid by its date plus grace, what was paid towards the
        # promise in all, and the plan's running total up to it (one join of the payments gives both
        # sums). What the payments cover of each instalment is not stored (models.covered).
        "eval": f"""
CREATE TEMP TABLE tmp_promise_eval AS
WITH per AS (
  SELECT i.promise_id, i.number, i.due_date, {cents.format('i.amount')} AS cents,
         COALESCE(SUM(CASE WHEN x.paid_on <= {plus_grace} THEN x.cents ELSE 0 END), 0) AS in_time,
         COALESCE(SUM(x.cents), 0) AS paid
  FROM promise_instalments i JOIN tmp_promise_cand c ON c.id = i.promise_id
  LEFT JOIN tmp_promise_pay x ON x.promise_id = i.promise_id
  GROUP BY i.id, i.promise_id, i.number, i.due_date, i.amount
), inst AS (
  SELECT promise_id, due_date, in_time, paid,
         SUM(cents) OVER (PARTITION BY promise_id ORDER BY number) AS through
  FROM per
)
SELECT v.promise_id, v.paid, v.status, c.status AS old, c.old_paid, c.account_id, c.agent_id, c.amount
FROM (SELECT promise_id, MAX(paid) AS paid,
        CASE WHEN SUM(CASE WHEN in_time < through AND due_date < :cutoff THEN 1 ELSE 0 END) > 0 THEN 'broken'
             WHEN SUM(CASE WHEN in_time < through THEN 1 ELSE 0 END) = 0 THEN 'kept'
             ELSE 'open' END AS status
      FROM inst GROUP BY promise_id) v
JOIN tmp_promise_cand c ON c.id = v.promise_id""",
        "moves": """
CREATE TEMP TABLE tmp_promise_moves AS
SELECT promise_id AS id, old, status AS new, account_id, agent_id, amount, paid
FROM tmp_promise_eval WHERE old <> status""",
        "evidence": """
SELECT x.promise_id, x.report_id, x.paid_on, x.cents, c.baseline_balance, c.baseline_report_id
FROM tmp_promise_pay x JOIN tmp_promise_cand c ON c.id = x.promise_id
WHERE x.report_id IS NOT NULL""",
        # Two statements, the promises that only have a new paid amount first: that change
        # touches no indexed column, so it is a heap-only update on the row's own page — but only
        # while the page has room, and the status changes (new pages anyway: `status` is indexed)
        # would otherwise take it first. A promise with nothing new is not written at all.
        "update_paid": """
UPDATE promises SET paid_amount = e.paid / 100.0, updated_at = :now
FROM tmp_promise_eval e
WHERE promises.id = e.promise_id AND e.old = e.status AND e.old_paid <> e.paid""",
        "update_promises": """
UPDATE promises SET status = e.new, paid_amount = e.paid / 100.0,
  closed_at = CASE WHEN e.new IN ('kept', 'broken') THEN :now ELSE NULL END,
  closed_by = CASE WHEN e.new IN ('kept', 'broken') THEN 'system' ELSE NULL END,
  updated_at = :now
FROM tmp_promise_moves e
WHERE promises.id = e.id""",
    }


async def _drop_temp(session: AsyncSession) -> None:
    for name in _TEMP:
        await session.execute(text(f"DROP TABLE IF EXISTS {name}"))


# ------------------------------------------------------------------ a pass


async def evaluate(session: AsyncSession, caller: Caller, *, account_ids: Sequence[uuid.UUID] | None = None,
                   today: date | None = None) -> Outcome:
    """Evaluate the caller's organisation's open promises (all of them: the daily pass), or those of
    these accounts (another organisation's are left out), their kept ones included (after payments
    changed: a reversal re-opens), as the caller (write access; the system's jobs and hooks pass
    `Caller.system(org_id, ACTOR)`, the CLI its own). `today` is the organisation's local date
    (default: now). Flushes; the caller commits. The daily job and the CLI call `daily_pass`."""
    outcome = await _evaluate(session, caller, account_ids, today, None)
    outcome.open = await _still_open(session, caller.org_id)
    return outcome


async def daily_pass(org_id: int, *, today: date | None = None, actor: str = ACTOR) -> Outcome:
    """The organisation's daily pass over its open promises, as the system under `actor`, in
    transactions of its own (committed here): on PostgreSQL `LANES` of them at once, each over the
    promises of its set of accounts (see the module's docstring); on SQLite one. If a lane fails,
    the others still commit and the first failure is raised once they have ended."""
    caller = Caller.system(org_id, actor)
    async with transaction() as s:
        today = today or await org_today(s, org_id)
        if s.get_bind().dialect.name != "postgresql":
            return await evaluate(s, caller, today=today)

    async def lane(number: int) -> Outcome:
        async with transaction() as s:
            return await _evaluate(s, caller, None, today, (number, LANES))

    ended = await asyncio.gather(*(lane(k) for k in range(LANES)), return_exceptions=True)
    failed = [e for e in ended if isinstance(e, BaseException)]
    if failed:
        raise failed[0]
    outcome = Outcome()
    for done in ended:
        assert isinstance(done, Outcome)
        outcome.add(done)
    async with transaction(readonly=True) as s:
        outcome.open = await _still_open(s, org_id)
    return outcome


async def _still_open(session: AsyncSession, org_id: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(Promise).where(
        Promise.org_id == org_id, Promise.status == "open")) or 0)


async def _evaluate(session: AsyncSession, caller: Caller, account_ids: Sequence[uuid.UUID] | None,
                    today: date | None, lane: tuple[int, int] | None) -> Outcome:
    """`evaluate` without the open count; `lane` (number, of how many): only the promises of the
    accounts in that set (the daily pass's lanes, PostgreSQL)."""
    caller.require_write()
    org_id, actor = caller.org_id, caller.actor
    org = await get_org(session, org_id)
    today = today or await org_today(session, org_id)
    outcome = Outcome()
    restore = await _tune(session)
    try:
        if account_ids is None:
            outcome.add(await _pass(session, org, today, None, actor, lane))
        else:
            wanted = await _with_promises(session, org_id, {k for k in account_ids if k is not None})
            for start in range(0, len(wanted), CHUNK):
                outcome.add(await _pass(session, org, today, wanted[start:start + CHUNK], actor, None))
    finally:
        await _untune(session, restore)
    return outcome


async def _with_promises(session: AsyncSession, org_id: int, account_ids: set[uuid.UUID]) -> list[uuid.UUID]:
    """The accounts among these that have an open or kept promise, the only ones a pass can
    change: a payments import touches thousands of accounts, most of them without any promise, and
    a pass builds its temporary tables whatever it is given."""
    if not account_ids:
        return []
    live = Promise.status.in_(("open", "kept"))
    if await session.scalar(select(Promise.id).where(Promise.org_id == org_id, live).limit(1)) is None:
        return []
    ordered = sorted(account_ids)
    found: set[uuid.UUID] = set()
    for start in range(0, len(ordered), 500):
        found.update(await session.scalars(select(Promise.account_id).distinct().where(
            Promise.org_id == org_id, live, Promise.account_id.in_(ordered[start:start + 500]))))
    return sorted(found)


# PostgreSQL settings for the length of a pass (transaction-local, put back afterwards): no JIT —
# the planner's row guesses for the grouped temporary tables are large enough to trigger it, and
# compiling the expressions cost more than running them (about a second of each big statement);
# more sort memory, so that ordering the event rows (their JSON built) does not spill to disk.
# And a smaller sample for the temporary tables' ANALYZE (3,000 rows, not 30,000): the plans
# need their sizes and a rough idea of their columns, and at 100,000 promises the default sample
# cost as much as building the tables.
PASS_SETTINGS = {"jit": "off", "work_mem": "64MB", "default_statistics_target": "10"}


async def _tune(session: AsyncSession) -> dict[str, str]:
    if session.get_bind().dialect.name != "postgresql":
        return {}
    before: dict[str, str] = {}
    for name, value in PASS_SETTINGS.items():
        before[name] = str(await session.scalar(text("SELECT current_setting(:n)"), {"n": name}))
        await session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
    return before


async def _untune(session: AsyncSession, before: dict[str, str]) -> None:
    for name, value in before.items():
        await session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})


async def _pass(session: AsyncSession, org: Any, today: date, account_ids: list[uuid.UUID] | None,
                actor: str, lane: tuple[int, int] | None) -> Outcome:
    dialect = session.get_bind().dialect.name
    sql = _sql(dialect)
    grace = grace_days(org)
    now = utcnow()
    statuses = "'open'" if account_ids is None else "'open', 'kept'"
    accounts_clause = "AND p.account_id IN :accounts" if account_ids is not None else ""
    params: dict[str, Any] = {"org": org.id}
    # A lane's set: the accounts whose id's last byte (random in every UUID version) counts to it.
    lane_clause = ""
    if lane is not None:
        lane_clause = "AND get_byte(uuid_send(p.account_id), 15) % :lanes = :lane"
        params.update(lane=lane[0], lanes=lane[1])
    cand = text(sql["cand"].format(statuses=statuses, accounts=accounts_clause, lane=lane_clause))
    if account_ids is not None:
        cand = cand.bindparams(bindparam("accounts", expanding=True, type_=GUID))
        params["accounts"] = account_ids
    pg = dialect == "postgresql"

    async def make(name: str, stmt: Any, values: dict[str, Any] | None = None) -> None:
        await session.execute(stmt, values or {})
        if pg:  # the planner's row counts for what reads it next (no statistics: nested loops)
            await session.execute(text(f"ANALYZE {name}"))

    await _drop_temp(session)
    await make("tmp_promise_cand", cand, params)
    await make("tmp_promise_pay", text(sql["pay"]))
    grace_params = {"grace": grace} if pg else {"grace_mod": f"+{grace} days"}
    # Broken once its date plus grace is behind us: due_date + grace < today.
    cutoff = today - timedelta(days=grace)
    await make("tmp_promise_eval", text(sql["eval"]).bindparams(bindparam("cutoff", type_=Date)),
               {"cutoff": cutoff, **grace_params})

    # The promises whose status moves, with what they were: the events, tasks and accounts read it.
    await make("tmp_promise_moves", text(sql["moves"]))
    counts: dict[str, int] = {str(r[0]): int(r[1]) for r in await session.execute(
        text("SELECT new, COUNT(*) FROM tmp_promise_moves GROUP BY new"))}
    evidence = (await session.execute(text(sql["evidence"]).columns(
        promise_id=GUID, report_id=Integer, paid_on=Date, cents=Integer, baseline_balance=Numeric(14, 2),
        baseline_report_id=Integer))).all()
    for name in ("update_paid", "update_promises"):
        await session.execute(text(sql[name]).bindparams(bindparam("now", type_=UTCDateTime)), {"now": now})
    if evidence:
        await session.execute(update(Promise), [
            {"id": e.promise_id, "updated_at": now, "evidence": {
                "reportId": e.report_id, "reportDate": _iso(e.paid_on), "baselineReportId": e.baseline_report_id,
                "baselineBalance": str(e.baseline_balance), "fall": str(_money(e.cents)),
                "balance": str(e.baseline_balance - _money(e.cents))}} for e in evidence])
    out = Outcome(kept=int(counts.get("kept", 0)), broken=int(counts.get("broken", 0)),
                  reopened=int(counts.get("open", 0)))
    if counts:
        out.tasks = await _consequences(session, org, today, actor)
    await _drop_temp(session)
    return out


def _money(cents: Any) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


MOVES = table("tmp_promise_moves", column("id"), column("old"), column("new"), column("account_id"),
              column("agent_id"), column("amount"), column("paid"))
EVENT_OF = {"kept": "promise.kept", "broken": "promise.broken", "open": "promise.reopened"}


async def _consequences(session: AsyncSession, org: Any, today: date, actor: str) -> int:
    """Events, tasks and account statuses for the promises whose status moved in this pass
    (tmp_promise_moves), each set-based. Returns how many tasks were opened."""
    m = MOVES.c
    # The payloads as plain text objects (sqljson.plain: json_build_object costs more per row than
    # the row's insert); every value is a UUID, a status word, money or the agent's number.
    paid = sqljson.Word(sqljson.money(session, cast(m.paid / 100.0, Numeric(14, 2))))
    kind = case(*((m.new == new, literal_column(f"'{ev}'")) for new, ev in EVENT_OF.items()))
    key = sqljson.text(session, m.id)
    old, new = sqljson.Word(m.old), sqljson.Word(m.new)
    await events.record_select(session, org.id, select(
        kind.label("type"), literal(actor).label("actor"), literal("promise").label("subject_type"),
        key.label("subject_id"), sqljson.plain(session, status=old).label("before"),
        sqljson.plain(session, status=new, paidAmount=paid).label("after"),
        sqljson.plain(session, promiseId=sqljson.Word(key), accountId=sqljson.Word(sqljson.text(session, m.account_id)),
                      agentId=sqljson.Number(m.agent_id), amount=sqljson.Word(sqljson.money(session, m.amount)),
                      paidAmount=paid, **{"from": old, "to": new}).label("data")).select_from(MOVES).order_by(m.id),
        list(EVENT_OF.values()))
    # The accounts' statuses first: their UPDATE locks the accounts the tasks then reference.
    with_open = select(Promise.account_id).where(Promise.org_id == org.id, Promise.status == "open")
    await accounts.follow_promises(session, Caller.system(org.id, actor), select(m.account_id).select_from(MOVES),
                                   with_open)
    due = next_working_day(today, holiday_country(org))
    # The pass acts as the system under its own name (the tasks' created_by and events as before).
    opened = await tasks.open_tasks_from(session, Caller.system(org.id, actor),
                                         select(m.account_id, m.agent_id).select_from(MOVES)
                                         .where(m.new == "broken").order_by(m.id),
                                         kind="call", due_date=due, source="broken_promise",
                                         note="The customer did not keep a promise to pay.")
    return opened


async def on_payments_changed(session: AsyncSession, org_id: int, account_ids: Sequence[uuid.UUID]) -> None:
    """The payments hook (arrears.payments.hooks, wired in arrears.wiring): evaluate these accounts'
    promises in the payment's transaction."""
    await evaluate(session, Caller.system(org_id, ACTOR), account_ids=list(account_ids))


async def on_book_updated(session: AsyncSession, org_id: int) -> None:
    """The book hook (arrears.debtors.hooks, wired in arrears.wiring): a completed upload may be
    the evidence a book account's promise was kept."""
    await evaluate(session, Caller.system(org_id, ACTOR))
