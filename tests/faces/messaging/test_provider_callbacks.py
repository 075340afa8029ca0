"""Delivery reports, events and replies through the provider callback URLs."""

from __future__ import annotations

import base64
import json
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from arrears.messaging.outbox import aware
from arrears.worker import run_until_idle
from tests.faces.messaging.helpers import (
    caller_for,
    customer,
    domain_events,
    email,
    messages,
    opt_outs,
    queue,
    receipts,
    set_org,
    sms,
)

SMSPORTAL = {"smsportal_client_id": "client-1", "smsportal_api_secret": "s3cret"}


async def _sent_sms(world, monkeypatch, smsportal, *numbers, customer_id=None):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    org = await world.org()
    await set_org(org, **SMSPORTAL)
    c = await caller_for(await world.user(org.id))
    await queue(org, c, [sms(n, customer_id=customer_id) for n in numbers])
    await run_until_idle()
    return org, c, await messages()


def _dlr(m, status="DELIVRD", **extra):
    # `Received` is part of what identifies a report (a provider re-posting the same report sends
    # the same one), so it comes from the message, never from the wall clock: two calls of _dlr
    # for the same status are the same report whichever second they run in.
    received = int(aware(m.sent_at).timestamp()) + 5
    return {"Status": status, "EventId": int(m.external_id), "Mcc": 655, "Mnc": "01", "MsgCount": 1,
            "Msisdn": m.recipient, "Received": received, "UserReference": str(m.uuid)} | extra


async def test_smsportal_delivery_report_moves_the_message_to_delivered(client, world, live, smsportal,
                                                                       monkeypatch):
    org, _, [m] = await _sent_sms(world, monkeypatch, smsportal, "27821234567")
    r = await client.post(f"/providers/smsportal/dlr/{org.callback_token}", json=_dlr(m))
    assert r.status_code == 200 and r.json()["applied"] == 1
    [m] = await messages()
    assert m.status == "delivered" and m.delivered_at is not None
    [ev] = await domain_events("message.delivered")
    assert ev.subject_id == str(m.uuid) and ev.data["status"] == "delivered" and ev.org_id == org.id
    # The same report again changes nothing and emits nothing.
    r = await client.post(f"/providers/smsportal/dlr/{org.callback_token}", json=_dlr(m))
    assert r.json()["duplicates"] == 1 and len(await domain_events("message.delivered")) == 1


async def test_smsportal_undelivered_and_expired_fail_with_the_status(client, world, live, smsportal, monkeypatch):
    org, _, rows = await _sent_sms(world, monkeypatch, smsportal, "27821234567", "27831234567")
    r = await client.post(f"/providers/smsportal/dlr/{org.callback_token}",
                          json=[_dlr(rows[0], "UNDELIV"), _dlr(rows[1], "EXPIRED")])
    assert r.status_code == 200 and r.json()["applied"] == 2
    a, b = await messages()
    assert a.status == "failed" and a.error_code == "UNDELIVERED" and a.response == "SMSPortal delivery report: UNDELIV"
    assert b.status == "failed" and b.response == "SMSPortal delivery report: EXPIRED"
    assert len(await domain_events("message.failed")) == 2


async def test_a_late_failure_report_does_not_undo_a_delivery(client, world, live, smsportal, monkeypatch):
    org, _, [m] = await _sent_sms(world, monkeypatch, smsportal, "27821234567")
    url = f"/providers/smsportal/dlr/{org.callback_token}"
    await client.post(url, json=_dlr(m, "DELIVRD"))
    r = await client.post(url, json=_dlr(m, "UNDELIV"))
    assert r.json()["unchanged"] == 1 and (await messages())[0].status == "delivered"


async def test_wrong_token_is_404(client, world, live, smsportal, monkeypatch):
    org, _, [m] = await _sent_sms(world, monkeypatch, smsportal, "27821234567")
    r = await client.post("/providers/smsportal/dlr/not-the-token", json=_dlr(m))
    assert r.status_code == 404 and r.json() == {"detail": "Unknown callback URL"}
    r = await client.post("/providers/sendgrid/events/not-the-token", json=[])
    assert r.status_code == 404
    assert (await messages())[0].status == "sent"


