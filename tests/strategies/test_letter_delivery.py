"""A letter step e-mails each letter as a PDF attachment through the outbox to the accounts with an
e-mail address, and leaves the rest — no address, opted out, over the cap — to the print batch
(`letters print --step`): the SMTP stand-in receives the very PDF, with the right amounts; what
`letter_step.deliveries` said beforehand (the preview's split) is what the run did; a repeated run
sends and makes nothing twice; outside contact hours the e-mail waits in the outbox and its letter
is not printed. Both databases."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update

from arrears.accounts.models import Account
from arrears.customers.models import Customer
from arrears.db import transaction
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.identity.service import set_org_settings
from arrears.letters.builtins import FINAL_DEMAND
from arrears.letters.models import Letter
from arrears.messaging import optouts
from arrears.messaging import service as messaging
from arrears.messaging.models import Message
from arrears.messaging.settings import messaging_settings
from arrears.strategies import letter_step, runner
from arrears.strategies.models import StrategyStepExecution
from arrears.strategies.selection import fetch_due
from arrears.worker import run_until_idle
from tests.faces.messaging.helpers import live, quick, smtp_server  # noqa: F401
from tests.letters.helpers import pdf_text
from tests.strategies.helpers import REPORT_DAY, book, caller, row, run, strategy


async def _settings(t, **values):
    async with transaction() as s:
        await set_org_settings(s, Caller.system(t.org.id), await s.get(Organisation, t.org.id), values)


async def _email(ids, code: str, address: str) -> int:
    """Give the account's customer an e-mail address; its customer id."""
    async with transaction() as s:
        customer = await s.scalar(select(Account.customer_id).where(Account.id == ids[code]))
        await s.execute(update(Customer).where(Customer.id == customer).values(email=address))
        return customer


async def _deliveries(t, sid: uuid.UUID) -> dict[uuid.UUID, str]:
    """What the preview says of the step's letters: `deliveries` with the runner's outbox checks."""
    async with transaction() as s:
        org = await s.get(Organisation, t.org.id)
        [plan] = await runner.load_plans(s, t.org.id, sid)
        [step] = plan.steps
        rows = await fetch_due(s, t.org.id, plan, step, REPORT_DAY)
        settings, tally = messaging_settings(), runner.CapTally()

        async def check(drafts):
            return await runner.check_drafts(s, org, drafts, tally, settings)

        return await letter_step.deliveries(org, step, rows, REPORT_DAY, check, settings)


async def _executions(t) -> dict[uuid.UUID, dict]:
    async with transaction() as s:
        return {e.account_id: e.detail for e in await s.scalars(
            select(StrategyStepExecution).where(StrategyStepExecution.org_id == t.org.id))}


async def _print(t, sid: uuid.UUID):
    manager = await caller(t)
    async with transaction() as s:
        [plan] = await runner.load_plans(s, t.org.id, sid)
        return await letter_step.step_letters(s, manager, plan.steps[0].id, REPORT_DAY)


async def test_a_letter_step_emails_its_letters_and_prints_the_rest(rs, tmp_path, live, smtp_server, monkeypatch):
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.setenv("SMTP_FROM", "accounts@acme.co.za")
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="1", contact_cap_window="24h")
    ids = await book(t, tmp_path, [row("E1", "Email One", "082 123 4561", d60="250.40", d90="100.05"),
                                   row("E2", "Opted Out", "082 123 4562", d60=300),
                                   row("E3", "Capped Three", "082 123 4563", d60=320),
                                   row("N1", "No Address", "082 123 4564", d60="410.10")])
    await _email(ids, "E1", "one@example.com")
    opted = await _email(ids, "E2", "two@example.com")
    capped = await _email(ids, "E3", "three@example.com")
    async with transaction() as s:  # E2 opted out of e-mail; E3 had its one e-mail of the day
        await optouts.add(s, Caller.system(t.org.id, "test"), channel="email", customer_id=opted)
        s.add(Message(org_id=t.org.id, channel="email", recipient="three@example.com", content="earlier",
                      status="sent", customer_id=capped, sent_at=datetime.now(UTC)))
    sid = await strategy(t, [{"action": "letter", "letterTemplateId": str(FINAL_DEMAND.id), "minDaysPastDue": 60}])

    said = await _deliveries(t, sid)
    assert said == {ids["E1"]: "email", ids["E2"]: "print:opted_out", ids["E3"]: "print:cap_reached",
                    ids["N1"]: "print:no_contact"}
    assert letter_step.letter_counts(said) == {"lettersEmailed": 1, "lettersPrinted": 3, "lettersPrintedWhy": {
        "cap_reached": 1, "no_contact": 1, "opted_out": 1}}

    done = await run(t, REPORT_DAY)
    assert done.letters == 4
    detail = await _executions(t)
    assert {i: d["delivery"] if d["delivery"] == "email" else f"print:{d['reason']}" for i, d in detail.items()} \
        == said  # the run did what the preview said
    await run_until_idle()
    [(sender, rcpts, msg)] = smtp_server.messages
    assert sender == "accounts@acme.co.za" and rcpts == ["one@example.com"]
    assert msg["Subject"] == "FINAL DEMAND: account E1"
    [part] = [p for p in msg.walk() if p.get_content_type() == "application/pdf"]
    assert part.get_filename().startswith("letter-E1-")
    data = part.get_payload(decode=True)
    text = pdf_text(data)
    assert "Email One" in text and "250.40" in text and "100.05" in text and "350.45" in text
    async with transaction() as s:
        stored = await s.scalar(select(Letter.pdf).where(Letter.id == uuid.UUID(detail[ids["E1"]]["letterId"])))
        [m] = (await s.scalars(select(Message).where(Message.org_id == t.org.id, Message.source == "letter",
                                                     Message.status == "sent"))).all()
    assert data == stored
    assert m.idempotency_key.startswith("strategy:") and m.idempotency_key.endswith(f":{ids['E1']}:2026-11-30")

    printed = await _print(t, sid)
    assert (printed.letters, printed.emailed) == (3, 1)
    text = pdf_text(printed.pdf)
    for name, amount in (("Opted Out", "300.00"), ("Capped Three", "320.00"), ("No Address", "410.10")):
        assert name in text and amount in text
    assert "Email One" not in text and "250.40" not in text

    # Again the same day: nothing made, nothing sent, nothing printed twice.
    again = await run(t, REPORT_DAY)
    assert again.letters == 0 and again.accounts == 0
    await run_until_idle()
    assert len(smtp_server.messages) == 1
    async with transaction() as s:
        assert len((await s.scalars(select(Letter.id).where(Letter.org_id == t.org.id))).all()) == 4
        assert len((await s.scalars(select(Message.id).where(Message.org_id == t.org.id,
                                                             Message.source == "letter"))).all()) == 3
    assert (await _print(t, sid)).letters == 3


