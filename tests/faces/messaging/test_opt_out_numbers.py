"""One form of a number everywhere: an opt-out typed `082 123 4567` blocks a send to
`+27821234567` and the reverse, whether the opt-out came from the API, the CLI or a STOP reply,
and whichever way the send is made (the queue, the synchronous dispatch, the AAMA send)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from arrears.db import transaction
from arrears.messaging import receipts, rules
from arrears.messaging.dispatch import Recipient, dispatch_now
from tests.faces.messaging.helpers import caller_for, messages, opt_outs, queue, quick, set_org, sms  # noqa: F401
from tests.inprocess_cli import arrears


@pytest.fixture
async def acme(client, world):
    org = await world.org("Acme")
    headers = await world.login_headers(client, org.id, role="admin")
    return org, headers, await caller_for(await world.user(org.id))


@pytest.mark.parametrize(("typed", "region", "digits"), [
    ("082 123 4567", "ZA", "27821234567"),
    ("0821234567", "ZA", "27821234567"),
    ("+27 (0)82 123-4567", "ZA", "27821234567"),
    ("27821234567", "ZA", "27821234567"),
    ("0027821234567", "ZA", "27821234567"),
    ("+27821234567", "GB", "27821234567"),
    ("27821234567", "GB", "27821234567"),  # a provider's bare international number
    ("07911 123456", "GB", "447911123456"),
    ("442079460958", "ZA", "442079460958"),
    ("12345", "ZA", None),
    ("", "ZA", None),
])
def test_phone_key(typed, region, digits):
    assert rules.phone_key(typed, region) == digits


async def _blocked(org, caller, to: str) -> None:
    """A queued send and a synchronous send to `to` are both refused as opted out."""
    before = len(await messages())
    await queue(org, caller, [sms(to, "Queued")])
    [result] = await dispatch_now(caller, channel="sms", recipients=[Recipient(1, to, "Now")])
    queued, now = (await messages())[before:]
    for m in (queued, now):
        assert (m.status, m.error_code, m.attempts) == ("failed", "OPTED_OUT", 0), (to, m.recipient)
    assert result.status == "failed" and result.error_code == "OPTED_OUT"
    assert result.error == "Not sent: the customer opted out of SMS messages"


@pytest.mark.parametrize(("opted", "sent_to"), [("082 123 4567", "+27821234567"),
                                                ("+27821234567", "082 123 4567")])
async def test_api_opt_out_blocks_the_number_in_any_form(client, acme, quick, opted, sent_to):
    org, headers, caller = acme
    r = await client.post("/api/v1/opt-outs", headers=headers, json={"recipient": opted, "channel": "sms"})
    assert r.status_code == 201, r.text
    assert [o.recipient for o in await opt_outs()] == ["27821234567"]
    await _blocked(org, caller, sent_to)
    # Another number still goes.
    [ok] = await dispatch_now(caller, channel="sms", recipients=[Recipient(2, "083 123 4567", "Hi")])
    assert ok.status == "sent"


async def test_opt_out_of_another_region_reads_numbers_in_that_region(client, acme, quick):
    org, headers, caller = acme
    await set_org(org, default_region="GB")
    r = await client.post("/api/v1/opt-outs", headers=headers, json={"recipient": "07911 123456", "channel": "sms"})
    assert r.status_code == 201 and r.json()["data"][0]["recipient"] == "447911123456"
    await _blocked(org, caller, "+44 7911 123456")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    p = arrears(*args)  # in-process (tests/inprocess_cli.py); called in a thread
    assert p.returncode == 0, p.stderr + p.stdout
    return p


async def test_cli_opt_out_blocks_the_number_in_any_form(acme, quick):
    org, _, caller = acme
    r = await asyncio.to_thread(_cli, "opt-out", "add", "--org", str(org.id), "--recipient", "082 123 4567",
                                "--channel", "sms", "--json")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert [(o["channel"], o["recipient"]) for o in out["opt_outs"]] == [("sms", "27821234567")]
    await _blocked(org, caller, "+27821234567")
    # Removed by the number in another form: the next send goes.
    r = await asyncio.to_thread(_cli, "opt-out", "remove", "--org", str(org.id), "--recipient", "+27 82 123 4567",
                                "--channel", "sms")
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"removed": 1} and await opt_outs() == []
    [ok] = await dispatch_now(caller, channel="sms", recipients=[Recipient(1, "0821234567", "Hi")])
    assert ok.status == "sent"


async def test_stop_reply_blocks_the_number_as_people_type_it(acme, quick):
    org, _, caller = acme
    async with transaction() as s:
        tally = await receipts.smsportal(s, org.callback_token, {"Id": 9, "Msisdn": "27821234567",
                                                                 "IncomingData": "STOP"})
    assert tally.opted_out == 1
    await _blocked(org, caller, "082 123 4567")


async def test_aama_send_respects_an_opt_out_typed_locally(client, acme, quick, tmp_path):
    from tests.faces.age_analysis.helpers import BOOK, import_file, write_book

    org, headers, _ = acme
    uid = await import_file(client, headers, write_book(tmp_path / "book.xlsx", BOOK))
    accounts = (await client.get(f"/api/uploads/{uid}/accounts", headers=headers,
                                 params={"per_page": 100})).json()["accounts"]
    a1 = next(a for a in accounts if a["account_code"] == "A1")
    assert a1["telephone"] == "27821234567"
    r = await client.post("/api/v1/opt-outs", headers=headers, json={"recipient": "082 123 4567", "channel": "sms"})
    assert r.status_code == 201
    r = await client.post("/api/messaging/send", headers=headers, json={
        "account_ids": [a1["id"]],
        "message_template": "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."})
    assert r.status_code == 202 and r.json()["skipped_reasons"] == {"OPTED_OUT": 1}
    [m] = await messages()
    assert (m.recipient, m.status, m.error_code) == ("27821234567", "failed", "OPTED_OUT")
