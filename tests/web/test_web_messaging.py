"""Messaging pages: template editor and preview, send with confirmation, the log, opt-outs and
contact rules. Messages go through the simulation provider (MESSAGING_SIMULATION=true)."""

from __future__ import annotations

import re

import pytest

from arrears.db import transaction
from arrears.identity.caller import Caller
from tests.web.conftest import upload_book


async def _no_contact_hours(org_id: int) -> None:
    """Tests run at any hour: let messages go now."""
    from arrears.identity import service as identity

    async with transaction() as s:
        org = await identity.get_org(s, org_id)
        await identity.set_org_settings(s, Caller.system(org.id), org, {"contact_hours": "off", "contact_cap": "0"})


async def _select(ui, upload_id: str, names: list[str] | None = None) -> None:
    r = await ui.get(f"/app/books/{upload_id}/accounts")
    ids = dict((n, i) for i, n in re.findall(
        r'name="selected" value="([0-9a-f-]{36})" id="sel-[^"]+"[^>]*aria-label="Select ([^"]+)"', r.text))
    chosen = [ids[n] for n in (names or list(ids))]
    r = await ui.htmx_post(f"/app/books/{upload_id}/selection", {"ids": list(ids.values()), "selected": chosen})
    assert r.status_code == 200


@pytest.mark.slow
async def test_template_editor_preview_and_counter(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="manager")
    upload_id = await upload_book(ui)
    r = await ui.get("/app/messaging/templates")
    assert r.status_code == 200 and "Default Payment Reminder" in r.text and "Built in" in r.text
    r = await ui.get("/app/messaging/templates/new")
    assert r.status_code == 200
    for name in ("[CustomerName]", "[AccountCode]", "[TotalBalance]", "[OldestAgeBracket]"):
        assert f'data-insert="{name}"' in r.text
    assert 'data-sms-counter="#live-count"' in r.text and 'hx-post="/app/messaging/preview"' in r.text
    account = re.search(r'<option value="([0-9a-f-]{36})"', r.text).group(1)
    r = await ui.htmx_post("/app/messaging/preview", {"body": "Hello [Name]", "account": account})
    assert r.status_code == 200
    assert "Template must contain [CustomerName]" in r.text and "Unknown placeholder [Name]" in r.text
    body = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."
    r = await ui.htmx_post("/app/messaging/preview", {"body": body, "account": account})
    assert 'data-testid="template-problems"' not in r.text
    assert "GSM-7" in r.text and "1 SMS segment" in r.text
    assert re.search(r"Hi (Delta|Alpha Ltd|Beta CC), account A\d owes R", r.text)
    r = await ui.htmx_post("/app/messaging/preview", {"body": body + " 🙂" + "x" * 60})
    assert "UCS-2" in r.text and "2 SMS segments" in r.text  # 70/67 per segment once UCS-2
    r = await ui.htmx_post("/app/messaging/preview", {"body": body + " " + "y" * 120})
    assert "GSM-7" in r.text and "2 SMS segments" in r.text and "153 per segment" in r.text
    assert upload_id


async def test_template_save_validation_and_roles(people, world):
    org = await world.org()
    manager, _ = await people(org.id, role="manager")
    r = await manager.post("/app/messaging/templates", {"name": "Firm", "body": "Pay now [Nmae]"})
    assert r.status_code == 400 and 'id="body-error"' in r.text and "did you mean [Name" not in r.text
    assert "Unknown placeholder [Nmae]" in r.text
    body = "Dear [CustomerName], [AccountCode] is R[TotalBalance] in arrears."
    r = await manager.post("/app/messaging/templates", {"name": "Firm", "body": body})
    assert r.status_code == 303
    r = await manager.get("/app/messaging/templates")
    template_id = re.search(r'href="/app/messaging/templates/([0-9a-f-]{36})">Firm<', r.text).group(1)
    r = await manager.post("/app/messaging/templates", {"name": "firm", "body": body})
    assert r.status_code == 400 and 'id="name-error"' in r.text
    officer, _ = await people(org.id, role="collection_officer")
    r = await officer.get("/app/messaging/templates")
    assert "New template" not in r.text
    assert (await officer.get("/app/messaging/templates/new")).status_code == 403
    assert (await officer.post(f"/app/messaging/templates/{template_id}", {"name": "X", "body": body})).status_code == 403
    other = await world.org("Other")
    stranger, _ = await people(other.id, role="admin")
    assert (await stranger.get(f"/app/messaging/templates/{template_id}")).status_code == 404
    r = await manager.post(f"/app/messaging/templates/{template_id}/delete")
    assert r.status_code == 303


