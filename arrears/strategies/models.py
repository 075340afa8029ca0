"""Collection strategies: ordered steps fired on accounts owed, exactly once per account, step and day.

- `Strategy`: an organisation's plan for the accounts matching its segment. An account follows the
  first strategy by `priority` (lowest first, the default strategy last) whose segment it matches:
  balance range, the oldest overdue bucket (`current`, `d30` … `d180`), the account's kind (book or
  loan) and conditions on customer fields. `challenger_percent` (0–100) sends that share of the
  segment, by a stable hash of (strategy id, account id), to variant `B` (the challenger); the rest
  follow `A` (the champion). `owner_id` is the manager or admin whose rights a hand-over step uses
  (actor `strategy:<id>`). `run_time` is the local time of day of the daily run (the default
  strategy's is the organisation's).
- `StrategyStep`: one step; `variant` None is shared by both variants, `A` or `B` one variant's
  only. Steps fire in `position` order: the next step after the one an account last had fires when
  its entry rule holds (days past due ≥ `min_days_past_due`, balance ≥ `min_balance`) and the
  previous step's `wait_days` have passed; a step with `repeat_days` fires again every that many
  days while the next step is not yet due.
- `StrategyAccountState`: where one account is in its strategy (one row per account).
- `StrategyRun`: one run (by schedule, after an upload, or by hand; dry run or not) and its counts.
- `StrategyStepExecution`: one step fired on one account on one day; UNIQUE (account, step, day)
  is the exactly-once key (inserted with ON CONFLICT DO NOTHING; messages carry the idempotency key
  `strategy:<step>:<account>:<day>`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db import GUID, NEVER_REUSE_IDS, Base, UTCDateTime, utcnow

MONEY = Numeric(14, 2)
ACTIONS = ("sms", "email", "letter", "call_task", "visit_task", "hand_over")
BUCKETS = ("current", "d30", "d60", "d90", "d120", "d150", "d180")
ACCOUNT_KINDS = ("book", "loan")
VARIANTS = ("A", "B")
# How a letter step sends its letters: e-mailed where the outbox takes them, the rest printed; or
# all printed (a notice the law wants posted, a debtor book with no trusted addresses).
LETTER_DELIVERIES = ("email", "print")
RUN_TRIGGERS = ("schedule", "upload", "manual")
RUN_STATUSES = ("queued", "running", "completed", "failed")
# Statuses during which an account is out of its strategy (it keeps its place for its return).
LEAVING_STATUSES = ("promised", "disputed", "paid_up", "handed_over", "written_off")


def message_key_parts(step_id: uuid.UUID, day: date) -> tuple[str, str]:
    """A step's message's idempotency key (its SMS, its e-mail, a letter's e-mail), one per step,
    account and day, is `prefix + account id + suffix`: the parts a step's messages share
    (strategies.results writes the same key in SQL to find them)."""
    return f"strategy:{step_id}:", f":{day.isoformat()}"


def message_key(step_id: uuid.UUID, account_id: uuid.UUID, day: date) -> str:
    prefix, suffix = message_key_parts(step_id, day)
    return f"{prefix}{account_id}{suffix}"


class Strategy(Base):
    __tablename__ = "strategies"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_strategies_org_id_name"),
        Index("ix_strategies_org_id_priority", "org_id", "priority"),
        CheckConstraint("challenger_percent >= 0 AND challenger_percent <= 100", name="challenger_percent_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lowest first; the default last anyway
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    run_time: Mapped[time] = mapped_column(Time, default=time(8, 0))  # local time of the daily run
    # The segment; None is "any".
    min_balance: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    max_balance: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    oldest_buckets: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # any of BUCKETS
    account_kind: Mapped[str | None] = mapped_column(String(8), nullable=True)  # book | loan
    # [{"field": "city", "op": "eq"|"ne"|"in"|"prefix"|"empty"|"present", "value": …}], all must hold.
    customer_conditions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    challenger_percent: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StrategyStep(Base):
    __tablename__ = "strategy_steps"
    __table_args__ = (
        Index("ix_strategy_steps_strategy_id_position", "strategy_id", "position"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    strategy_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("strategies.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, … in firing order
    variant: Mapped[str | None] = mapped_column(String(1), nullable=True)  # None: both; A or B: one
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    min_days_past_due: Mapped[int] = mapped_column(Integer, default=0)
    min_balance: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    action: Mapped[str] = mapped_column(String(16))  # ACTIONS
    message_template_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("message_templates.id", ondelete="SET NULL"), nullable=True)  # sms, email
    letter_template_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)  # letter
    letter_delivery: Mapped[str] = mapped_column(String(8), default="email", server_default="email")  # letter
    hand_over_to: Mapped[str | None] = mapped_column(String(255), nullable=True)  # agency or attorney
    wait_days: Mapped[int] = mapped_column(Integer, default=0)  # before the next step may fire
    repeat_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # fire again every N days
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StrategyAccountState(Base):
    """Where an account is in its strategy. `position`/`step_id` is the step it last had (None:
    none yet) on `last_fired_on`; the next may fire from `next_due_on`. While the account is out
    (promised, disputed, …) `left_at_position` and `left_status` say where it left and why; it
    comes back there. `paused` stops the account alone."""

    __tablename__ = "strategy_account_states"
    __table_args__ = (Index("ix_strategy_account_states_strategy_id", "strategy_id"),
                      Index("ix_strategy_account_states_org_id_paused", "org_id", "paused"))

    # No foreign keys, on purpose (as the executions: a run writes a row per account, and each key
    # checked and locked its parent row by row). The run writes the states of the accounts whose
    # executions it has just claimed in the same transaction, having checked and locked the
    # accounts, step and run once for the chunk (runner._hold); pausing an account locks it (FOR
    # UPDATE) first. Triggers made by migration 0026 keep what ON DELETE did: an organisation's or
    # an account's deletion takes its states, a strategy's unlinks them.
    account_id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    strategy_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    variant: Mapped[str | None] = mapped_column(String(1), nullable=True)
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    step_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    last_fired_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    next_due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    left_at_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    left_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    left_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StrategyRun(Base):
    """One run over an organisation's strategies (`strategy_id` None: all of them) for `run_on`.
    `counts` is the per-step summary (the preview's shape); the totals are columns for listing."""

    __tablename__ = "strategy_runs"
    __table_args__ = (Index("ix_strategy_runs_org_id_started_at", "org_id", "started_at"),
                      Index("ix_strategy_runs_strategy_id_started_at", "strategy_id", "started_at"))

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    strategy_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("strategies.id", ondelete="CASCADE"),
                                                          nullable=True)
    run_on: Mapped[date] = mapped_column(Date)  # the organisation's local day
    trigger: Mapped[str] = mapped_column(String(16))  # RUN_TRIGGERS
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_by: Mapped[str] = mapped_column(String(128))  # user:1, api_key:ins_…, system, cli
    accounts: Mapped[int] = mapped_column(Integer, default=0)  # step executions (or would-be)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    letters: Mapped[int] = mapped_column(Integer, default=0)
    tasks: Mapped[int] = mapped_column(Integer, default=0)
    handed_over: Mapped[int] = mapped_column(Integer, default=0)
    excluded: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StrategyStepExecution(Base):
    """One step fired on one account on one (local) day: the exactly-once record, and the base of
    the results per strategy, step and variant. `balance` and `days_past_due` are the account's
    when it fired; `outcome` is queued (a message is in the outbox), letter, task, handed_over or
    skipped (the message was refused: opted out, no contact, cap); `detail` holds the message,
    letter or task ids and the hand-over's recipient."""

    __tablename__ = "strategy_step_executions"
    __table_args__ = (
        UniqueConstraint("account_id", "step_id", "run_on", name="uq_strategy_step_executions_once"),
        Index("ix_strategy_step_executions_strategy_id_run_on", "strategy_id", "run_on"),
        Index("ix_strategy_step_executions_org_id_run_on", "org_id", "run_on"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign keys, on purpose (as the states): a run writes a row per account, and five key
    # checks per row — a trigger call each, looking the parent up and locking it — cost more than
    # the row. The runner (the only writer) checks once per chunk what they checked row by row
    # (runner._hold): the step and the run, the same for every row of the chunk (deleting the
    # organisation or strategy deletes the step, so it waits too), and the chunk's accounts in one
    # statement, each locked against deletion until the chunk commits (an account deleted since the
    # selection is left out). Triggers made by migration 0026 keep what ON DELETE did: an
    # organisation's, account's, strategy's or step's deletion takes its executions, a run's
    # unlinks them.
    org_id: Mapped[int] = mapped_column(Integer)
    strategy_id: Mapped[uuid.UUID] = mapped_column(GUID)
    step_id: Mapped[uuid.UUID] = mapped_column(GUID)
    account_id: Mapped[uuid.UUID] = mapped_column(GUID)
    run_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    run_on: Mapped[date] = mapped_column(Date)
    variant: Mapped[str] = mapped_column(String(1))
    position: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    balance: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    days_past_due: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
