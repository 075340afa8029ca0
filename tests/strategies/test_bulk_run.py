"""The run's set-based write path (issue 23, performance): the compiled SMS template prints what
render_template prints; one `strategy.step_executed` per account with the documented data, each
fanned out to a webhook subscription as before; the bulk outbox applies the contact rules at
write time and never writes a key twice. Both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.identity import crypto
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.identity.service import set_org_settings
from arrears.messaging import optouts
from arrears.messaging.bulk_outbox import queue_bulk
from arrears.messaging.compiled import CompiledTemplate, segments
from arrears.messaging.models import Message
from arrears.messaging.segments import count_segments
from arrears.messaging.service import Draft
from arrears.messaging.templates import PLACEHOLDERS, TemplateContext, render_template, token
from arrears.partners.fanout import payload_of
from arrears.partners.models import ApiClient, WebhookDelivery, WebhookSubscription
from arrears.strategies.models import StrategyAccountState
from tests.strategies.helpers import REPORT_DAY, book, executions, messages, row, run, strategy, template

EVERY = " ".join(f"{n}={token(n)}" for n in PLACEHOLDERS) + " [Unknown] [CustomerName]"


@pytest.mark.parametrize("ctx", [
    TemplateContext("Ann [TotalBalance] {{7*7}}", "A1", Decimal("1234567.891")),
    TemplateContext("Bob", "B2", Decimal("-0.004"), current=Decimal("10"), d30=5, d60="1,000.50", d90=0,
                    d120=Decimal("3"), d150=Decimal("4"), d180=Decimal("5.555"), contact_person="Carol",
                    telephone="082 123 4567"),
    TemplateContext("Dée 😀", "", Decimal("0"), d30=Decimal("99.995"), overdue_amount=Decimal("7"),
                    oldest_age_bracket="given"),
])
def test_the_compiled_template_prints_what_render_template_prints(ctx):
    for body in (EVERY, "No placeholders at all.", "[AccountCode]", ""):
        assert CompiledTemplate(body).render(ctx) == render_template(body, ctx)


def test_the_segment_shortcut_counts_what_count_segments_counts():
    texts = ["", "a", "a" * 160, "a" * 161, "a" * 306, "a" * 307, "€" * 80, "a" * 159 + "€", "é" * 200,
             "ü" * 70, "ü" * 71, "😀" * 40, "Dear Ann, R1,234.00 is due.\n" * 9, "[x]{y}" * 30]
    for text in texts:
        assert segments(text) == count_segments(text).segments, text


async def _subscribe(org_id: int, types: list[str]) -> None:
    async with transaction() as s:
        client = ApiClient(org_id=org_id, name="Partner", contact_email="tech@example.com", status="ACTIVE",
                           scopes=["webhooks:write"])
        s.add(client)
        await s.flush()
        s.add(WebhookSubscription(org_id=org_id, client_id=client.id, url="https://example.com/hook",
                                  secret_enc=crypto.encrypt("whsec_test"), events=types, status="ACTIVE"))


async def _settings(t, **values):
    async with transaction() as s:
        await set_org_settings(s, Caller.system(t.org.id), await s.get(Organisation, t.org.id), values)


@pytest.mark.parametrize("hooked", [True, False])
async def test_one_event_per_account_with_the_documented_data_and_its_webhook(rs, tmp_path, monkeypatch, hooked):
    """`hooked`: a partner takes the event, so the run reads its events back for the fan-out;
    else (on PostgreSQL) the claim's own statement writes the events and states (CHAINED_SQL)."""
    t = await rs.tenant()
    monkeypatch.setenv("ARREARS_STRATEGY_CHUNK", "3")  # several chunks, each its own transaction
    await _settings(t, contact_hours="off", contact_cap="0")
    ids = await book(t, tmp_path, [row(f"E{i}", f"Name {i}", f"082 555 000{i}", d30=10 * i) for i in range(1, 8)]
                     + [row("E8", "No Phone", None, d30=80)])
    await _subscribe(t.org.id, ["strategy.step_executed"] if hooked else ["promise.kept"])
    sid = await strategy(t, [{"action": "sms", "messageTemplateId": await template(t), "minDaysPastDue": 30,
                              "waitDays": 3}])
    done = await run(t, REPORT_DAY)
    assert done.accounts == 8 and done.messages == 7

    ex = {e.account_id: e for e in await executions(t)}
    async with transaction(readonly=True) as s:
        evs = list(await s.scalars(select(DomainEvent).where(DomainEvent.org_id == t.org.id,
                                                             DomainEvent.type == "strategy.step_executed")
                                   .order_by(DomainEvent.id)))
        hooks = {d.event_id: d for d in await s.scalars(select(WebhookDelivery).where(
            WebhookDelivery.org_id == t.org.id))}
        states = {st.account_id: st for st in await s.scalars(select(StrategyAccountState).where(
            StrategyAccountState.org_id == t.org.id))}
    assert sorted(ev.subject_id for ev in evs) == sorted(str(i) for i in ids.values())
    for ev in evs:
        e = ex[uuid.UUID(ev.subject_id)]
        assert ev.actor == f"strategy:{sid}" and ev.subject_type == "account" and ev.before is None
        assert ev.data == {"strategyId": str(sid), "stepId": str(e.step_id), "position": 1, "action": "sms",
                           "accountId": ev.subject_id, "variant": e.variant, "day": REPORT_DAY.isoformat(),
                           "runId": str(done.id),
                           "outcome": "skipped" if e.account_id == ids["E8"] else "queued"}
        # The partner fan-out saw each event, as with events written one by one.
        if hooked:
            assert hooks[ev.uuid].event_type == "strategy.step_executed"
            assert hooks[ev.uuid].payload == payload_of(ev)
    assert len(hooks) == (8 if hooked else 0)
    assert len({ev.uuid for ev in evs}) == 8
    for st in states.values():  # moved on: at the step, next due after its wait
        assert (st.position, st.last_fired_on, st.next_due_on, st.strategy_id, st.left_status) == (
            1, REPORT_DAY, REPORT_DAY + timedelta(days=3), sid, None)
    assert sorted(states) == sorted(ids.values())
    # And again the same day: nothing new, anywhere.
    assert (await run(t, REPORT_DAY)).accounts == 0
    async with transaction(readonly=True) as s:
        assert await s.scalar(select(func.count()).select_from(DomainEvent).where(
            DomainEvent.org_id == t.org.id, DomainEvent.type == "strategy.step_executed")) == 8
    assert len(await messages(t)) == 8