async def test_unknown_reference_is_kept_and_ignored(client, world, live, smsportal, monkeypatch):
    org, _, [m] = await _sent_sms(world, monkeypatch, smsportal, "27821234567")
    body = _dlr(m, UserReference="5b3228ad6c8d84001a6e6707", EventId=999)
    r = await client.post(f"/providers/smsportal/dlr/{org.callback_token}", json=body)
    assert r.status_code == 200 and r.json()["unknown"] == 1
    [kept] = await receipts()
    assert kept.outcome == "unknown_reference" and kept.message_id is None and kept.status == "DELIVRD"
    assert (await messages())[0].status == "sent"


async def test_another_organisations_token_cannot_touch_a_message(client, world, live, smsportal, monkeypatch):
    org, _, [m] = await _sent_sms(world, monkeypatch, smsportal, "27821234567")
    other = await world.org("Other Org")
    r = await client.post(f"/providers/smsportal/dlr/{other.callback_token}", json=_dlr(m))
    assert r.status_code == 200 and r.json()["unknown"] == 1
    assert (await messages())[0].status == "sent"


async def test_malformed_body_is_400_not_500(client, world, live, smsportal, monkeypatch):
    org, _, _ = await _sent_sms(world, monkeypatch, smsportal, "27821234567")
    r = await client.post(f"/providers/smsportal/dlr/{org.callback_token}", content=b"{not json",
                          headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json() == {"detail": "The body is not JSON"}
    r = await client.post(f"/providers/smsportal/dlr/{org.callback_token}", json={"Nothing": "useful"})
    assert r.status_code == 200 and r.json()["ignored"] == 1


async def test_inbound_stop_opts_the_customer_out(client, world, live, smsportal, monkeypatch):
    monkeypatch.setenv("SMSPORTAL_API_URL", smsportal.url)
    org = await world.org()
    await set_org(org, **SMSPORTAL)
    c = await caller_for(await world.user(org.id))
    john = await customer(org, phone="082 123 4567")
    await queue(org, c, [sms("27821234567", customer_id=john.id)])
    await run_until_idle()
    [m] = await messages()
    reply = {"Id": 77, "EventId": int(m.external_id), "Msisdn": "27821234567", "IncomingData": "Stop please",
             "Received": int(time.time()), "UserReference": str(m.uuid)}
    r = await client.post(f"/providers/smsportal/replies/{org.callback_token}", json=reply)
    assert r.status_code == 200 and r.json()["opted_out"] == 1
    outs = await opt_outs()
    assert {(o.channel, o.customer_id, o.recipient, o.source) for o in outs} == {
        ("sms", None, "27821234567", "reply"), ("sms", john.id, None, "reply")}
    # The next message to John is not sent, with a clear reason.
    monkeypatch.setenv("MESSAGING_CAP", "0")
    await queue(org, c, [sms("27821234567", customer_id=john.id)])
    later = (await messages())[-1]
    assert later.status == "failed" and later.error_code == "OPTED_OUT"
    assert later.response == "Not sent: the customer opted out of SMS messages"


async def test_a_reply_that_is_not_stop_changes_nothing(client, world, live, smsportal, monkeypatch):
    org, _, [m] = await _sent_sms(world, monkeypatch, smsportal, "27821234567")
    reply = {"Id": 78, "Msisdn": "27821234567", "IncomingData": "I will pay on Friday"}
    r = await client.post(f"/providers/smsportal/dlr/{org.callback_token}", json=reply)
    assert r.status_code == 200 and r.json()["opted_out"] == 0 and await opt_outs() == []


# ------------------------------------------------------------------ SendGrid


async def _sent_email(world, monkeypatch, sendgrid, *addresses, customer_id=None):
    monkeypatch.setenv("SENDGRID_API_URL", sendgrid.url)
    org = await world.org()
    await set_org(org, sendgrid_api_key="SG.test-key", sendgrid_from_email="a@acme.co.za")
    c = await caller_for(await world.user(org.id))
    await queue(org, c, [email(a, customer_id=customer_id) for a in addresses])
    await run_until_idle()
    return org, await messages()


def _event(m, event, **extra):
    return {"email": m.recipient, "timestamp": int(time.time()), "event": event,
            "sg_event_id": f"evt-{event}-{m.id}", "sg_message_id": f"{m.external_id}.filter0001.1.0",
            "arrears_message_id": str(m.uuid)} | extra


def _signed(key, body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": ts, "content-type": "application/json"}


async def test_sendgrid_events_delivered_open_bounce(client, world, live, sendgrid, monkeypatch):
    org, rows = await _sent_email(world, monkeypatch, sendgrid, "a@example.com", "b@example.com")
    body = [_event(rows[0], "processed"), _event(rows[0], "delivered"), _event(rows[0], "open"),
            _event(rows[1], "deferred"), _event(rows[1], "bounce", reason="550 5.1.1 user unknown")]
    r = await client.post(f"/providers/sendgrid/events/{org.callback_token}", json=body)
    assert r.status_code == 200
    a, b = await messages()
    assert a.status == "read" and a.delivered_at and a.read_at
    assert b.status == "failed" and b.response == "SendGrid bounce: 550 5.1.1 user unknown"
    assert len(await domain_events("message.delivered")) == 1 and len(await domain_events("message.failed")) == 1


async def test_sendgrid_matches_by_message_id_without_custom_args(client, world, live, sendgrid, monkeypatch):
    org, [m] = await _sent_email(world, monkeypatch, sendgrid, "a@example.com")
    ev = _event(m, "delivered")
    del ev["arrears_message_id"]
    r = await client.post(f"/providers/sendgrid/events/{org.callback_token}", json=[ev])
    assert r.json()["applied"] == 1 and (await messages())[0].status == "delivered"


async def test_sendgrid_unsubscribe_opts_out_of_email(client, world, live, sendgrid, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_URL", sendgrid.url)
    org, [m] = await _sent_email(world, monkeypatch, sendgrid, "John@Example.com")
    r = await client.post(f"/providers/sendgrid/events/{org.callback_token}", json=[_event(m, "unsubscribe")])
    assert r.json()["opted_out"] == 1
    assert [(o.channel, o.recipient, o.source) for o in await opt_outs()] == [("email", "john@example.com",
                                                                                 "provider")]


async def test_sendgrid_signature_is_verified_when_a_key_is_configured(client, world, live, sendgrid, monkeypatch):
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", public)
    org, [m] = await _sent_email(world, monkeypatch, sendgrid, "a@example.com")
    url = f"/providers/sendgrid/events/{org.callback_token}"
    body = json.dumps([_event(m, "delivered")]).encode()
    r = await client.post(url, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 403 and "signature" in r.json()["detail"]
    bad = _signed(ec.generate_private_key(ec.SECP256R1()), body)
    assert (await client.post(url, content=body, headers=bad)).status_code == 403
    tampered = _signed(key, body)
    assert (await client.post(url, content=body.replace(b"delivered", b"bounce"),
                              headers=tampered)).status_code == 403
    assert (await messages())[0].status == "sent"
    r = await client.post(url, content=body, headers=_signed(key, body))
    assert r.status_code == 200 and (await messages())[0].status == "delivered"


async def test_sendgrid_organisation_key_wins(client, world, live, sendgrid, monkeypatch):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    org, [m] = await _sent_email(world, monkeypatch, sendgrid, "a@example.com")
    await set_org(org, sendgrid_webhook_public_key=pem)
    body = json.dumps([_event(m, "delivered")]).encode()
    url = f"/providers/sendgrid/events/{org.callback_token}"
    assert (await client.post(url, content=body, headers={"content-type": "application/json"})).status_code == 403
    assert (await client.post(url, content=body, headers=_signed(key, body))).status_code == 200
