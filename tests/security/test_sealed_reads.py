"""Issue 19, point 10: bank account and ID numbers are decrypted only to write the bank file.
Lists and reads of policies and of the debit-order settings (API, web UI, audit, the CSV beside
the bank file) show the masked number without decrypting it; the bank file carries the real one.
Decryptions are counted at `crypto.decrypt`, the one function every unseal goes through."""

from __future__ import annotations

import csv
import io
import pickle

import pytest
from sqlalchemy import select, text

from arrears.db import transaction
from arrears.events import DomainEvent
from arrears.identity import crypto, sealed
from arrears.premiums.acb import parse_file
from arrears.premiums.debit_orders.models import DebitOrderSettings
from arrears.premiums.models import Policy
from tests.faces.collections.test_collections_api import BASE, admin_of, policy_body, setup_captive
from tests.web.conftest import people  # noqa: F401

ACCOUNT, ID_NUMBER, NOMINATED = "62001234567", "8001015009087", "10012345678"


@pytest.fixture
def decrypts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = crypto.decrypt

    def counting(token: str) -> str:
        calls.append(token)
        return real(token)

    monkeypatch.setattr(crypto, "decrypt", counting)
    return calls


async def test_reads_never_decrypt_and_the_bank_file_carries_the_numbers(client, world, people, decrypts):  # noqa: F811
    cap = await setup_captive(client, world, policies=2)
    r = await client.post("/api/webhooks/policies/update", headers=cap.headers,
                          json=policy_body("P1", client_id_number=ID_NUMBER))
    assert r.status_code == 200, r.text
    decrypts.clear()  # a resent number is compared with the stored one (a write): counted below

    # API: the policy as the premium face answers it, and the settings.
    r = await client.post("/api/webhooks/policies/update", headers=cap.headers,
                          json={"policy_number": "P2", "client_name": "Client P2 renamed"})
    assert r.json()["data"]["policy"]["bank_account_number"] == "*******4567"
    r = await client.get(f"{BASE}/settings", headers=cap.headers)
    assert r.json()["data"]["nominated_account"] == "*******5678"
    # Web UI: the list and one policy.
    ui, _ = await people(cap.org.id, role="manager")
    r = await ui.get("/app/premiums/policies")
    assert r.status_code == 200 and "P1" in r.text
    r = await ui.get("/app/premiums/policies/P1")
    assert r.status_code == 200 and "*******4567" in r.text and "*********9087" in r.text
    assert ACCOUNT not in r.text and ID_NUMBER not in r.text
    # ORM reads: what any code (a log line, a template, json.dumps) would print is the mask.
    async with transaction(readonly=True) as s:
        policies = list(await s.scalars(select(Policy).where(Policy.org_id == cap.org.id)))
        settings = await s.get(DebitOrderSettings, cap.org.id)
    shown = [str(p.bank_account_number) for p in policies] + [f"{policies[0].client_id_number!r}",
                                                             f"{settings.nominated_account}"]
    assert all(ACCOUNT not in x and ID_NUMBER not in x and NOMINATED not in x for x in shown)
    assert "*******4567" in shown
    # The audit trail of changes.
    async with transaction(readonly=True) as s:
        afters = list(await s.scalars(select(DomainEvent.data).where(DomainEvent.org_id == cap.org.id)))
    assert afters and all(ACCOUNT not in str(a) and ID_NUMBER not in str(a) and NOMINATED not in str(a)
                          for a in afters)
    assert decrypts == []

    # The bank file: the run decrypts each debited policy's account (and the captive's own).
    r = await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=cap.headers)
    assert r.status_code == 201, r.text
    assert decrypts  # the numbers the file needs, no others
    files = {f["kind"]: f for f in r.json()["data"]["files_created"]}
    r = await client.get(f"{BASE}/files/{files['acb']['id']}/download", headers=cap.headers)
    parsed = parse_file(r.content.decode())
    assert [t.homing_account_number for t in parsed.transactions] == [ACCOUNT, ACCOUNT]
    assert parsed.transactions[0].user_nominated_account == NOMINATED
    r = await client.get(f"{BASE}/files/{files['csv']['id']}/download", headers=cap.headers)
    assert {row["bank_account_number"] for row in csv.DictReader(io.StringIO(r.text))} == {"*******4567"}
    assert ACCOUNT not in r.text


async def test_a_resent_number_decrypts_only_when_its_mask_matches(client, world, decrypts):
    cap = await setup_captive(client, world, policies=1)
    decrypts.clear()
    # A different number with other last digits: changed, known without decrypting.
    r = await client.post("/api/webhooks/policies/update", headers=cap.headers,
                          json=policy_body("P1", bank_account_number="62009999999"))
    assert r.json()["data"]["policy"]["bank_account_number"] == "*******9999" and decrypts == []
    # The same number again: the masks agree, the stored one is decrypted to compare; no change.
    async with transaction(readonly=True) as s:
        before = await s.scalar(select(DomainEvent.id).order_by(DomainEvent.id.desc()).limit(1))
    r = await client.post("/api/webhooks/policies/update", headers=cap.headers,
                          json=policy_body("P1", bank_account_number="62009999999"))
    assert r.status_code == 200 and len(decrypts) == 1
    async with transaction(readonly=True) as s:
        after = await s.scalar(select(DomainEvent.id).order_by(DomainEvent.id.desc()).limit(1))
    assert after == before  # nothing changed, nothing recorded


async def test_changed_settings_are_audited_masked(client, world, decrypts):
    cap = await setup_captive(client, world, policies=0)
    r = await client.put(f"{BASE}/settings", json={"nominated_account": "10099999999"},
                         headers=await admin_of(client, world, cap))
    assert r.status_code == 200 and r.json()["data"]["nominated_account"] == "*******9999"
    async with transaction(readonly=True) as s:
        change = await s.scalar(select(DomainEvent).where(DomainEvent.type == "debit_orders.settings_updated")
                                .order_by(DomainEvent.id.desc()).limit(1))
        stored = await s.get(DebitOrderSettings, cap.org.id)
    assert (change.before["nominated_account"], change.after["nominated_account"]) == ("*******5678", "*******9999")
    assert sealed.reveal(stored.nominated_account) == "10099999999"


async def test_a_number_sealed_before_its_mask_was_kept_still_reads(env, world):
    org = await world.org(kind="cell_captive")
    async with transaction() as s:
        s.add(Policy(org_id=org.id, policy_number="OLD", client_name="Old Row", premium_amount=1, frequency="monthly",
                     bank_account_number=ACCOUNT))
    async with transaction() as s:  # as migration 0015 wrote it: f1:<token>, no mask
        await s.execute(text("UPDATE policies SET bank_account_number = :v"),
                        {"v": sealed.TAG + crypto.encrypt(ACCOUNT)})
    async with transaction(readonly=True) as s:
        value = await s.scalar(select(Policy.bank_account_number))
    assert value == sealed.UNKNOWN and value.reveal() == ACCOUNT
    assert sealed.same(value, ACCOUNT) and not sealed.same(value, "62009999999")
    # Copies keep the sealed value, never the number.
    assert pickle.loads(pickle.dumps(value)).reveal() == ACCOUNT


def test_masks_show_at_most_half_and_never_more_than_four(env):
    assert sealed.masked("1234567890") == "******7890"
    assert sealed.masked("123456") == "***456" and sealed.masked("12") == "*2" and sealed.masked("") == ""
    stored = sealed.seal("1234567890")
    assert stored.startswith("f1:******7890:") and "1234567890" not in stored
    assert sealed.unseal(stored) == "1234567890"