def _drafts(n: int, prefix: str) -> list[Draft]:
    return [Draft("sms", f"082 777 00{i:02d}", f"Hello {i}", template="t", idempotency_key=f"{prefix}:{i}")
            for i in range(n)]


async def _by_key(org_id: int, prefix: str) -> dict[str, Message]:
    async with transaction(readonly=True) as s:
        found = await s.scalars(select(Message).where(Message.org_id == org_id,
                                                      Message.idempotency_key.like(f"{prefix}:%")))
        return {m.idempotency_key: m for m in found}


async def test_the_bulk_outbox_applies_the_rules_when_it_writes_and_never_writes_a_key_twice(rs):
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="0")
    prefix = f"bulk-{uuid.uuid4().hex[:6]}"
    async with transaction() as s:  # an opt-out that came in after the run planned its messages
        await optouts.add(s, Caller.system(t.org.id, "test"), channel="sms", recipient="27827770001")
    async with transaction() as s:
        org = await s.get(Organisation, t.org.id)
        drafts = _drafts(4, prefix)
        drafts[2].recipient = "not a number"
        out = await queue_bulk(s, Caller.system(t.org.id, "test"), org, drafts, source="strategy")
    assert (out.queued, out.failed) == (2, 2)
    found = await _by_key(t.org.id, prefix)
    assert {k: (m.status, m.error_code, m.recipient, m.segments) for k, m in found.items()} == {
        f"{prefix}:0": ("pending", None, "27827770000", 1),
        f"{prefix}:1": ("failed", "OPTED_OUT", "27827770001", 1),
        f"{prefix}:2": ("failed", "INVALID_RECIPIENT", "not a number", 1),
        f"{prefix}:3": ("pending", None, "27827770003", 1)}
    async with transaction(readonly=True) as s:
        failed = await s.scalar(select(func.count()).select_from(DomainEvent).where(
            DomainEvent.org_id == t.org.id, DomainEvent.type == "message.failed"))
    assert failed == 2

    # The same batch again (a retried chunk): every key is there already, nothing is written.
    async with transaction() as s:
        again = await queue_bulk(s, Caller.system(t.org.id, "test"), await s.get(Organisation, t.org.id),
                                 _drafts(5, prefix), source="strategy")
    assert (again.queued, again.failed) == (1, 0)  # only the fifth key is new
    assert len(await _by_key(t.org.id, prefix)) == 5

    # A caller that wrongly says its keys are fresh still never gets a second message: the
    # unique index refuses the COPY (PostgreSQL) or the insert skips it (SQLite).
    refused = False
    try:
        async with transaction() as s:
            pg = s.get_bind().dialect.name == "postgresql"
            await queue_bulk(s, Caller.system(t.org.id, "test"), await s.get(Organisation, t.org.id),
                             _drafts(1, prefix), source="strategy", fresh_keys=True)
    except Exception as e:  # the driver's unique-violation error, whichever it is
        refused = "unique" in str(e).lower() or "duplicate" in str(e).lower()
        assert refused, e
    assert refused == pg
    assert len(await _by_key(t.org.id, prefix)) == 5