async def test_send_to_selection_with_confirmation_then_log(people, world):
    from arrears.messaging import outbox
    from arrears.worker import run_until_idle

    org = await world.org()
    await _no_contact_hours(org.id)
    ui, _ = await people(org.id, role="manager")
    upload_id = await upload_book(ui)
    r = await ui.get(f"/app/messaging/send?upload={upload_id}")
    assert "is selected" in r.text and "Select accounts" in r.text  # nothing selected yet
    await _select(ui, upload_id, ["Alpha Ltd", "Beta CC", "Delta", "Gamma"])
    r = await ui.get(f"/app/messaging/send?upload={upload_id}")
    assert 'data-testid="selected-count">4<' in r.text
    assert "3 can receive an SMS" in r.text  # Gamma's 011 number is a landline
    body = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."
    r = await ui.post("/app/messaging/send/confirm", {"upload": upload_id, "body": "no placeholders"})
    assert r.status_code == 400 and 'id="body-error"' in r.text
    r = await ui.post("/app/messaging/send/confirm", {"upload": upload_id, "body": body})
    assert r.status_code == 200
    assert re.search(r'data-testid="confirm-count">3 selected accounts', r.text)
    assert 'data-testid="confirm-segments">3 SMS segments' in r.text
    assert re.search(r'data-testid="confirm-time">\d+ seconds?', r.text)
    assert "Simulation" in r.text
    from sqlalchemy import func, select

    from arrears.messaging.models import Message

    async with transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Message)) == 0  # confirming queues nothing
    r = await ui.post("/app/messaging/send", {"upload": upload_id, "body": body})
    assert r.status_code == 303 and r.headers["location"] == f"/app/messaging/log?upload={upload_id}"
    r = ui.followed
    assert "3 messages queued" in r.text and "1 not sent" in r.text
    assert 'hx-trigger="every 3s"' in r.text  # pending: the log refreshes itself
    await run_until_idle()
    await outbox.drain()
    r = await ui.c.get(f"/app/messaging/log?upload={upload_id}", headers={"HX-Request": "true",
                                                                          "HX-Target": "message-log"})
    statuses = re.findall(r'data-testid="message-status">([^<]+)<', r.text)
    assert sorted(statuses).count("Failed") == 1 and len(statuses) == 4
    assert all(s in ("Sent", "Delivered", "Failed") for s in statuses), statuses
    r = await ui.get("/app/")
    assert "Messages this week" in r.text


async def test_read_only_member_cannot_send(people, world):
    org = await world.org()
    await _no_contact_hours(org.id)
    admin, _ = await people(org.id, role="admin")
    upload_id = await upload_book(admin)
    await _select(admin, upload_id)
    reader, _ = await people(org.id, role="manager", access="read")
    r = await reader.get(f"/app/messaging/send?upload={upload_id}")
    assert r.status_code == 200 and "cannot send messages" in r.text and "Review and send" not in r.text
    body = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."
    assert (await reader.post("/app/messaging/send/confirm", {"upload": upload_id, "body": body})).status_code == 403
    assert (await reader.post("/app/messaging/send", {"upload": upload_id, "body": body})).status_code == 403
    r = await reader.get("/app/messaging/log")
    assert r.status_code == 200 and "Send to a selection" not in r.text


async def test_opt_outs_are_skipped_and_contact_rules(people, world):
    from arrears.worker import run_until_idle

    org = await world.org()
    await _no_contact_hours(org.id)
    ui, _ = await people(org.id, role="admin")
    upload_id = await upload_book(ui)
    r = await ui.post("/app/messaging/opt-outs", {"recipient": "", "channel": "sms"})
    assert r.status_code == 400 and 'id="recipient-error"' in r.text
    r = await ui.post("/app/messaging/opt-outs", {"recipient": "082 123 4567", "channel": "sms",
                                                  "reason": "Asked by phone"})
    assert r.status_code == 303
    r = await ui.get("/app/messaging/opt-outs")
    assert "27821234567" in r.text and "Asked by phone" in r.text
    await _select(ui, upload_id, ["Alpha Ltd", "Delta"])
    body = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."
    r = await ui.post("/app/messaging/send", {"upload": upload_id, "body": body})
    assert r.status_code == 303
    await run_until_idle()
    r = await ui.get(f"/app/messaging/log?upload={upload_id}&status=failed")
    assert "opted out" in r.text.lower()
    # Contact rules: admins change them; the page says what applies now.
    r = await ui.get("/app/messaging/settings")
    assert r.status_code == 200 and "Contact hours are <strong>off</strong>" in r.text
    r = await ui.post("/app/messaging/settings", {"contact_hours": "on", "holiday_country": "ZAF",
                                                  "contact_cap": "two", "contact_cap_window": "soon"})
    assert r.status_code == 400
    for field in ("holiday_country", "contact_cap", "contact_cap_window"):
        assert f'id="{field}-error"' in r.text
    r = await ui.post("/app/messaging/settings", {"contact_hours": "on", "holiday_country": "za",
                                                  "contact_cap": "2", "contact_cap_window": "48h"})
    assert r.status_code == 303
    r = await ui.get("/app/messaging/settings")
    assert "2 messages per customer per channel every 48.0 hours" in r.text
    manager, _ = await people(org.id, role="manager")
    assert (await manager.post("/app/messaging/settings", {"contact_hours": "off"})).status_code == 403
    opt_id = re.search(r'action="/app/messaging/opt-outs/([0-9a-f-]{36})/delete"', (await ui.get(
        "/app/messaging/opt-outs")).text).group(1)
    other = await world.org("Other")
    stranger, _ = await people(other.id, role="admin")
    assert (await stranger.post(f"/app/messaging/opt-outs/{opt_id}/delete")).status_code == 404
    assert (await ui.post(f"/app/messaging/opt-outs/{opt_id}/delete")).status_code == 303


