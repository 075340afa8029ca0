"""Letters e-mailed as PDF attachments through the outbox: the SMTP stand-in (aiosmtpd) and the
SendGrid stand-in on loopback receive the very PDF stored with the letter; the simulation records
it; a customer without an e-mail address keeps a `created` letter with the reason; an opted-out
customer's letter fails with the outbox's reason. Both databases."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

import base64
import json

from sqlalchemy import select

from arrears.db import transaction
from arrears.letters.models import Letter
from arrears.messaging.models import Message
from arrears.worker import run_until_idle
from tests.faces.messaging.helpers import live, quick, sendgrid, set_org, smtp_server  # noqa: F401
from tests.faces.repaysync.conftest import RS
from tests.letters.helpers import FINAL_DEMAND, REMINDER, book_account, loan_account, pdf_text


async def _stored_pdf(letter_id: str) -> bytes:
    async with transaction() as s:
        return (await s.scalars(select(Letter.pdf).where(Letter.id == __import__("uuid").UUID(letter_id)))).one()


async def _send(t, account: str, template=REMINDER) -> dict:
    r = await t.client.post("/api/v1/letters", json={"accountIds": [account], "templateId": str(template.id),
                                                     "sendEmail": True}, headers=await t.h("calling_agent"))
    assert r.status_code == 201, r.text
    return r.json()["data"][0]


async def test_smtp_receives_the_letter_as_an_attachment(rs: RS, live, smtp_server, monkeypatch, tmp_path):
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.setenv("SMTP_FROM", "accounts@acme.co.za")
    t = await rs.tenant()
    loan, acc = await loan_account(t, name="Sipho Nkosi", email="sipho@example.com")
    letter = await _send(t, acc, FINAL_DEMAND)
    assert letter["status"] == "created" and letter["statusReason"] == "E-mail queued."
    await run_until_idle()
    [(sender, rcpts, msg)] = smtp_server.messages
    assert sender == "accounts@acme.co.za" and rcpts == ["sipho@example.com"]
    assert msg["Subject"] == f"FINAL DEMAND: account {loan['loan_account_number']}"
    assert msg.get_content_type() == "multipart/mixed"
    [pdf_part] = [p for p in msg.walk() if p.get_content_type() == "application/pdf"]
    assert pdf_part.get_filename().startswith(f"letter-{loan['loan_account_number']}-")
    data = pdf_part.get_payload(decode=True)
    assert data == await _stored_pdf(letter["id"]) and "Sipho Nkosi" in pdf_text(data)
    texts = {p.get_content_type() for p in msg.walk() if not p.is_multipart()}
    assert {"text/plain", "text/html", "application/pdf"} <= texts
    # The letter follows its message in the one log.
    got = (await t.client.get(f"/api/v1/letters/{letter['id']}", headers=await t.h())).json()
    assert got["status"] == "emailed" and got["messageId"] is not None
    async with transaction() as s:
        m = (await s.scalars(select(Message))).one()
    assert str(m.uuid) == got["messageId"] and m.source == "letter" and m.channel == "email"
    listed = (await t.client.get("/api/v1/letters", params={"status": "emailed"}, headers=await t.h())).json()
    assert [x["id"] for x in listed["data"]] == [letter["id"]]


async def test_sendgrid_receives_the_letter_as_an_attachment(rs: RS, live, sendgrid, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_URL", sendgrid.url)
    t = await rs.tenant()
    await set_org(t.org, sendgrid_api_key="SG.test-key", sendgrid_from_email="accounts@acme.co.za")
    _, acc = await loan_account(t, name="Naledi Khumalo", email="naledi@example.com")
    letter = await _send(t, acc)
    await run_until_idle()
    [req] = sendgrid.http.requests
    body = json.loads(req.body)
    [attachment] = body["attachments"]
    assert attachment["type"] == "application/pdf" and attachment["disposition"] == "attachment"
    assert attachment["filename"].startswith("letter-") and attachment["filename"].endswith(".pdf")
    data = base64.b64decode(attachment["content"])
    assert data == await _stored_pdf(letter["id"]) and "Naledi Khumalo" in pdf_text(data)
    assert body["personalizations"] == [{"to": [{"email": "naledi@example.com"}]}]
    got = (await t.client.get(f"/api/v1/letters/{letter['id']}", headers=await t.h())).json()
    assert got["status"] == "emailed"


async def test_simulation_records_the_attachment_and_rules_apply(rs: RS, quick, tmp_path):
    t = await rs.tenant()
    loan, acc = await loan_account(t, email="thabo@example.com")
    book = await book_account(t, tmp_path)  # an uploaded book: the customer has no e-mail address
    r = await t.client.post("/api/v1/letters", json={"accountIds": [acc, book], "templateId": str(REMINDER.id),
                                                     "sendEmail": True}, headers=await t.h())
    assert r.status_code == 201, r.text
    emailed, unsent = r.json()["data"]
    assert unsent["status"] == "created" and unsent["messageId"] is None
    assert unsent["statusReason"] == "Not e-mailed: the customer has no e-mail address on file."
    await run_until_idle()
    async with transaction() as s:
        [m] = (await s.scalars(select(Message))).all()
    assert m.status in ("sent", "delivered")
    assert m.response.startswith("Accepted for delivery with 1 attachment (letter-") and " B)" in m.response
    assert (await t.client.get(f"/api/v1/letters/{emailed['id']}", headers=await t.h())).json()["status"] == "emailed"
    # An opted-out customer's letter is made, and its e-mail fails with the outbox's reason.
    r = await t.client.post("/api/v1/opt-outs", json={"channel": "email", "customerId": loan["customer"]},
                            headers=await t.h())
    assert r.status_code in (200, 201), r.text
    again = await _send(t, acc)
    assert again["status"] == "failed" and "opted out" in again["statusReason"]
