"""Issue 19, point 10: bank account and ID numbers are decrypted only to write the bank file.
Lists and reads of policies and of the debit-order settings (API, web UI, audit, the CSV beside
the bank file) show the masked number without decrypting it; a resent number is compared by its
keyed fingerprint and the run's mandate check reads the account's facts kept when it was written,
so neither decrypts; the bank file carries the real numbers, decrypted for it alone.
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
from arrears.premiums.debit_orders.runs import mandate_problem
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
    assert decrypts == []  # P1's account resent as it was: compared by its fingerprint

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

    # The mandate check of the run reads what was kept when the numbers were written.
    async with transaction(readonly=True) as s:
        policies = list(await s.scalars(select(Policy).where(Policy.org_id == cap.org.id)))
        assert [mandate_problem(p) for p in policies] == [None, None]
    assert decrypts == []
    # The run: it checks the mandates (nothing decrypted) and writes the bank file, which
    # decrypts each debited policy's account and the captive's own, once each, and no other.
    r = await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=cap.headers)
    assert r.status_code == 201, r.text
    tokens = {sealed._parts(p.bank_account_number.stored)[1] for p in policies}
    assert sorted(decrypts) == sorted([*tokens, sealed._parts(settings.nominated_account.stored)[1]])
    files = {f["kind"]: f for f in r.json()["data"]["files_created"]}
    r = await client.get(f"{BASE}/files/{files['acb']['id']}/download", headers=cap.headers)
    parsed = parse_file(r.content.decode())
    assert [t.homing_account_number for t in parsed.transactions] == [ACCOUNT, ACCOUNT]
    assert parsed.transactions[0].user_nominated_account == NOMINATED
    r = await client.get(f"{BASE}/files/{files['csv']['id']}/download", headers=cap.headers)
    assert {row["bank_account_number"] for row in csv.DictReader(io.StringIO(r.text))} == {"*******4567"}
    assert ACCOUNT not in r.text


async def _last_event() -> int | None:
    async with transaction(readonly=True) as s:
        return await s.scalar(select(DomainEvent.id).order_by(DomainEvent.id.desc()).limit(1))


async def test_a_resent_number_is_compared_without_decrypting(client, world, decrypts):
    cap = await setup_captive(client, world, policies=1)
    decrypts.clear()
    # A different number with other last digits: changed, known by its mask.
    r = await client.post("/api/webhooks/policies/update", headers=cap.headers,
                          json=policy_body("P1", bank_account_number="62009999999"))
    assert r.json()["data"]["policy"]["bank_account_number"] == "*******9999" and decrypts == []
    # The same number again: the masks agree and so do the fingerprints; no change.
    before = await _last_event()
    r = await client.post("/api/webhooks/policies/update", headers=cap.headers,
                          json=policy_body("P1", bank_account_number="62009999999"))
    assert r.status_code == 200 and decrypts == []
    assert await _last_event() == before  # nothing changed, nothing recorded
    # Another number that ends in the same four digits (and as long): the fingerprints differ.
    r = await client.post("/api/webhooks/policies/update", headers=cap.headers,
                          json=policy_body("P1", bank_account_number="62119999999"))
    assert r.status_code == 200 and decrypts == []
    async with transaction(readonly=True) as s:
        change = await s.scalar(select(DomainEvent).order_by(DomainEvent.id.desc()).limit(1))
        policy = await s.scalar(select(Policy).where(Policy.org_id == cap.org.id))
    assert change.id != before and change.after == {"bank_account_number": "*******9999"}
    assert policy.bank_account_fingerprint == crypto.fingerprint("62119999999")
    assert "62119999999" not in policy.bank_account_fingerprint
    assert decrypts == []


async def test_an_account_that_cannot_be_debited_is_known_without_decrypting(env, world, decrypts):
    org = await world.org(kind="cell_captive")
    async with transaction() as s:  # written past the API's checks, as an old or imported row might be
        s.add(Policy(org_id=org.id, policy_number="BAD", client_name="Bad Account", premium_amount=1,
                     frequency="monthly", mandate_reference="M-BAD", bank_account_number="00000000",
                     bank_branch_code="250655", bank_account_type="savings"))
    async with transaction() as s:
        policy = await s.scalar(select(Policy).where(Policy.org_id == org.id))
        assert policy.bank_account_problem == "account number cannot be all zeros"
        assert mandate_problem(policy) == "account number cannot be all zeros"
        policy.bank_account_number = "62001234567"  # a new number: its facts are worked out again
        assert mandate_problem(policy) is None and policy.bank_account_problem is None
    assert decrypts == []


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
    assert decrypts == []  # checked and audited in clear as sent, the stored one never opened
    assert sealed.reveal(stored.nominated_account) == "10099999999"
    decrypts.clear()
    headers = await admin_of(client, world, cap)
    # Another setting, and the same account resent: nothing decrypted, the account not rewritten.
    r = await client.put(f"{BASE}/settings", json={"lead_days": 3, "nominated_account": "10099999999"}, headers=headers)
    assert r.status_code == 200 and decrypts == []
    async with transaction(readonly=True) as s:
        again = await s.get(DebitOrderSettings, cap.org.id)
    assert again.nominated_account.stored == stored.nominated_account.stored
    # Another account that ends as this one does: a change, audited (its masks alike), by fingerprint.
    r = await client.put(f"{BASE}/settings", json={"nominated_account": "10199999999"}, headers=headers)
    assert r.status_code == 200 and decrypts == []
    async with transaction(readonly=True) as s:
        last = await s.scalar(select(DomainEvent).where(DomainEvent.type == "debit_orders.settings_updated")
                              .order_by(DomainEvent.id.desc()).limit(1))
        now = await s.get(DebitOrderSettings, cap.org.id)
    assert last.id != change.id and now.nominated_account_fingerprint == crypto.fingerprint("10199999999")
    # The settings page of the web UI and the API show the mask, decrypting nothing.
    r = await client.get(f"{BASE}/settings", headers=headers)
    assert r.json()["data"]["nominated_account"] == "*******9999" and decrypts == []


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
    # Compared by the fingerprint kept beside it; with none (a hand-written row) it is changed.
    assert sealed.same(value, ACCOUNT, crypto.fingerprint(ACCOUNT))
    assert not sealed.same(value, "62009999999", crypto.fingerprint(ACCOUNT))
    assert not sealed.same(value, ACCOUNT, None)
    # Copies keep the sealed value, never the number.
    assert pickle.loads(pickle.dumps(value)).reveal() == ACCOUNT


def test_masks_show_at_most_half_and_never_more_than_four(env):
    assert sealed.masked("1234567890") == "******7890"
    assert sealed.masked("123456") == "***456" and sealed.masked("12") == "*2" and sealed.masked("") == ""
    stored = sealed.seal("1234567890")
    assert stored.startswith("f1:******7890:") and "1234567890" not in stored
    assert sealed.unseal(stored) == "1234567890"
