"""The rules of strategies: who may read and write them, what a valid one is, pausing.

- Read: any member of the organisation (users), an `ins_` key with `strategies:read` (the face
  checks scopes). Write (create, change, delete, pause, start runs): admins and managers with write
  access, and `ins_` keys with `strategies:write`.
- A strategy's owner is a manager or admin of the organisation: a hand-over or letter step acts as
  `strategy:<id>` with the owner's rights. It defaults to the user who creates it.
- One default strategy per organisation: making one the default makes the others not.
- Steps are given as a list in firing order (positions 1, 2, …); a step given with its `id` is
  changed in place (its executions and results stay), one left out is deleted.
Another organisation's ids are 404.
"""

from __future__ import annotations

import uuid
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.accounts.service import get_account
from arrears.db import utcnow
from arrears.errors import Forbidden, NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.models import Membership, User
from arrears.messaging.models import MessageTemplate
from arrears.strategies import letter_step
from arrears.strategies.models import (
    ACCOUNT_KINDS,
    ACTIONS,
    BUCKETS,
    LETTER_DELIVERIES,
    VARIANTS,
    Strategy,
    StrategyAccountState,
    StrategyRun,
    StrategyStep,
)
from arrears.strategies.selection import CONDITION_OPS, CUSTOMER_FIELDS, ordered

MAX_STEPS = 30
MAX_MONEY = Decimal("999999999999.99")
OWNER_ROLES = ("admin", "manager")


def require_writer(caller: Caller) -> None:
    """Managers and admins with write access (users); keys are checked by scope in the face."""
    caller.require_write()
    if caller.kind == "user" and not caller.is_manager_or_admin:
        raise Forbidden("Only admins and managers may change strategies or start runs.")


def parse_id(value: Any, what: str = "Strategy") -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value).strip())
    except (ValueError, AttributeError):
        raise NotFound(f"{what} {str(value)[:64]} not found.") from None


async def get_strategy(session: AsyncSession, caller: Caller, strategy_id: Any, *, for_update: bool = False
                       ) -> Strategy:
    q = select(Strategy).where(Strategy.id == parse_id(strategy_id), Strategy.org_id == caller.org_id)
    if for_update:
        q = q.with_for_update().execution_options(populate_existing=True)
    st = await session.scalar(q)
    if st is None:
        raise NotFound(f"Strategy {str(strategy_id)[:64]} not found.")
    return st


async def steps_of(session: AsyncSession, strategy_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[StrategyStep]]:
    out: dict[uuid.UUID, list[StrategyStep]] = {i: [] for i in strategy_ids}
    if strategy_ids:
        for step in await session.scalars(select(StrategyStep).where(StrategyStep.strategy_id.in_(strategy_ids))
                                          .order_by(StrategyStep.position)):
            out[step.strategy_id].append(step)
    return out


async def list_strategies(session: AsyncSession, org_id: int) -> list[Strategy]:
    """The organisation's strategies in firing order (priority, the default last)."""
    return ordered(list(await session.scalars(select(Strategy).where(Strategy.org_id == org_id))))


# ------------------------------------------------------------------ validation


def _money(errors: dict[str, list[str]], name: str, raw: Any) -> Decimal | None:
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        errors[name] = ["Must be a number."]
        return None
    if not value.is_finite() or abs(value) > MAX_MONEY or value != value.quantize(Decimal("0.01")):
        errors[name] = [f"Must be at most {MAX_MONEY} with at most two decimals."]
        return None
    return value


def _int(errors: dict[str, list[str]], name: str, raw: Any, *, low: int, high: int, default: int | None
         ) -> int | None:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        errors[name] = [f"Must be a whole number from {low} to {high}."]
        return default
    return raw


def _run_time(errors: dict[str, list[str]], raw: Any) -> time | None:
    if raw is None:
        return None
    try:
        hh, mm = str(raw).strip().split(":")[:2]
        return time(int(hh), int(mm))
    except (ValueError, TypeError):
        errors["runTime"] = ["Must be a time of day, HH:MM."]
        return None