async def test_outside_contact_hours_the_letters_email_waits_and_is_not_printed(rs, tmp_path, quick, monkeypatch):
    t = await rs.tenant()
    monkeypatch.setenv("MESSAGING_CONTACT_HOURS", "true")
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # 14:00 in Johannesburg: after Saturday's hours
    monkeypatch.setattr(messaging, "utcnow", lambda: saturday)
    await _settings(t, contact_cap="0")
    ids = await book(t, tmp_path, [row("W1", "Waits Monday", "082 123 4567", d60=120),
                                   row("W2", "On Paper", "082 123 4568", d60=130)])
    await _email(ids, "W1", "waits@example.com")
    sid = await strategy(t, [{"action": "letter", "letterTemplateId": str(FINAL_DEMAND.id), "minDaysPastDue": 60}])
    assert await _deliveries(t, sid) == {ids["W1"]: "email", ids["W2"]: "print:no_contact"}
    assert (await run(t, REPORT_DAY)).letters == 2
    async with transaction() as s:
        [m] = (await s.scalars(select(Message).where(Message.org_id == t.org.id))).all()
    assert m.status == "pending" and m.next_attempt_at == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # Monday 08:00
    printed = await _print(t, sid)
    assert (printed.letters, printed.emailed) == (1, 1)
    assert "On Paper" in pdf_text(printed.pdf) and "Waits Monday" not in pdf_text(printed.pdf)


async def test_a_print_only_letter_step_emails_nothing(rs, tmp_path, quick):
    """`letterDelivery: print` (a notice to post): every letter in the print batch, none e-mailed,
    though the customer has an address; the letters say why."""
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="0")
    ids = await book(t, tmp_path, [row("P1", "Posted Only", "082 123 4567", d60="512.34")])
    await _email(ids, "P1", "posted@example.com")
    steps = [{"action": "letter", "letterTemplateId": str(FINAL_DEMAND.id), "minDaysPastDue": 60}]
    r = await t.client.post("/api/v1/strategies", headers=await t.h("manager"), json={
        "name": "Bad", "steps": [steps[0] | {"letterDelivery": "pigeon"}]})
    assert r.status_code == 400 and "steps[0].letterDelivery" in r.json()["details"]
    r = await t.client.post("/api/v1/strategies", headers=await t.h("manager"), json={
        "name": "Posted", "isDefault": True, "steps": [steps[0] | {"letterDelivery": "print"}]})
    assert r.status_code == 201, r.text
    assert r.json()["steps"][0]["letterDelivery"] == "print"
    sid = uuid.UUID(r.json()["id"])
    assert await _deliveries(t, sid) == {ids["P1"]: "print:print_only"}
    assert (await run(t, REPORT_DAY)).letters == 1
    await run_until_idle()
    async with transaction() as s:
        assert (await s.scalars(select(Message.id).where(Message.org_id == t.org.id))).all() == []
    assert (await _executions(t))[ids["P1"]]["reason"] == "print_only"
    printed = await _print(t, sid)
    assert (printed.letters, printed.emailed) == (1, 0) and "512.34" in pdf_text(printed.pdf)
    [letter] = (await t.client.get("/api/v1/letters", headers=await t.h())).json()["data"]
    assert letter["status"] == "created" and letter["statusReason"] == letter_step.NOT_EMAILED["print_only"]
    # Changing the step back to the default (the whole list, the step kept by id) e-mails again.
    step_id = r.json()["steps"][0]["id"]
    r = await t.client.patch(f"/api/v1/strategies/{sid}", headers=await t.h("manager"),
                             json={"steps": [steps[0] | {"id": step_id}]})
    assert r.status_code == 200 and r.json()["steps"][0]["letterDelivery"] == "email"
