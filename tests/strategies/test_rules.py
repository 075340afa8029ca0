"""What a step does and to whom: the preview equals the run; opt-outs, missing numbers and the cap
through the outbox; leaving for a promise or a dispute and coming back where the account left;
paused accounts and strategies; repeats; tasks assigned; hand-overs; champion/challenger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from arrears.accounts.models import Account
from arrears.customers.models import Customer
from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.identity.caller import Caller
from arrears.identity.models import User
from arrears.identity.service import set_org_settings
from arrears.messaging import bulk_outbox, optouts
from arrears.messaging.models import Message
from arrears.strategies import service
from arrears.strategies.handover import handover_csv
from arrears.strategies.models import Strategy, StrategyAccountState
from arrears.strategies.selection import variant_of
from arrears.tasks.models import Task
from tests.promises.helpers import promise, today
from tests.promises.helpers import run as evaluate_promises
from tests.strategies.helpers import (
    REPORT_DAY,
    book,
    caller,
    count,
    executions,
    messages,
    preview,
    row,
    run,
    strategy,
    template,
)


async def _settings(t, **values):
    async with transaction() as s:
        org = await s.get(type(t.org), t.org.id)
        await set_org_settings(s, Caller.system(org.id), org, values)


async def _customer_of(account_id):
    async with transaction() as s:
        return await s.scalar(select(Account.customer_id).where(Account.id == account_id))


async def test_the_run_does_what_the_preview_said_and_the_outbox_rules_apply(rs, tmp_path):
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="1", contact_cap_window="24h")
    ids = await book(t, tmp_path, [row(f"A{i}", f"Name {i}", f"082 123 456{i}", d30=100 * i) for i in range(1, 8)]
                     + [row("A8", "No Phone", None, d30=80)])
    sms = await template(t)
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30}])
    a2, a3 = await _customer_of(ids["A2"]), await _customer_of(ids["A3"])
    async with transaction() as s:  # A2 opted out; A3 already had its one SMS today (the cap)
        await optouts.add(s, Caller.system(t.org.id, "test"), channel="sms", customer_id=a2)
        s.add(Message(org_id=t.org.id, channel="sms", recipient="27821234563", content="earlier", status="sent",
                      customer_id=a3, sent_at=datetime.now(UTC)))
    await promise(t, str(ids["A4"]), [("50.00", REPORT_DAY + timedelta(days=400))])  # A4 promised (far ahead)
    r = await t.client.post(f"/api/v1/accounts/{ids['A5']}/status", json={"status": "disputed", "reason": "wrong"},
                            headers=await t.h("manager"))
    assert r.status_code == 200, r.text
    async with transaction() as s:
        await service.set_account_paused(s, await caller(t), ids["A6"], True)

    seen = await preview(t, REPORT_DAY)
    [step] = seen["strategies"][0]["steps"]
    assert step["accounts"] == 5  # A1, A2, A3, A7, A8 fire; A4, A5, A6 are out
    assert step["sms"] == 2 and step["smsSegments"] == 2  # A1 and A7
    assert step["excluded"] == {"cap_reached": 1, "disputed": 1, "no_contact": 1, "opted_out": 1, "paused": 1,
                                "promised": 1}
    done = await run(t, REPORT_DAY)
    assert done.counts["strategies"] == seen["strategies"]
    assert (done.accounts, done.messages, done.excluded) == (5, 2, 6)
    sent = await messages(t)
    by_status = {(m.status, m.error_code) for m in sent}
    assert by_status == {("pending", None), ("failed", "OPTED_OUT"), ("failed", "CAP_REACHED"),
                         ("failed", "NO_RECIPIENT")}
    assert len(sent) == 5 and all(m.idempotency_key.startswith("strategy:") for m in sent)
    assert sorted(m.content for m in sent if m.status == "pending") == [
        "Dear Name 1, please pay R100.00 on A1.", "Dear Name 7, please pay R700.00 on A7."]
    # Nothing changed: the next preview of the same day has nothing left to do.
    again = await preview(t, REPORT_DAY)
    assert again["strategies"][0]["steps"][0]["accounts"] == 0
    assert await count(DomainEvent, DomainEvent.type == "strategy.step_executed", DomainEvent.org_id == t.org.id) == 5
    assert sid


async def test_messages_outside_contact_hours_wait_in_the_outbox(rs, tmp_path, monkeypatch):
    t = await rs.tenant()
    monkeypatch.setenv("MESSAGING_CONTACT_HOURS", "true")
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # 14:00 in Johannesburg: after Saturday's hours
    monkeypatch.setattr(bulk_outbox, "utcnow", lambda: saturday)  # the outbox a run writes through
    await _settings(t, contact_cap="0")
    await book(t, tmp_path, [row("A1", "Alpha", "082 123 4567", d30=100)])
    await strategy(t, [{"action": "sms", "messageTemplateId": await template(t), "minDaysPastDue": 30}])
    assert (await run(t, REPORT_DAY)).messages == 1
    [m] = await messages(t)
    assert m.status == "pending" and m.next_attempt_at == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # Monday 08:00


async def test_leaving_for_a_promise_and_a_dispute_and_coming_back_where_it_left(rs, tmp_path):
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="0")
    day0 = await today(t)  # a promise is made for a day from today on
    ids = await book(t, tmp_path, [row("A1", "Alpha", "082 123 4567", d30=100),
                                   row("A2", "Beta", "083 123 4567", d30=100)], report_day=day0)
    sms = await template(t)
    await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30, "waitDays": 2},
                       {"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30, "waitDays": 2},
                       {"action": "call_task", "minDaysPastDue": 30}])
    await run(t, day0)
    p = await promise(t, str(ids["A1"]), [("10.00", day0 + timedelta(days=3))])
    r = await t.client.post(f"/api/v1/accounts/{ids['A2']}/status", json={"status": "disputed", "reason": "no"},
                            headers=await t.h("manager"))
    assert r.status_code == 200
    out = await run(t, day0 + timedelta(days=2))
    assert out.accounts == 0 and out.counts["strategies"][0]["steps"][1]["excluded"] == {"disputed": 1,
                                                                                         "promised": 1}
    async with transaction() as s:
        left = {x.account_id: (x.left_status, x.left_at_position)
                for x in await s.scalars(select(StrategyAccountState))}
    assert left == {ids["A1"]: ("promised", 1), ids["A2"]: ("disputed", 1)}
    # The promise is broken (nothing paid by its date + grace): A1 is back, at step 2 — not step 1.
    await evaluate_promises(t, day0 + timedelta(days=10))
    async with transaction() as s:
        assert (await s.get(Account, ids["A1"])).status == "active"
    back = await run(t, day0 + timedelta(days=10))
    assert back.accounts == 1
    assert [(e.account_id, e.position) for e in await executions(t) if e.run_on == day0 + timedelta(days=10)] \
        == [(ids["A1"], 2)]
    async with transaction() as s:
        state = await s.get(StrategyAccountState, ids["A1"])
        assert state.left_status is None and state.position == 2
    assert p


async def test_repeats_until_the_next_step_is_due_and_paused_strategies_do_nothing(rs, tmp_path):
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="0")
    await book(t, tmp_path, [row("A1", "Alpha", "082 123 4567", d30=100)])
    sms = await template(t)
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30, "repeatDays": 7},
                             {"action": "visit_task", "minDaysPastDue": 50}])
    fired = [d for d in range(0, 30) if (await run(t, REPORT_DAY + timedelta(days=d))).accounts]
    # SMS on days 0, 7, 14 (37, 44 days past due); the visit at 50 days (day 20) ends the repeats.
    assert fired == [0, 7, 14, 20]
    async with transaction() as s:
        await service.set_paused(s, await caller(t), sid, True)
    assert (await run(t, REPORT_DAY + timedelta(days=40))).accounts == 0


async def test_tasks_go_to_the_officer_else_round_robin(rs, tmp_path):
    t = await rs.tenant()
    ids = await book(t, tmp_path, [row(f"A{i}", f"N{i}", "082 123 4567", d60=100) for i in range(1, 6)])
    officer = (await t.member("collection_officer")).user.id
    agents = sorted([(await t.member("calling_agent", key="1")).user.id,
                     (await t.member("calling_agent", key="2")).user.id])
    async with transaction() as s:
        await s.execute(update(Customer).where(Customer.id == await _customer_of(ids["A3"]))
                        .values(assigned_collection_officer_id=officer))
    await strategy(t, [{"action": "call_task", "minDaysPastDue": 60}])
    seen = await preview(t, REPORT_DAY)
    done = await run(t, REPORT_DAY)
    assert done.counts["strategies"] == seen["strategies"]
    async with transaction() as s:
        tasks = {x.account_id: x for x in await s.scalars(select(Task).where(Task.org_id == t.org.id))}
    assert tasks[ids["A3"]].assignee_id == officer
    others = [tasks[ids[c]].assignee_id for c in ("A1", "A2", "A4", "A5")]
    assert sorted(others) == sorted(agents * 2) and all(x.source == "strategy" and x.kind == "call"
                                                        for x in tasks.values())
    assert {x["assigneeId"]: x["count"] for x in done.counts["strategies"][0]["steps"][0]["tasks"]} == \
        {officer: 1, agents[0]: 2, agents[1]: 2}


async def test_hand_over_acts_with_the_owners_rights_and_fills_the_export(rs, tmp_path):
    t = await rs.tenant()
    ids = await book(t, tmp_path, [row("A1", "=Evil()", "082 123 4567", d120=900),
                                   row("A2", "Beta", "082 123 4568", d120=900)])
    sid = await strategy(t, [{"action": "hand_over", "handOverTo": "Smith Attorneys", "minDaysPastDue": 120}])
    owner = (await t.member("manager")).user.id
    async with transaction() as s:  # the owner is no longer a manager: the step may not act
        await s.execute(update(User).where(User.id == owner).values(role="calling_agent"))
    out = await run(t, REPORT_DAY)
    assert out.accounts == 0 and out.counts["strategies"][0]["steps"][0]["excluded"] == {"owner_not_allowed": 2}
    async with transaction() as s:
        await s.execute(update(User).where(User.id == owner).values(role="manager"))
    out = await run(t, REPORT_DAY)
    assert out.handed_over == 2
    async with transaction() as s:
        assert {a.status for a in await s.scalars(select(Account).where(Account.org_id == t.org.id))} == {"handed_over"}
        ev = await s.scalars(select(DomainEvent).where(DomainEvent.type == "account.status_changed",
                                                       DomainEvent.org_id == t.org.id))
        assert {e.actor for e in ev} == {f"strategy:{sid}"}
        text = await handover_csv(s, await s.get(Strategy, sid))
    lines = text.splitlines()
    assert len(lines) == 3 and "Smith Attorneys" in lines[1] and "'=Evil()" in text  # formula-safe
    assert str(ids["A1"]) in text


async def test_champion_challenger_split_is_stable_and_matches_its_hash(rs, tmp_path):
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="0")
    ids = await book(t, tmp_path, [row(f"C{i:03d}", f"N{i}", "082 123 4567", d30=10) for i in range(120)])
    sms = await template(t)
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30, "variant": "A"},
                             {"action": "call_task", "minDaysPastDue": 30, "variant": "B"}], challengerPercent=30)
    seen = await preview(t, REPORT_DAY)
    await run(t, REPORT_DAY)
    got = {e.account_id: e.variant for e in await executions(t)}
    assert got == {i: variant_of(sid, i, 30) for i in ids.values()}
    assert {e.variant: e.action for e in await executions(t)} == {"A": "sms", "B": "call_task"}
    share = sum(v == "B" for v in got.values()) / len(got)
    assert 0.1 < share < 0.5  # 120 accounts at 30 %: ± 4 standard deviations
    steps = seen["strategies"][0]["steps"]
    assert steps[0]["variants"] == {"A": len(got) - sum(v == "B" for v in got.values())}
    # A different strategy id splits differently, the same one always alike.
    other = uuid.uuid4()
    assert [variant_of(sid, i, 30) for i in ids.values()] == [variant_of(sid, i, 30) for i in ids.values()]
    assert [variant_of(other, i, 50) for i in ids.values()] != [variant_of(sid, i, 50) for i in ids.values()]


async def test_accounts_in_b_follow_the_champion_when_the_split_ends(rs, tmp_path):
    """A strategy's challenger set to 0 %: the accounts that were in B go on with the champion's
    next step (none is left without steps), and the run records them as A."""
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="0")
    ids = await book(t, tmp_path, [row(f"C{i:03d}", f"N{i}", "082 123 4567", d30=10) for i in range(40)])
    sms = await template(t)
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30, "waitDays": 1},
                             {"action": "call_task", "minDaysPastDue": 30, "variant": "A"},
                             {"action": "visit_task", "minDaysPastDue": 30, "variant": "B"}], challengerPercent=50)
    await run(t, REPORT_DAY)
    first = {e.account_id: e.variant for e in await executions(t)}
    assert set(first) == set(ids.values()) and set(first.values()) == {"A", "B"}
    async with transaction() as s:
        await service.update_strategy(s, await caller(t), sid, {"challengerPercent": 0})
    seen = await preview(t, REPORT_DAY + timedelta(days=1))
    await run(t, REPORT_DAY + timedelta(days=1))
    second = [e for e in await executions(t) if e.run_on == REPORT_DAY + timedelta(days=1)]
    assert sorted(e.account_id for e in second) == sorted(ids.values())
    assert {(e.action, e.variant) for e in second} == {("call_task", "A")}
    assert seen["strategies"][0]["steps"][1]["accounts"] == len(ids)


async def test_segments_first_match_wins_by_priority_the_default_last(rs, tmp_path):
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="0")
    ids = await book(t, tmp_path, [row("BIG", "Big", "082 123 4567", d90=5000),
                                   row("SMALL", "Small", "082 123 4568", d30=50),
                                   row("OLD", "Old", "082 123 4569", d120=60)])
    sms = await template(t)
    default = await strategy(t, [{"action": "sms", "messageTemplateId": sms}])
    big = await strategy(t, [{"action": "call_task"}], isDefault=False, priority=1,
                         segment={"minBalance": "1000"})
    old = await strategy(t, [{"action": "visit_task"}], isDefault=False, priority=2,
                         segment={"oldestBuckets": ["d120", "d150", "d180"], "accountKind": "book"})
    await run(t, REPORT_DAY)
    by = {e.account_id: e.strategy_id for e in await executions(t)}
    assert by == {ids["BIG"]: big, ids["OLD"]: old, ids["SMALL"]: default}


@pytest.mark.parametrize("paid", ["0", "4166.66", "4166.67", "12500.00"])
async def test_loan_days_past_due_in_sql_match_the_python_rule(rs, paid):
    from arrears.accounts.ageing import loan_days_past_due
    from arrears.strategies.selection import account_rows
    from tests.promises.helpers import loan_account, pay

    t = await rs.tenant()
    loan, acc = await loan_account(t)  # 50 000 over 12 months from 2025-03-09
    if paid != "0":
        await pay(t, acc, paid, REPORT_DAY - timedelta(days=500))
    for day in (REPORT_DAY - timedelta(days=600), REPORT_DAY - timedelta(days=270), REPORT_DAY):
        async with transaction() as s:
            q = account_rows(t.org.id, day)
            r = (await s.execute(select(q.c.dpd, q.c.balance).where(q.c.account_id == uuid.UUID(acc)))).one()
        want = loan_days_past_due(Decimal("50000.00"), 12, datetime(2025, 3, 9).date(), Decimal(paid), day)
        assert (r.dpd, Decimal(str(r.balance)).quantize(Decimal("0.01"))) == (want, Decimal("50000.00") - Decimal(paid))
    assert loan


async def test_book_days_past_due_in_sql_match_the_python_rule(rs, tmp_path):
    """The selection's days past due of a book account, on days before, on and after its report's
    date, against arrears.accounts.ageing.book_days_past_due."""
    from arrears.accounts.ageing import book_days_past_due
    from arrears.strategies.selection import account_rows

    t = await rs.tenant()
    shapes = {"CUR": {"current": 100}, "D30": {"d30": 10}, "D90": {"d30": 5, "d90": 5}, "D120": {"d120": 1, "d60": 2},
              "CREDIT": {"d60": -5}}
    ids = await book(t, tmp_path, [row(code, code, "082 123 4567", **amounts) for code, amounts in shapes.items()])
    for day in (REPORT_DAY - timedelta(days=10), REPORT_DAY, REPORT_DAY + timedelta(days=45)):
        async with transaction() as s:
            q = account_rows(t.org.id, day)
            got = dict((await s.execute(select(q.c.account_id, q.c.dpd))).all())
        for code, amounts in shapes.items():
            buckets = {k: Decimal(v) for k, v in amounts.items() if k != "current"}
            assert got[ids[code]] == book_days_past_due(buckets, REPORT_DAY, day), (code, day)


async def test_a_letter_step_makes_one_stored_letter_per_account_as_the_owner(rs, tmp_path):
    from arrears.letters.builtins import FINAL_DEMAND
    from arrears.letters.models import Letter

    t = await rs.tenant()
    ids = await book(t, tmp_path, [row("L1", "Letter One", "082 123 4567", d60=250),
                                   row("L2", "Letter Two", "082 123 4568", d60=300)])
    r = await t.client.post("/api/v1/strategies", headers=await t.h("manager"), json={
        "name": "Letters", "isDefault": True,
        "steps": [{"action": "letter", "letterTemplateId": str(uuid.uuid4()), "minDaysPastDue": 60}]})
    assert r.status_code == 400 and "steps[0].letterTemplateId" in r.json()["details"]
    await strategy(t, [{"action": "letter", "letterTemplateId": str(FINAL_DEMAND.id), "minDaysPastDue": 60}])
    seen = await preview(t, REPORT_DAY)
    done = await run(t, REPORT_DAY)
    # The preview's letter split (lettersEmailed, …) is its own: the run notes it per execution
    # (tests/strategies/test_preview_letters.py); the rest of the summary is the run's.
    split = ("lettersEmailed", "lettersPrinted", "lettersPrintedWhy")
    said = [{**st, "steps": [{k: v for k, v in x.items() if k not in split} for x in st["steps"]]}
            for st in seen["strategies"]]
    assert seen["strategies"][0]["steps"][0]["lettersPrintedWhy"] == {"no_contact": 2}
    assert done.letters == 2 and done.counts["strategies"] == said
    async with transaction() as s:
        letters = list(await s.scalars(select(Letter).where(Letter.org_id == t.org.id)))
    assert {x.account_id for x in letters} == set(ids.values())
    assert all(x.source == "strategy" and x.pdf[:4] == b"%PDF" for x in letters)
    assert {x.created_by for x in letters} == {f"user:{(await t.member('manager')).user.id}"}
    assert (await run(t, REPORT_DAY)).letters == 0  # once a day


async def test_letters_print_step_writes_the_letters_the_step_made_that_day(rs, tmp_path):
    """`arrears letters print --step ID --date D`: one PDF of the letters that step made that day
    (nothing made again), each letter from a new page; a step that is not a letter step, or a day
    it made nothing, says so."""
    import asyncio

    import pypdfium2 as pdfium

    from arrears.letters.builtins import FINAL_DEMAND
    from arrears.letters.models import Letter
    from tests.inprocess_cli import arrears

    t = await rs.tenant()
    await book(t, tmp_path, [row("P1", "Print One", "082 123 4567", d60=250),
                             row("P2", "Print Two", "082 123 4568", d60=300)])
    sid = await strategy(t, [{"action": "letter", "letterTemplateId": str(FINAL_DEMAND.id), "minDaysPastDue": 60},
                             {"action": "call_task", "minDaysPastDue": 60, "waitDays": 1}])
    assert (await run(t, REPORT_DAY)).letters == 2
    async with transaction() as s:
        steps = {st.position: st.id for st in (await service.steps_of(s, [sid]))[sid]}
        made = len((await s.scalars(select(Letter.id).where(Letter.org_id == t.org.id))).all())
        manager = (await s.get(User, (await t.member("manager")).user.id)).username
    out = tmp_path / "step.pdf"
    done = await asyncio.to_thread(arrears, "letters", "print", "--org", str(t.org.id), "--step", str(steps[1]),
                                   "--date", REPORT_DAY.isoformat(), "-o", str(out), "--user", manager)
    assert done.returncode == 0, done.stderr
    pdf = pdfium.PdfDocument(out.read_bytes())
    text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "Print One" in text and "Print Two" in text and "250.00" in text and "300.00" in text
    assert len(pdf) >= 2
    async with transaction() as s:  # printing made no letter
        assert len((await s.scalars(select(Letter.id).where(Letter.org_id == t.org.id))).all()) == made
    bad = await asyncio.to_thread(arrears, "letters", "print", "--org", str(t.org.id), "--step", str(steps[2]),
                                  "--date", REPORT_DAY.isoformat(), "-o", str(out), "--user", manager)
    assert bad.returncode != 0 and "not a letter step" in (bad.stdout + bad.stderr)
    none = await asyncio.to_thread(arrears, "letters", "print", "--org", str(t.org.id), "--step", str(steps[1]),
                                   "--date", "2026-11-01", "-o", str(out), "--user", manager)
    assert none.returncode != 0 and "made no letter on 2026-11-01" in (none.stdout + none.stderr)


def test_a_split_of_a_books_consecutive_ids_follows_the_percentage():
    """A book's accounts get time-ordered ids that differ only in a counter (their first digits are
    the time): the split hashes the tail, mixed, so 30 % of a thousand consecutive ids is about 300
    and not a block of them — for each of fifty strategies (fixed ids: the figures are the same in
    every run), and two strategies split the same accounts independently (not one split shifted)."""
    from arrears.debtors.bulk import uuid7_prefix

    prefix = uuid7_prefix(datetime(2026, 12, 7, tzinfo=UTC))
    ids = [uuid.UUID(f"{prefix}{n:08x}") for n in range(1000)]
    splits = []
    for k in range(50):
        chosen = [variant_of(uuid.UUID(int=(k + 1) * 0x9E3779B97F4A7C15 % (1 << 128)), i, 30) for i in ids]
        assert 250 <= chosen.count("B") <= 350
        # Not in runs: no block of consecutive ids in one variant.
        longest = run_length = 1
        for a, b in zip(chosen, chosen[1:], strict=False):
            run_length = run_length + 1 if a == b else 1
            longest = max(longest, run_length)
        assert longest < 40
        splits.append([c == "B" for c in chosen])
    # Independent splits: two strategies' B sets overlap by about 30 % of 30 % (90 of 1,000); a
    # split that were another's shifted would overlap by far more or far less in some pairs.
    overlaps = [sum(a and b for a, b in zip(x, y, strict=True)) for x, y in zip(splits, splits[1:], strict=False)]
    assert all(45 <= o <= 140 for o in overlaps), overlaps