async def test_messaging_tenant_isolation(people, world):
    org = await world.org()
    other = await world.org("Other")
    theirs, _ = await people(other.id, role="admin")
    upload_id = await upload_book(theirs)
    r = await theirs.get(f"/app/books/{upload_id}/accounts")
    account = re.search(r'name="selected" value="([0-9a-f-]{36})"', r.text).group(1)
    ui, _ = await people(org.id, role="admin")
    assert (await ui.get(f"/app/messaging/send?upload={upload_id}")).status_code == 404
    assert (await ui.get(f"/app/messaging/log?upload={upload_id}")).status_code == 404
    body = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."
    assert (await ui.post("/app/messaging/send", {"upload": upload_id, "body": body})).status_code == 404
    assert (await ui.htmx_post("/app/messaging/preview", {"body": body, "account": account})).status_code == 404


async def test_customer_page_shows_book_accounts_and_messages(people, world):
    from sqlalchemy import select

    from arrears.customers.models import Customer
    from arrears.worker import run_until_idle

    org = await world.org()
    await _no_contact_hours(org.id)
    ui, _ = await people(org.id, role="admin")
    upload_id = await upload_book(ui)
    await _select(ui, upload_id, ["Delta"])
    body = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."
    assert (await ui.post("/app/messaging/send", {"upload": upload_id, "body": body})).status_code == 303
    await run_until_idle()
    async with transaction(readonly=True) as s:
        customer_id = await s.scalar(select(Customer.id).where(Customer.org_id == org.id,
                                                               Customer.customer_code == "A4"))
    r = await ui.get(f"/app/customers/{customer_id}")
    assert r.status_code == 200 and "Accounts in the debtor book" in r.text
    assert "R\u00a01\u00a0000.00" in r.text and "SMS to 27847654321" in r.text


async def test_disputed_accounts_are_skipped_unless_a_manager_ticks_the_override(people, world):
    """Issue 22, point 5: the send form skips a disputed account (the reason in the log) unless a
    manager ticks "Message disputed, handed-over and written-off accounts too"."""
    from sqlalchemy import select, update

    from arrears.accounts.models import Account
    from arrears.debtors.models import DebtorAccount
    from arrears.messaging.models import Message

    org = await world.org()
    await _no_contact_hours(org.id)
    ui, _ = await people(org.id, role="manager")
    officer, _ = await people(org.id, role="collection_officer")
    upload_id = await upload_book(ui)
    await _select(ui, upload_id, ["Alpha Ltd", "Beta CC"])
    async with transaction() as s:
        alpha = (await s.execute(select(DebtorAccount.id).where(DebtorAccount.org_id == org.id,
                                                                DebtorAccount.customer_name == "Alpha Ltd"))).scalar_one()
        await s.execute(update(Account).where(Account.debtor_account_id == alpha)
                        .values(status="disputed", status_reason="Goods returned"))
    body = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."
    r = await ui.get(f"/app/messaging/send?upload={upload_id}")
    assert 'name="override_status"' in r.text
    r = await ui.post("/app/messaging/send", {"upload": upload_id, "body": body})
    assert r.status_code == 303 and "1 message queued" in ui.followed.text and "1 not sent" in ui.followed.text
    async with transaction() as s:
        held = (await s.scalars(select(Message).where(Message.debtor_account_id == alpha))).one()
        assert (held.status, held.error_code) == ("failed", "ACCOUNT_ON_HOLD")
        assert "disputed (Goods returned)" in (held.response or "")
    # An officer's form never shows the box, and ticking it by hand is refused.
    own = await upload_book(officer)
    await _select(officer, own, ["Alpha Ltd"])
    r = await officer.get(f"/app/messaging/send?upload={own}")
    assert r.status_code == 200 and 'name="override_status"' not in r.text
    r = await officer.post("/app/messaging/send", {"upload": own, "body": body, "override_status": "1"})
    assert r.status_code == 403
    r = await ui.post("/app/messaging/send", {"upload": upload_id, "body": body, "override_status": "1",
                                              "override_cap": "1"})
    assert r.status_code == 303 and "2 messages queued" in ui.followed.text
    async with transaction() as s:
        sent = (await s.scalars(select(Message).where(Message.debtor_account_id == alpha,
                                                      Message.status != "failed"))).all()
        assert len(sent) == 1
