"""Each provider against a stand-in on loopback (or aiosmtpd), checking exactly what went out."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

import base64
import json

from arrears.worker import run_until_idle
from tests.faces.messaging.helpers import (  # noqa: F401
    caller_for,
    email,
    gateway,
    live,
    messages,
    queue,
    quick,
    sendgrid,
    set_org,
    sms,
    smsportal,
    smtp_server,
)
from tests.faces.messaging.standins import Reply


async def _setup(world, org_settings=None):
    org = await world.org()
    if org_settings:
        await set_org(org, **org_settings)
    user = await world.user(org.id)
    return org, await caller_for(user)


# ------------------------------------------------------------------ SMSPortal


async def test_smsportal_bulk_request_as_documented(env, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    org, c = await _setup(world, {"smsportal_client_id": "client-1", "smsportal_api_secret": "s3cret"})
    await queue(org, c, [sms("27821234567", "Hi Ann"), sms("27831234567", "Hi Bob")])
    await run_until_idle()
    [req] = smsportal.requests
    assert req.method == "POST" and req.path == "/v1/bulkmessages"
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"client-1:s3cret").decode()
    body = json.loads(req.body)
    rows = await messages()
    assert body["Messages"] == [
        {"Content": "Hi Ann", "Destination": "27821234567", "CustomerId": str(rows[0].uuid)},
        {"Content": "Hi Bob", "Destination": "27831234567", "CustomerId": str(rows[1].uuid)},
    ]
    assert {m.status for m in rows} == {"sent"}
    assert all(m.provider == "smsportal" and m.external_id == "1001" for m in rows)
    assert rows[0].response == "Message sent successfully (SMSPortal event 1001)"


async def test_smsportal_credentials_are_stored_encrypted(env, world, live, smsportal, monkeypatch):
    org, _ = await _setup(world, {"smsportal_client_id": "client-1", "smsportal_api_secret": "s3cret"})
    from arrears.db import transaction
    from arrears.identity.models import Organisation

    async with transaction(readonly=True) as s:
        stored = (await s.get(Organisation, org.id)).settings
    assert "s3cret" not in json.dumps(stored)


async def test_smsportal_batches_at_most_100_and_never_one_number_twice(env, world, live, smsportal,
                                                                        monkeypatch):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    monkeypatch.setenv("MESSAGING_RATE_LIMIT", "2000")  # batches of up to 0.2 s of the rate: 100
    monkeypatch.setenv("MESSAGING_CAP", "0")  # two messages to one number, on purpose
    org, c = await _setup(world, {"smsportal_client_id": "client-1", "smsportal_api_secret": "s3cret"})
    drafts = [sms(f"2782{i:07d}", f"n{i}") for i in range(230)] + [sms("27820000999", "again")] * 2
    await queue(org, c, drafts)
    await run_until_idle()
    sizes = [len(json.loads(r.body)["Messages"]) for r in smsportal.requests]
    assert max(sizes) <= 100 and sum(sizes) == 232
    for r in smsportal.requests:
        numbers = [m["Destination"] for m in json.loads(r.body)["Messages"]]
        assert len(numbers) == len(set(numbers))
    assert len(smsportal.accepted) == 232 and smsportal.duplicates == 0
    assert {m.status for m in await messages()} == {"sent"}


async def test_smsportal_fault_fails_that_message_only(env, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    smsportal.invalid.add("27829999999")
    org, c = await _setup(world, {"smsportal_client_id": "client-1", "smsportal_api_secret": "s3cret"})
    await queue(org, c, [sms("27821234567"), sms("27829999999")])
    await run_until_idle()
    good, bad = await messages()
    assert good.status == "sent"
    assert bad.status == "failed" and bad.error_code == "PROVIDER_REJECTED" and bad.retry_count == 0
    assert bad.response == "SMSPortal refused the message: Invalid destination number"


async def test_smsportal_bad_request_is_split_to_find_the_bad_message(env, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    org, c = await _setup(world, {"smsportal_client_id": "client-1", "smsportal_api_secret": "s3cret"})
    await queue(org, c, [sms("27821234567"), sms("27831234567")])
    smsportal.script.append(Reply(400, {"errors": [{"errorMessage": "Invalid destination in batch"}]}))
    smsportal.script.append(Reply(400, {"errors": [{"errorMessage": "Invalid destination: 27821234567"}]}))
    await run_until_idle()
    first, second = await messages()
    assert first.status == "failed" and "Invalid destination: 27821234567" in first.response
    assert second.status == "sent"
    assert len(smsportal.requests) == 3  # the batch, then each alone


async def test_smsportal_wrong_credentials_fail_with_the_reason(env, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    org, c = await _setup(world, {"smsportal_client_id": "client-1", "smsportal_api_secret": "wrong"})
    await queue(org, c, [sms("27821234567")])
    await run_until_idle()
    [m] = await messages()
    assert m.status == "failed" and m.response == "SMSPortal HTTP 401: Invalid credentials"
    assert m.attempts == 1


async def test_smsportal_global_credentials_from_env(env, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    monkeypatch.setenv("SMSPORTAL_CLIENT_ID", "client-1")
    monkeypatch.setenv("SMSPORTAL_API_SECRET", "s3cret")
    org, c = await _setup(world)
    await queue(org, c, [sms("27821234567")])
    await run_until_idle()
    assert [m.status for m in await messages()] == ["sent"] and len(smsportal.accepted) == 1


async def test_simulation_wins_over_credentials(env, world, quick, smsportal, monkeypatch):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    org, c = await _setup(world, {"smsportal_client_id": "client-1", "smsportal_api_secret": "s3cret"})
    await queue(org, c, [sms("27821234567")])
    await run_until_idle()
    assert smsportal.requests == []  # nothing left the machine
    assert [m.provider for m in await messages()] == ["simulation"]


# ------------------------------------------------------------------ SendGrid


async def test_sendgrid_mail_send_as_documented(env, world, live, sendgrid, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_URL", sendgrid.url)
    org, c = await _setup(world, {"sendgrid_api_key": "SG.test-key", "sendgrid_from_email": "accounts@pharm.co.za",
                                  "sendgrid_from_name": "Good Pharmacy"})
    await queue(org, c, [email("John@Example.com", "Reminder: account 123", "Dear John,\nR 10.00 due",
                               "<p>Dear John,<br>R 10.00 due</p>")])
    await run_until_idle()
    [req] = sendgrid.http.requests
    assert req.path == "/v3/mail/send" and req.headers["authorization"] == "Bearer SG.test-key"
    body = json.loads(req.body)
    [m] = await messages()
    assert body == {
        "personalizations": [{"to": [{"email": "John@Example.com"}]}],
        "from": {"email": "accounts@pharm.co.za", "name": "Good Pharmacy"},
        "subject": "Reminder: account 123",
        "content": [{"type": "text/plain", "value": "Dear John,\nR 10.00 due"},
                    {"type": "text/html", "value": "<p>Dear John,<br>R 10.00 due</p>"}],
        "custom_args": {"arrears_message_id": str(m.uuid), "arrears_org": str(org.id)},
    }
    assert m.status == "sent" and m.external_id == sendgrid.sent[0]["_x_message_id"]


async def test_sendgrid_invalid_key_fails_with_sendgrids_reason(env, world, live, sendgrid, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_URL", sendgrid.url)
    org, c = await _setup(world, {"sendgrid_api_key": "SG.wrong", "sendgrid_from_email": "a@b.co.za"})
    await queue(org, c, [email("john@example.com")])
    await run_until_idle()
    [m] = await messages()
    assert m.status == "failed" and m.error_code == "PROVIDER_REJECTED"
    assert m.response == "SendGrid API error: The provided authorization grant is invalid, expired, or revoked"


async def test_sendgrid_5xx_is_retried_then_sent(env, world, live, sendgrid, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_URL", sendgrid.url)
    org, c = await _setup(world, {"sendgrid_api_key": "SG.test-key", "sendgrid_from_email": "a@b.co.za"})
    sendgrid.script.extend([Reply(500, {"errors": [{"message": "oops"}]}), Reply(503, b"busy")])
    await queue(org, c, [email("john@example.com")])
    await run_until_idle()
    [m] = await messages()
    assert m.status == "sent" and m.retry_count == 2 and m.attempts == 3


# ------------------------------------------------------------------ the generic gateway


async def test_gateway_request_and_idempotency_key(env, world, live, gateway, monkeypatch):
    monkeypatch.setenv("MESSAGING_API_URL", gateway.url)
    monkeypatch.setenv("MESSAGING_API_KEY", "gw-key")
    monkeypatch.setenv("MESSAGING_FROM", "Acme")
    org, c = await _setup(world)
    await queue(org, c, [sms("27821234567", "Hi")])
    await run_until_idle()
    [req] = gateway.http.requests
    [m] = await messages()
    assert req.headers["authorization"] == "Bearer gw-key"
    assert req.headers["idempotency-key"] == str(m.uuid)
    assert json.loads(req.body) == {"to": "27821234567", "from": "Acme", "message": "Hi", "reference": str(m.uuid)}
    assert m.status == "sent" and m.external_id == "gw_1" and m.response == "queued"


async def test_gateway_default_sender_is_debtcollection(env, world, live, gateway, monkeypatch):
    monkeypatch.setenv("MESSAGING_API_URL", gateway.url)
    monkeypatch.setenv("MESSAGING_API_KEY", "gw-key")
    org, c = await _setup(world)
    await queue(org, c, [sms("27821234567", "Hi")])
    await run_until_idle()
    assert json.loads(gateway.http.requests[0].body)["from"] == "DebtCollection"


async def test_gateway_4xx_fails_at_once_with_reason(env, world, live, gateway, monkeypatch):
    monkeypatch.setenv("MESSAGING_API_URL", gateway.url)
    monkeypatch.setenv("MESSAGING_API_KEY", "gw-key")
    gateway.script.append(Reply(422, {"error": "Number 27821234567 is blacklisted"}))
    org, c = await _setup(world)
    await queue(org, c, [sms("27821234567")])
    await run_until_idle()
    [m] = await messages()
    assert m.status == "failed" and m.attempts == 1
    assert m.response == "Gateway HTTP 422: Number 27821234567 is blacklisted"


async def test_gateway_timeout_is_retried_with_the_same_idempotency_key(env, world, live, gateway, monkeypatch):
    monkeypatch.setenv("MESSAGING_API_URL", gateway.url)
    monkeypatch.setenv("MESSAGING_API_KEY", "gw-key")
    monkeypatch.setenv("MESSAGING_TIMEOUT", "200ms")
    gateway.script.append(Reply(200, {"id": "late"}, delay=1.0))
    org, c = await _setup(world)
    await queue(org, c, [sms("27821234567")], max_retries=1)
    await run_until_idle()
    [m] = await messages()
    assert m.status == "sent" and m.retry_count == 1 and m.attempts == 2
    first, second = gateway.http.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == str(m.uuid)


async def test_gateway_timeout_gives_up_with_the_reason(env, world, live, gateway, monkeypatch):
    monkeypatch.setenv("MESSAGING_API_URL", gateway.url)
    monkeypatch.setenv("MESSAGING_API_KEY", "gw-key")
    monkeypatch.setenv("MESSAGING_TIMEOUT", "200ms")
    gateway.script.append(Reply(200, {"id": "late"}, delay=1.0))
    org, c = await _setup(world)
    await queue(org, c, [sms("27821234567")], max_retries=0)
    await run_until_idle()
    [m] = await messages()
    assert m.status == "failed" and m.error_code == "RETRIES_EXHAUSTED"
    assert m.response.startswith("Timed out after 0.2 s") and "gave up after 0 retries" in m.response


# ------------------------------------------------------------------ SMTP


async def test_smtp_sends_multipart_with_escaped_html(env, world, live, smtp_server, monkeypatch):
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.setenv("SMTP_FROM", "accounts@acme.co.za")
    org, c = await _setup(world)
    from arrears.messaging.templates import render_email

    rendered = render_email("Account [AccountCode]", "Dear [CustomerName],\n\nYou owe R[TotalBalance].",
                            {"customer_name": "<script>alert(1)</script> & Co", "account_code": "A1",
                             "total_balance": "100"})
    await queue(org, c, [email("john@example.com", rendered.subject, rendered.text, rendered.html)])
    await run_until_idle()
    [(sender, rcpts, msg)] = smtp_server.messages
    [m] = await messages()
    assert sender == "accounts@acme.co.za" and rcpts == ["john@example.com"]
    assert msg["Subject"] == "Account A1" and msg["X-Arrears-Message-Id"] == str(m.uuid)
    assert msg["Message-ID"] == f"<{m.uuid}@acme.co.za>"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk()
             if not p.is_multipart()}
    assert "Dear <script>alert(1)</script> & Co," in parts["text/plain"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in parts["text/html"]
    assert "<script>" not in parts["text/html"]
    assert m.status == "sent" and m.external_id == f"<{m.uuid}@acme.co.za>"


async def test_smtp_550_fails_and_451_retries(env, world, live, smtp_server, monkeypatch):
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.setenv("SMTP_FROM", "accounts@acme.co.za")
    smtp_server.refuse = {"nobody@example.com": 550, "later@example.com": 451}
    org, c = await _setup(world)
    await queue(org, c, [email("nobody@example.com"), email("later@example.com")], max_retries=1)
    await run_until_idle()
    nobody, later = await messages()
    assert nobody.status == "failed" and nobody.attempts == 1 and nobody.response.startswith("SMTP 550")
    assert later.status == "failed" and later.attempts == 2 and later.error_code == "RETRIES_EXHAUSTED"
    assert smtp_server.messages == []


async def test_smtp_server_down_is_transient(env, world, live, monkeypatch):
    from tests.faces.messaging.standins import free_port

    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(free_port()))
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.setenv("SMTP_FROM", "accounts@acme.co.za")
    org, c = await _setup(world)
    await queue(org, c, [email("john@example.com")], max_retries=0)
    await run_until_idle()
    [m] = await messages()
    assert m.status == "failed" and m.error_code == "RETRIES_EXHAUSTED" and m.attempts == 1


async def test_no_provider_configured_is_a_400_before_anything_is_written(env, world, live):
    from arrears.messaging.providers import ProviderNotConfigured

    org, c = await _setup(world)
    import pytest

    with pytest.raises(ProviderNotConfigured) as err:
        await queue(org, c, [sms("27821234567")])
    assert err.value.status == 400 and "No SMS provider is configured" in err.value.message
    assert await messages() == []
