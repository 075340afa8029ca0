"""POST …/send-email and …/send-sms through the outbox to SendGrid and SMSPortal stand-ins on
loopback; per-debtor `sent` and `errors`; 400 without the pharmacy's credentials; contact-rule
holds reported with their reason; and GET …/{debtor_id}/communications."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

from decimal import Decimal

import pytest

from arrears.db import transaction
from arrears.identity.caller import Caller
from arrears.messaging import optouts
from arrears.messaging.models import Message
from tests.debtors.pdf.make_pdfs import Debtor, build_report
from tests.faces.messaging.helpers import live, messages, quick, sendgrid, set_org, smsportal  # noqa: F401
from tests.faces.messaging.standins import Reply

D = Decimal
ROWS = [
    Debtor("A1", "Ann Smith", {"current": D("10.00"), "d60": D("100.00"), "d120": D("20.00")},
           email="ann@example.com", phone="082 123 4567"),
    Debtor("A2", "Ben Jones", {"d90": D("50.00")}),  # no contacts
    Debtor("A3", "Cai Wong", {"d30": D("30.00")}, email="cai@example.com", phone="083 555 1234"),
    Debtor("A4", "Dee Ndlovu", {"d180": D("5.00")}, email="dee@example.com", phone="12345"),
]
SMSPORTAL = {"smsportal_client_id": "client-1", "smsportal_api_secret": "s3cret"}


@pytest.fixture
async def ids(pharmacy) -> dict[str, int]:
    body = await pharmacy.uploaded(build_report(ROWS))
    return {d["acc_no"]: d["id"] for d in body["debtors"]}


@pytest.fixture
async def with_sendgrid(pharmacy, live, sendgrid, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_URL", sendgrid.url)
    await set_org(pharmacy.org, sendgrid_api_key="SG.test-key", sendgrid_from_email="accounts@sunrise.co.za")
    return sendgrid


@pytest.fixture
async def with_smsportal(pharmacy, live, smsportal, monkeypatch):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    await set_org(pharmacy.org, **SMSPORTAL)
    return smsportal


async def test_email_reminders(pharmacy, ids, with_sendgrid) -> None:
    r = await pharmacy.post("/send-email", {"debtor_ids": [ids["A1"], ids["A2"], 999999, ids["A3"]]})
    assert r.status_code == 200, r.text
    body = r.json()
    [ann] = body["sent"]
    assert ann == {"debtor_id": ids["A1"], "email": "ann@example.com", "status": "sent",
                   "external_id": with_sendgrid.sent[0]["_x_message_id"]}
    assert body["errors"] == [
        {"debtor_id": ids["A2"], "error": "No email address"},
        {"debtor_id": 999999, "error": "Debtor not found"},
        # Default buckets d60…d180: Cai owes only 30 days.
        {"debtor_id": ids["A3"], "error": "Nothing owed in d60, d90, d120, d150, d180: no reminder sent"},
    ]
    [mail] = with_sendgrid.sent
    assert mail["personalizations"][0]["to"][0]["email"] == "ann@example.com"
    assert "R120.00" in str(mail["content"])  # d60 + d120
    assert "Sunrise Pharmacy" in mail["subject"]


async def test_the_amount_is_the_sum_of_the_requested_buckets(pharmacy, ids, with_sendgrid) -> None:
    r = await pharmacy.post("/send-email", {"debtor_ids": [ids["A1"], ids["A3"]],
                                            "ageing_buckets": ["current", "d30", "d60"]})
    assert [s["debtor_id"] for s in r.json()["sent"]] == [ids["A1"], ids["A3"]]
    # The outbox sends a batch concurrently, so the stand-in may receive them in either order.
    texts = {m["personalizations"][0]["to"][0]["email"]: str(m["content"]) for m in with_sendgrid.sent}
    assert set(texts) == {"ann@example.com", "cai@example.com"}
    assert "R110.00" in texts["ann@example.com"] and "R30.00" in texts["cai@example.com"]


async def test_sms_reminders(pharmacy, ids, with_smsportal) -> None:
    r = await pharmacy.post("/send-sms", {"debtor_ids": [ids["A1"], ids["A2"], ids["A4"]]})
    assert r.status_code == 200, r.text
    body = r.json()
    [ann] = body["sent"]
    assert ann["debtor_id"] == ids["A1"] and ann["phone"] == "082 123 4567" and ann["status"] == "sent"
    assert ann["external_id"] == "1001"
    assert body["errors"] == [{"debtor_id": ids["A2"], "error": "No phone number"},
                              {"debtor_id": ids["A4"], "error": "Invalid phone number: 12345"}]
    rows = await messages(channel="sms")
    sent = [m for m in rows if m.status == "sent"]
    assert [m.recipient for m in sent] == ["27821234567"]  # sent to the normalised number
    assert list(with_smsportal.accepted) == [str(sent[0].uuid)]
    assert "R120.00" in sent[0].content and sent[0].source == "pharmacy"


async def test_a_provider_error_is_reported_per_debtor(pharmacy, ids, with_sendgrid) -> None:
    await set_org(pharmacy.org, sendgrid_api_key="SG.wrong")
    r = await pharmacy.post("/send-email", {"debtor_ids": [ids["A1"]]})
    assert r.json() == {"sent": [], "errors": [{
        "debtor_id": ids["A1"],
        "error": "SendGrid API error: The provided authorization grant is invalid, expired, or revoked"}]}


@pytest.mark.parametrize("channel", ["email", "sms"])
async def test_missing_credentials_are_400_even_in_simulation(pharmacy, ids, quick, channel) -> None:
    r = await pharmacy.post(f"/send-{channel}", {"debtor_ids": [ids["A1"]]})
    assert r.status_code == 400
    assert r.json()["detail"].startswith("SendGrid API key not configured" if channel == "email"
                                         else "SMS Portal credentials not configured")
    assert await messages() == []
    if channel == "sms":  # half the credentials are not enough
        await set_org(pharmacy.org, smsportal_client_id="client-1")
        assert (await pharmacy.post("/send-sms", {"debtor_ids": [ids["A1"]]})).status_code == 400


async def test_simulation_sends_once_configured(pharmacy, ids, quick) -> None:
    await set_org(pharmacy.org, **SMSPORTAL)
    r = await pharmacy.post("/send-sms", {"debtor_ids": [ids["A1"]]})
    assert r.status_code == 200 and [s["status"] for s in r.json()["sent"]] == ["sent"]


async def test_no_debtor_of_the_pharmacy_is_404(pharmacy, ids, with_sendgrid) -> None:
    r = await pharmacy.post("/send-email", {"debtor_ids": [999998, 999999]})
    assert r.status_code == 404 and "No debtors found" in r.json()["detail"]


@pytest.mark.parametrize(("body", "words"), [
    ({}, "debtor_ids: is required"),
    ({"debtor_ids": []}, "debtor_ids: must name at least one debtor"),
    ({"debtor_ids": "1,2"}, "debtor_ids: must be a list"),
    ({"debtor_ids": [1, "x"]}, "integer debtor ids"),
    ({"debtor_ids": [1], "ageing_buckets": ["d45"]}, "unknown bucket 'd45'"),
    ({"debtor_ids": [1], "ageing_buckets": []}, "ageing_buckets: must name at least one"),
    ([1, 2], "JSON object"),
], ids=["missing", "empty", "string", "not_int", "bad_bucket", "no_bucket", "array"])
async def test_bad_requests_are_400(pharmacy, ids, with_sendgrid, body, words) -> None:
    r = await pharmacy.post("/send-email", body)
    assert r.status_code == 400 and words in r.json()["detail"], r.text
    r = await pharmacy.client.post(pharmacy.url("/send-email"), headers=pharmacy.writer, content=b"{nope")
    assert r.status_code == 400 and "Request body is not valid JSON" in r.json()["detail"]


async def test_contact_rule_holds_are_reported(pharmacy, ids, with_smsportal, monkeypatch) -> None:
    # Opted out: written failed with the reason, never sent.
    async with transaction() as s:
        await optouts.add(s, Caller.system(pharmacy.org.id, "test"), channel="sms", recipient="27821234567")
    r = (await pharmacy.post("/send-sms", {"debtor_ids": [ids["A1"]]})).json()
    assert r["sent"] == [] and r["errors"] == [
        {"debtor_id": ids["A1"], "error": "Not sent: the customer opted out of SMS messages"}]
    assert with_smsportal.accepted == {}


async def test_daily_cap_is_reported(pharmacy, ids, with_smsportal) -> None:
    await set_org(pharmacy.org, contact_cap="1")
    first = (await pharmacy.post("/send-sms", {"debtor_ids": [ids["A1"]]})).json()
    assert len(first["sent"]) == 1
    second = (await pharmacy.post("/send-sms", {"debtor_ids": [ids["A1"]]})).json()
    assert second["sent"] == [] and "contact cap" in second["errors"][0]["error"]


async def test_outside_contact_hours_is_queued_and_reported(pharmacy, ids, with_smsportal, monkeypatch) -> None:
    from datetime import UTC, datetime

    from arrears.messaging import outbox, service

    now = datetime(2026, 12, 16, 8, 0, tzinfo=UTC)  # a public holiday in South Africa
    monkeypatch.setattr(service, "utcnow", lambda: now)
    monkeypatch.setattr(outbox, "utcnow", lambda: now)
    monkeypatch.setenv("MESSAGING_CONTACT_HOURS", "true")
    r = (await pharmacy.post("/send-sms", {"debtor_ids": [ids["A1"]]})).json()
    assert r["sent"] == []
    [err] = r["errors"]
    assert err["debtor_id"] == ids["A1"] and "contact hours" in err["error"]
    assert "2026-12-17T06:00:00Z" in err["error"]
    assert with_smsportal.requests == []
    [m] = await messages(channel="sms")
    assert m.status == "pending"


async def test_communications(pharmacy, ids, with_sendgrid, with_smsportal) -> None:
    await pharmacy.post("/send-email", {"debtor_ids": [ids["A1"]]})
    with_smsportal.script.append(Reply(400, {"errors": [{"errorCode": 1, "errorMessage": "Bad request"}]}))
    await pharmacy.post("/send-sms", {"debtor_ids": [ids["A1"]]})
    async with transaction() as s:  # a delivery receipt came in for the e-mail
        email = (await s.scalars(Message.__table__.select().where(Message.channel == "email"))).first()
    async with transaction() as s:
        await s.execute(Message.__table__.update().where(Message.channel == "email").values(status="delivered"))
    r = await pharmacy.get(f"/{ids['A1']}/communications", headers=pharmacy.reader)
    assert r.status_code == 200
    logs = r.json()
    assert [(c["communication_type"], c["status"]) for c in logs] == [("sms", "failed"), ("email", "sent")]
    sms, mail = logs
    assert set(mail) == {"id", "pharmacy_id", "debtor_id", "communication_type", "recipient", "subject", "message",
                         "status", "external_id", "error_message", "sent_at", "created_at"}
    assert mail["debtor_id"] == ids["A1"] and mail["pharmacy_id"] == pharmacy.org.id
    assert mail["recipient"] == "ann@example.com" and mail["subject"].startswith("Reminder: Account Overdue")
    assert mail["message"].startswith("<html>") and mail["error_message"] is None
    assert mail["sent_at"].endswith("Z") and mail["external_id"]
    assert sms["subject"] is None and sms["error_message"] and sms["sent_at"] is None
    assert "Ann Smith" in sms["message"]
    assert email is not None
    # Another debtor has none; the history survives the next report (same debtor id).
    assert (await pharmacy.get(f"/{ids['A3']}/communications")).json() == []
    await pharmacy.uploaded(build_report(ROWS[1:]))  # A1 settled
    again = (await pharmacy.get(f"/{ids['A1']}/communications")).json()
    assert [c["id"] for c in again] == [c["id"] for c in logs]
    r = await pharmacy.post("/send-email", {"debtor_ids": [ids["A1"]]})
    assert r.json()["errors"] == [{"debtor_id": ids["A1"], "error": "Debtor is settled: not in the latest report"}]


async def test_a_pending_message_shows_pending(pharmacy, ids, quick) -> None:
    from arrears.pharmacy.communications import shown_status

    assert [shown_status(s) for s in ("pending", "sending", "sent", "delivered", "read", "failed")] == [
        "pending", "pending", "sent", "sent", "sent", "failed"]