async def test_the_bulk_outbox_counts_the_cap_at_write_time(rs):
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="1", contact_cap_window="24h")
    prefix = f"cap-{uuid.uuid4().hex[:6]}"
    async with transaction() as s:
        s.add(Message(org_id=t.org.id, channel="sms", recipient="27827770000", content="earlier", status="sent",
                      sent_at=datetime.now(UTC)))
    async with transaction() as s:
        drafts = _drafts(2, prefix) + [Draft("sms", "082 777 0001", "twice", idempotency_key=f"{prefix}:again")]
        out = await queue_bulk(s, Caller.system(t.org.id, "test"), await s.get(Organisation, t.org.id), drafts,
                               source="strategy")
    assert (out.queued, out.failed) == (1, 2)
    found = await _by_key(t.org.id, prefix)
    assert {k: (m.status, m.error_code) for k, m in found.items()} == {
        f"{prefix}:0": ("failed", "CAP_REACHED"), f"{prefix}:1": ("pending", None),
        f"{prefix}:again": ("failed", "CAP_REACHED")}


@pytest.mark.parametrize("body", [EVERY, "Dear [CustomerName] ([ContactPerson], [Telephone]): R[TotalBalance], "
                                         "[Current]/[30Days]/[60Days]/[90Days] on [AccountCode].",
                                  "Dear [CustomerName], your account [AccountCode] is R[TotalBalance] in arrears.",
                                  "Please pay today."])
def test_a_run_renders_each_row_as_render_template_does(body):
    from types import SimpleNamespace

    from arrears.messaging.models import MessageTemplate
    from arrears.strategies import runner
    from arrears.strategies.models import StrategyStep

    step = StrategyStep(id=uuid.uuid4(), action="sms", position=1)
    tpl = MessageTemplate(name="t", channel="sms", body=body)
    compiled = CompiledTemplate(body)
    assert compiled.simple == (body != EVERY)
    base = dict(customer_name="Ann", account_code=None, loan_account_number="L-9", balance=Decimal("1234.5"),
                current=None, d30=Decimal("10"), d60=None, d90=Decimal("0.005"), d120=Decimal("3"), d150=None,
                d180=Decimal("7"), contact=None, contact_person="Cee", telephone=None, phone_e164="27821234567",
                customer_id=1, debtor_account_id=2, account_id=uuid.uuid4())
    render, columns = runner._sms_renderer(body)
    # a simple template reads its own placeholders' columns only; the others, every column
    assert set(columns) < set(runner.FETCHED) if compiled.simple else columns == runner.FETCHED
    for changes in ({}, {"customer_name": None, "balance": None, "contact": "Dee", "telephone": "082 1"}):
        r = SimpleNamespace(**{**base, **changes})
        fetched = SimpleNamespace(**{k: v for k, v in vars(r).items() if k in columns})  # what the run reads
        draft = runner._draft(step, tpl, fetched, REPORT_DAY, render)
        assert draft.content == render_template(body, runner._context(r))
        assert (draft.recipient, draft.customer_id, draft.debtor_account_id) == ("27821234567", 1, 2)