def _conditions(errors: dict[str, list[str]], raw: Any) -> list[dict[str, Any]] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        errors["segment.customerConditions"] = ["Must be a list of {field, op, value}."]
        return None
    out = []
    for i, c in enumerate(raw):
        where = f"segment.customerConditions[{i}]"
        if not isinstance(c, dict) or c.get("field") not in CUSTOMER_FIELDS or c.get("op") not in CONDITION_OPS:
            errors[where] = [f"field one of {', '.join(CUSTOMER_FIELDS)}; op one of {', '.join(CONDITION_OPS)}."]
            continue
        value = c.get("value")
        if c["op"] in ("empty", "present"):
            value = None
        elif c["op"] == "in":
            if not isinstance(value, list) or not value or len(value) > 100:
                errors[where] = ["op in takes a list of 1 to 100 values."]
                continue
        elif value is None or isinstance(value, dict | list):
            errors[where] = ["Needs a value."]
            continue
        if c["field"] == "assignedCollectionOfficerId":
            ids = value if isinstance(value, list) else [value]
            if c["op"] == "prefix" or (value is not None and not all(
                    isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**31 for v in ids)):
                errors[where] = ["An officer is a user id, compared with eq, ne, in, empty or present."]
                continue
        elif value is not None and any(len(str(v)) > 255 for v in (value if isinstance(value, list) else [value])):
            errors[where] = ["A value is at most 255 characters."]
            continue
        out.append({"field": c["field"], "op": c["op"], "value": value})
    return out


async def _template_ok(session: AsyncSession, org_id: int, raw: Any, channel: str) -> uuid.UUID | None:
    try:
        tid = raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
    except (ValueError, AttributeError):
        return None
    t = await session.scalar(select(MessageTemplate).where(MessageTemplate.id == tid, MessageTemplate.org_id == org_id))
    return tid if t is not None and t.channel == channel else None


