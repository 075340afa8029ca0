"""Promise evaluation: kept and broken through payments, partial payments, instalment plans in
date order, grace days, a reversal re-opening a kept promise, the account's `promised` status,
events and the broken promise's call task. Both databases."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select

from arrears.accounts.models import Account, AccountStatusChange
from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.promises.calendar import next_working_day
from arrears.promises.models import covered
from arrears.tasks.models import Task
from tests.faces.repaysync.conftest import RS
from tests.promises.helpers import days, loan_account, pay, promise, reverse, run, state, today


async def _status(account_id: str) -> str:
    async with transaction() as s:
        account = await s.get(Account, uuid.UUID(account_id))
        assert account is not None
        return account.status


async def _events(kind: str) -> list[DomainEvent]:
    async with transaction() as s:
        return list(await s.scalars(select(DomainEvent).where(DomainEvent.type == kind).order_by(DomainEvent.id)))


async def test_paid_in_full_by_the_date_is_kept_and_the_account_follows(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    p = await promise(t, acc, [("500.00", day + days(5))], role="calling_agent")
    assert p["status"] == "open" and p["amount"] == 500 and p["madeOn"] == day.isoformat()
    assert await _status(acc) == "promised"
    assert [e.data["to"] for e in await _events("account.status_changed")] == ["promised"]

    await pay(t, acc, "200.00", day + days(1))  # partial: still open, paid so far shown
    row, plan = await state(p["id"])
    assert (row.status, row.paid_amount, covered(row.paid_amount, plan)[0]) == ("open", Decimal("200.00"), Decimal("200.00"))
    await pay(t, acc, "300.00", day + days(5))
    row, plan = await state(p["id"])
    assert (row.status, row.paid_amount, covered(row.paid_amount, plan)[0]) == ("kept", Decimal("500.00"), Decimal("500.00"))
    assert row.closed_at is not None and row.closed_by == "system"
    assert await _status(acc) == "active"
    kept = await _events("promise.kept")
    assert [e.subject_id for e in kept] == [p["id"]] and kept[0].data["paidAmount"] == "500.00"
    async with transaction() as s:
        history = (await s.execute(select(AccountStatusChange.from_status, AccountStatusChange.to_status)
                                   .where(AccountStatusChange.account_id == uuid.UUID(acc))
                                   .order_by(AccountStatusChange.id))).all()
    assert history == [("active", "promised"), ("promised", "active")]


async def test_a_partial_payment_breaks_after_the_grace_days_and_opens_a_call_task(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    agent = await t.member("calling_agent")
    day = await today(t)
    due = day + days(3)
    p = await promise(t, acc, [("400.00", due)], role="calling_agent")
    await pay(t, acc, "150.00", day)
    # Grace (2 days by default): still open on the date and the two days after it.
    for on in (due, due + days(1), due + days(2)):
        out = await run(t, on)
        assert (out.kept, out.broken, out.open) == (0, 0, 1)
    out = await run(t, due + days(3))
    assert (out.kept, out.broken, out.open, out.tasks) == (0, 1, 0, 1)
    row, plan = await state(p["id"])
    assert (row.status, row.paid_amount, covered(row.paid_amount, plan)[0]) == ("broken", Decimal("150.00"), Decimal("150.00"))
    assert await _status(acc) == "active"
    broken = await _events("promise.broken")
    assert [e.subject_id for e in broken] == [p["id"]] and broken[0].data["agentId"] == agent.id
    async with transaction() as s:
        task = (await s.scalars(select(Task).where(Task.account_id == uuid.UUID(acc)))).one()
    assert (task.kind, task.source, task.status, task.assignee_id) == ("call", "broken_promise", "open", agent.id)
    assert task.due_date == next_working_day(due + days(3)) and task.due_date.weekday() < 5
    assert [e.subject_id for e in await _events("task.created")] == [str(task.id)]
    # A broken promise stays broken; the next pass does nothing more.
    await pay(t, acc, "250.00", due + days(4))
    out = await run(t, due + days(5))
    assert (out.kept, out.broken, out.tasks) == (0, 0, 0)
    assert (await state(p["id"]))[0].status == "broken"


async def test_the_organisations_grace_days_setting(rs: RS):
    t = await rs.tenant()
    async with transaction() as s:
        from arrears.identity.service import get_org, set_org_settings

        await set_org_settings(s, Caller.system(t.org.id), await get_org(s, t.org.id), {"promise_grace_days": "0"})
    _, acc = await loan_account(t)
    day = await today(t)
    p = await promise(t, acc, [("100.00", day + days(1))])
    assert (await run(t, day + days(1))).broken == 0
    assert (await run(t, day + days(2))).broken == 1
    assert (await state(p["id"]))[0].status == "broken"


async def test_instalments_are_filled_in_date_order(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    d1, d2, d3 = day + days(10), day + days(40), day + days(70)
    # Given out of order: kept in date order.
    p = await promise(t, acc, [("100.00", d2), ("100.00", d1), ("50.50", d3)])
    assert p["amount"] == Decimal("250.50") and p["dueDate"] == d3.isoformat()
    assert [(i["number"], i["dueDate"]) for i in p["instalments"]] == [(1, d1.isoformat()), (2, d2.isoformat()),
                                                                       (3, d3.isoformat())]
    await pay(t, acc, "150.00", d1)  # the first and half the second
    row, plan = await state(p["id"])
    assert covered(row.paid_amount, plan) == [Decimal("100.00"), Decimal("50.00"), Decimal("0.00")]
    assert (await run(t, d1 + days(5))).broken == 0  # the first instalment was covered in time
    await pay(t, acc, "50.00", d2 + days(2))  # the second, on its last day of grace
    assert (await run(t, d2 + days(3))).broken == 0
    row, plan = await state(p["id"])
    assert row.status == "open" and covered(row.paid_amount, plan) == [Decimal("100.00"), Decimal("100.00"), Decimal("0")]
    await pay(t, acc, "50.50", d3 - days(1))
    row, plan = await state(p["id"])
    assert row.status == "kept" and row.paid_amount == Decimal("250.50") and covered(row.paid_amount, plan)[2] == Decimal("50.50")


async def test_a_late_instalment_breaks_the_plan(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    d1, d2 = day + days(2), day + days(30)
    p = await promise(t, acc, [("100.00", d1), ("100.00", d2)])
    await pay(t, acc, "100.00", d1 + days(3))  # one day after the first instalment's grace
    out = await run(t, d1 + days(3))
    assert out.broken == 1 and (await state(p["id"]))[0].status == "broken"


async def test_a_reversal_reopens_a_kept_promise_or_breaks_it_when_too_late(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    p = await promise(t, acc, [("300.00", day + days(7))])
    paid = await pay(t, acc, "300.00", day)
    assert (await state(p["id"]))[0].status == "kept" and await _status(acc) == "active"
    await reverse(t, paid, acc)  # today, before the date: open again, the account promised again
    row, plan = await state(p["id"])
    assert (row.status, row.paid_amount, covered(row.paid_amount, plan)[0], row.closed_at) == ("open", 0, 0, None)
    assert await _status(acc) == "promised"
    assert [e.subject_id for e in await _events("promise.reopened")] == [p["id"]]

    # Kept again, then reversed once the date and grace are past: broken, with its task.
    paid = await pay(t, acc, "300.00", day + days(1))
    assert (await state(p["id"]))[0].status == "kept"
    async with transaction() as s:
        from sqlalchemy import update

        from arrears.payments import hooks
        from arrears.payments.models import Payment
        from arrears.promises.evaluate import evaluate

        await s.execute(update(Payment).where(Payment.id == paid).values(status="reversed"))
        await hooks.notify(s, t.org.id, [uuid.UUID(acc)])  # today: open
        out = await evaluate(s, Caller.system(t.org.id), account_ids=[uuid.UUID(acc)], today=day + days(10))
    assert (await state(p["id"]))[0].status == "broken" and out.broken == 1 and out.tasks == 1


async def test_payments_before_the_promise_do_not_count_and_a_new_promise_supersedes(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    await pay(t, acc, "999.00", day - days(1))  # before the promise was made
    first = await promise(t, acc, [("100.00", day + days(3))])
    assert first["status"] == "open" and first["paidAmount"] == 0
    second = await promise(t, acc, [("200.00", day + days(5))])
    assert (await state(first["id"]))[0].status == "cancelled"
    assert (await state(second["id"]))[0].status == "open" and await _status(acc) == "promised"


async def test_webhooks_get_the_bulk_passs_events_only_when_subscribed(rs: RS):
    """The pass writes its events with INSERT … SELECT; a partner's webhook for promise.broken and
    task.created still gets one delivery per event, with the payload the event carries."""
    from tests.foundation.test_wiring import deliveries, subscribe

    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    p = await promise(t, acc, [("40.00", day)])
    await subscribe(t.org.id, "promise.broken", "task.created")
    assert await deliveries(t.org.id) == []
    await run(t, day + days(3))
    assert await deliveries(t.org.id) == ["promise.broken", "task.created"]
    async with transaction() as s:
        from arrears.partners.models import WebhookDelivery

        body = (await s.scalars(select(WebhookDelivery.payload).where(WebhookDelivery.event_type == "promise.broken"))).one()
    assert body["type"] == "promise.broken" and body["data"]["promiseId"] == p["id"]
    assert (body["data"]["amount"], body["data"]["paidAmount"], body["data"]["to"]) == ("40.00", "0.00", "broken")
    # Another organisation without subscriptions: no delivery, events written all the same.
    other = await rs.tenant("Quiet Lending")
    _, acc2 = await loan_account(other)
    await promise(other, acc2, [("40.00", day)])
    await run(other, day + days(3))
    assert await deliveries(other.org.id) == []
    async with transaction() as s:
        quiet = list(await s.scalars(select(DomainEvent.type).where(DomainEvent.org_id == other.org.id,
                                                                    DomainEvent.type.like("promise.%"))))
    assert sorted(quiet) == ["promise.broken", "promise.created"]


async def test_the_pass_puts_the_sessions_settings_back(rs: RS):
    """On PostgreSQL the pass runs without JIT and with more sort memory (evaluate.PASS_SETTINGS),
    transaction-local; the rest of the caller's transaction gets its own settings back."""
    from sqlalchemy import text

    from arrears.promises.evaluate import PASS_SETTINGS, evaluate

    t = await rs.tenant()
    _, acc = await loan_account(t)
    day = await today(t)
    await promise(t, acc, [("100.00", day + days(1))], role="calling_agent")
    async with transaction() as s:
        pg = s.get_bind().dialect.name == "postgresql"
        if pg:
            await s.execute(text("SELECT set_config('work_mem', '5MB', true)"))
            before = {n: await s.scalar(text("SELECT current_setting(:n)"), {"n": n}) for n in PASS_SETTINGS}
        out = await evaluate(s, Caller.system(t.org.id), today=day + days(10))  # nothing paid: broken
        assert out.broken == 1
        if pg:
            after = {n: await s.scalar(text("SELECT current_setting(:n)"), {"n": n}) for n in PASS_SETTINGS}
            assert after == before and after["work_mem"] == "5MB"