async def _steps(session: AsyncSession, org_id: int, errors: dict[str, list[str]], raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_STEPS:
        errors["steps"] = [f"A strategy has 1 to {MAX_STEPS} steps."]
        return []
    out: list[dict[str, Any]] = []
    for i, s in enumerate(raw):
        at = f"steps[{i}]"
        if not isinstance(s, dict):
            errors[at] = ["Must be an object."]
            continue
        action = s.get("action")
        if action not in ACTIONS:
            errors[f"{at}.action"] = [f"Must be one of {', '.join(ACTIONS)}."]
        variant = s.get("variant")
        if variant not in (None, *VARIANTS):
            errors[f"{at}.variant"] = ["Must be A, B or null (both)."]
        step: dict[str, Any] = {
            "id": s.get("id"), "position": i + 1, "variant": variant,
            "name": (str(s["name"]).strip()[:100] or None) if s.get("name") is not None else None,
            "action": action,
            "min_days_past_due": _int(errors, f"{at}.minDaysPastDue", s.get("minDaysPastDue"), low=0, high=3650,
                                      default=0),
            "min_balance": _money(errors, f"{at}.minBalance", s.get("minBalance")),
            "wait_days": _int(errors, f"{at}.waitDays", s.get("waitDays"), low=0, high=365, default=0),
            "repeat_days": _int(errors, f"{at}.repeatDays", s.get("repeatDays"), low=1, high=365, default=None),
            "message_template_id": None, "letter_template_id": None, "hand_over_to": None,
            "letter_delivery": "email",
        }
        if action in ("sms", "email"):
            tid = await _template_ok(session, org_id, s.get("messageTemplateId"), action)
            if tid is None:
                errors[f"{at}.messageTemplateId"] = [f"Must be one of the organisation's {action} templates."]
            step["message_template_id"] = tid
        elif action == "letter":
            try:
                step["letter_template_id"] = uuid.UUID(str(s.get("letterTemplateId")))
            except ValueError:
                step["letter_template_id"] = None
            if step["letter_template_id"] is None or not await letter_step.template_ok(
                    session, org_id, step["letter_template_id"]):
                errors[f"{at}.letterTemplateId"] = ["Must be a letter template's id (a built-in or the "
                                                    "organisation's own)."]
            delivery = s.get("letterDelivery")
            if delivery not in (None, *LETTER_DELIVERIES):
                errors[f"{at}.letterDelivery"] = ["Must be email (e-mail where possible, print the rest) or "
                                                  "print (print every letter)."]
            step["letter_delivery"] = delivery or "email"
        elif action == "hand_over":
            to = str(s.get("handOverTo") or "").strip()
            if not to or len(to) > 255:
                errors[f"{at}.handOverTo"] = ["Say to whom (the agency or attorney), at most 255 characters."]
            step["hand_over_to"] = to
        out.append(step)
    return out


async def _owner(session: AsyncSession, caller: Caller, errors: dict[str, list[str]], raw: Any,
                 current: int | None) -> int | None:
    if raw is None:
        if current is not None:
            return current
        if caller.kind == "user" and caller.is_manager_or_admin:
            return caller.user_id
        errors["ownerId"] = ["Name the owner: a manager or admin of the organisation."]
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < 2**31 or \
            not await owner_allowed(session, caller.org_id, raw):
        errors["ownerId"] = ["Must be an active manager or admin of the organisation."]
        return None
    return raw


async def owner_allowed(session: AsyncSession, org_id: int, user_id: int | None) -> bool:
    """The owner may lend a strategy its rights: an active manager or admin with write access here."""
    if user_id is None:
        return False
    row = await session.execute(select(User.role, User.is_active, Membership.access)
                                .join(Membership, Membership.user_id == User.id)
                                .where(User.id == user_id, Membership.org_id == org_id))
    r = row.first()
    return r is not None and r.is_active and r.role in OWNER_ROLES and r.access == "write"


async def _clean(session: AsyncSession, caller: Caller, data: dict[str, Any], current: Strategy | None
                 ) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if current is None or "name" in data:
        name = str(data.get("name") or "").strip()
        if not name or len(name) > 100:
            errors["name"] = ["Required, at most 100 characters."]
        else:
            clash = await session.scalar(select(Strategy.id).where(
                Strategy.org_id == caller.org_id, func.lower(Strategy.name) == name.lower(),
                *([Strategy.id != current.id] if current is not None else [])))
            if clash is not None:
                errors["name"] = ["Another strategy has this name."]
        values["name"] = name
    if "description" in data:
        values["description"] = str(data["description"])[:2000] if data["description"] is not None else None
    for key, col in (("isDefault", "is_default"), ("paused", "paused")):
        if key in data:
            if not isinstance(data[key], bool):
                errors[key] = ["Must be true or false."]
            values[col] = bool(data[key])
    if "priority" in data:
        values["priority"] = _int(errors, "priority", data["priority"], low=0, high=100000, default=100)
    if "runTime" in data:
        values["run_time"] = _run_time(errors, data["runTime"]) or time(8, 0)
    if "challengerPercent" in data:
        values["challenger_percent"] = _int(errors, "challengerPercent", data["challengerPercent"], low=0,
                                            high=100, default=0)
    if current is None or "ownerId" in data:
        values["owner_id"] = await _owner(session, caller, errors, data.get("ownerId"),
                                          current.owner_id if current is not None else None)
    if "segment" in data:
        seg = data["segment"] or {}
        if not isinstance(seg, dict):
            errors["segment"] = ["Must be an object."]
            seg = {}
        values["min_balance"] = _money(errors, "segment.minBalance", seg.get("minBalance"))
        values["max_balance"] = _money(errors, "segment.maxBalance", seg.get("maxBalance"))
        buckets = seg.get("oldestBuckets")
        if buckets is not None and (not isinstance(buckets, list) or not set(buckets) <= set(BUCKETS)):
            errors["segment.oldestBuckets"] = [f"A list of {', '.join(BUCKETS)}."]
        values["oldest_buckets"] = sorted(set(buckets), key=BUCKETS.index) if isinstance(buckets, list) and \
            set(buckets) <= set(BUCKETS) and buckets else None
        kind = seg.get("accountKind")
        if kind not in (None, *ACCOUNT_KINDS):
            errors["segment.accountKind"] = ["Must be book, loan or null (both)."]
        values["account_kind"] = kind if kind in ACCOUNT_KINDS else None
        values["customer_conditions"] = _conditions(errors, seg.get("customerConditions"))
    steps = await _steps(session, caller.org_id, errors, data.get("steps")) if current is None or "steps" in data \
        else None
    if errors:
        raise ValidationFailed("Invalid strategy: " + ", ".join(sorted(errors)), field_errors=errors)
    return values, steps


async def _store_steps(session: AsyncSession, st: Strategy, steps: list[dict[str, Any]]) -> None:
    have = {s.id: s for s in await session.scalars(select(StrategyStep).where(StrategyStep.strategy_id == st.id))}
    keep: set[uuid.UUID] = set()
    for data in steps:
        raw_id = data.pop("id", None)
        try:
            sid = uuid.UUID(str(raw_id)) if raw_id is not None else None
        except ValueError:
            sid = None
        if sid is not None and sid in have:
            for k, v in data.items():
                setattr(have[sid], k, v)
            keep.add(sid)
        else:
            session.add(StrategyStep(org_id=st.org_id, strategy_id=st.id, **data))
    for sid, step in have.items():
        if sid not in keep:
            await session.delete(step)
    await session.flush()


async def _one_default(session: AsyncSession, st: Strategy) -> None:
    if st.is_default:
        await session.execute(update(Strategy).where(Strategy.org_id == st.org_id, Strategy.id != st.id,
                                                     Strategy.is_default.is_(True)).values(is_default=False))


async def create_strategy(session: AsyncSession, caller: Caller, data: dict[str, Any]) -> Strategy:
    require_writer(caller)
    data = {"segment": {}, **data}
    values, steps = await _clean(session, caller, data, None)
    st = Strategy(id=uuid.uuid4(), org_id=caller.org_id, created_by=caller.actor, **values)
    session.add(st)
    await session.flush()
    await _one_default(session, st)
    await _store_steps(session, st, steps or [])
    return st


async def update_strategy(session: AsyncSession, caller: Caller, strategy_id: Any, data: dict[str, Any]) -> Strategy:
    require_writer(caller)
    st = await get_strategy(session, caller, strategy_id, for_update=True)
    values, steps = await _clean(session, caller, data, st)
    for k, v in values.items():
        setattr(st, k, v)
    st.updated_at = utcnow()
    await session.flush()
    await _one_default(session, st)
    if steps is not None:
        await _store_steps(session, st, steps)
    return st


async def delete_strategy(session: AsyncSession, caller: Caller, strategy_id: Any) -> None:
    require_writer(caller)
    st = await get_strategy(session, caller, strategy_id, for_update=True)
    await session.delete(st)
    await session.flush()


async def set_paused(session: AsyncSession, caller: Caller, strategy_id: Any, paused: bool) -> Strategy:
    require_writer(caller)
    st = await get_strategy(session, caller, strategy_id, for_update=True)
    st.paused, st.updated_at = paused, utcnow()
    await session.flush()
    return st


async def account_state(session: AsyncSession, caller: Caller, account_id: Any) -> StrategyAccountState | None:
    account = await get_account(session, caller, account_id)
    return await session.get(StrategyAccountState, account.id)


async def set_account_paused(session: AsyncSession, caller: Caller, account_id: Any, paused: bool
                             ) -> StrategyAccountState:
    """Pause (or resume) one account in whatever strategy it follows."""
    require_writer(caller)
    account = await get_account(session, caller, account_id, for_update=True)
    state = await session.get(StrategyAccountState, account.id)
    if state is None:
        state = StrategyAccountState(account_id=account.id, org_id=account.org_id)
        session.add(state)
    state.paused = paused
    state.paused_by = caller.actor if paused else None
    await session.flush()
    return state


async def list_runs(session: AsyncSession, caller: Caller, strategy_id: Any | None, *, page: int, limit: int
                    ) -> tuple[list[StrategyRun], int]:
    conds = [StrategyRun.org_id == caller.org_id]
    if strategy_id is not None:
        st = await get_strategy(session, caller, strategy_id)
        conds.append((StrategyRun.strategy_id == st.id) | StrategyRun.strategy_id.is_(None))
    total = int(await session.scalar(select(func.count()).select_from(StrategyRun).where(*conds)) or 0)
    rows = await session.scalars(select(StrategyRun).where(*conds).order_by(StrategyRun.started_at.desc(),
                                                                            StrategyRun.id)
                                 .offset((page - 1) * limit).limit(limit))
    return list(rows), total


async def get_run(session: AsyncSession, caller: Caller, run_id: Any) -> StrategyRun:
    run = await session.scalar(select(StrategyRun).where(StrategyRun.id == parse_id(run_id, "Run"),
                                                         StrategyRun.org_id == caller.org_id))
    if run is None:
        raise NotFound(f"Run {str(run_id)[:64]} not found.")
    return run
