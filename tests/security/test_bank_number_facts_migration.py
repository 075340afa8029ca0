"""Migration 0021 (issue 19, point 10) on the test engine (SQLite, or PostgreSQL with
TEST_DATABASE_URL): rows sealed the old ways (`f1:<token>` with no mask, and `f1:<mask>:<token>`
with no fingerprint) get their masks, keyed fingerprints and the account's problem, each row
decrypted once, in batches of 1,000 (1,203 policies here: two batches and a part); down drops the
new columns and leaves numbers that still read."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from arrears import migrate
from arrears.db import get_engine, transaction
from arrears.identity import crypto, sealed
from arrears.premiums.debit_orders.models import DebitOrderSettings
from arrears.premiums.models import Policy

REVISION = "0021_bank_number_facts"
NOMINATED = "10012345678"
NEW_COLUMNS = {"policies": {"client_id_fingerprint", "bank_account_fingerprint", "bank_account_problem"},
               "debit_order_settings": {"nominated_account_fingerprint"}}


def _account(i: int) -> str:
    return f"620{i:08d}"


def _id_number(i: int) -> str:
    return f"80010{i:08d}"


async def _columns(table: str) -> set[str]:
    async with get_engine().connect() as conn:
        return {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns(table))}


def test_revision_follows_0020_and_needs_the_encrypted_columns():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))
    rev = script.get_revision(REVISION)
    assert rev.down_revision == "0020_promises_payments" and rev.dependencies == "0015_encrypt_bank_details"


async def test_upgrade_backfills_masks_fingerprints_and_problems_and_downgrade(env, world, db_url, monkeypatch):
    org = await world.org(kind="cell_captive")
    async with transaction() as s:
        s.add_all(Policy(org_id=org.id, policy_number=f"P{i:04d}", client_name=f"Client {i}", premium_amount=1,
                         frequency="monthly", bank_account_number=_account(i),
                         client_id_number=_id_number(i) if i % 2 else None)
                  for i in range(1203))
        s.add(DebitOrderSettings(org_id=org.id, user_code="ABCD", abbreviated_name="ARREARS",
                                 nominated_branch="051001", nominated_account=NOMINATED, generation_number=1))
    cfg = migrate.alembic_config(db_url)
    await asyncio.to_thread(command.downgrade, cfg, "0020_promises_payments")
    try:
        assert not (await _columns("policies")) & NEW_COLUMNS["policies"]
        assert "0015_encrypt_bank_details" in migrate._current_heads(db_url)  # the premiums branch stays
        # As the rows were before 0021: even ids as 0015 sealed them (no mask), odd ones with a
        # mask; one account that cannot go into a bank file (all zeros).
        async with transaction() as s:
            rows = (await s.execute(text("SELECT id, policy_number, bank_account_number, client_id_number "
                                         "FROM policies ORDER BY id"))).all()
            old = []
            for pid, number, account, id_number in rows:
                i = int(number[1:])
                if i == 7:
                    account = sealed.seal("00000000")
                if i % 2 == 0:
                    account = sealed.TAG + sealed._parts(account)[1]
                old.append({"id": pid, "a": account, "c": id_number})
            await s.execute(text("UPDATE policies SET bank_account_number = :a, client_id_number = :c WHERE id = :id"),
                            old)
            await s.execute(text("UPDATE debit_order_settings SET nominated_account = :v"),
                            {"v": sealed.TAG + crypto.encrypt(NOMINATED)})
        decrypted: list[str] = []
        real = crypto.decrypt
        monkeypatch.setattr(crypto, "decrypt", lambda token: decrypted.append(token) or real(token))
        await asyncio.to_thread(migrate.upgrade, db_url)
        assert len(decrypted) == 1203 + 601 + 1  # each number once: accounts, ID numbers, nominated
        decrypted.clear()
        assert NEW_COLUMNS["policies"] <= await _columns("policies")

        async with transaction(readonly=True) as s:
            rows = (await s.execute(text(
                "SELECT policy_number, bank_account_number, bank_account_fingerprint, bank_account_problem, "
                "client_id_number, client_id_fingerprint FROM policies ORDER BY id"))).all()
            settings = (await s.execute(text("SELECT nominated_account, nominated_account_fingerprint "
                                             "FROM debit_order_settings"))).one()
        assert len(rows) == 1203
        for number, account, account_print, problem, id_number, id_print in rows:
            i = int(number[1:])
            clear = "00000000" if i == 7 else _account(i)
            assert account.startswith(f"{sealed.TAG}{sealed.masked(clear)}:") and clear not in account
            assert account_print == crypto.fingerprint(clear) and clear not in account_print
            assert problem == ("account number cannot be all zeros" if i == 7 else None)
            if i % 2:
                assert id_number.startswith(f"{sealed.TAG}{sealed.masked(_id_number(i))}:")
                assert id_print == crypto.fingerprint(_id_number(i))
            else:
                assert id_number is None and id_print is None
        assert settings[0].startswith(f"{sealed.TAG}*******5678:") and settings[1] == crypto.fingerprint(NOMINATED)
        # Read by the code: masks, not ********; a resend of the same number decrypts nothing.
        async with transaction() as s:
            p = await s.scalar(select(Policy).where(Policy.policy_number == "P0000"))
            assert str(p.bank_account_number) == sealed.masked(_account(0))
            assert p.holds("bank_account_number", _account(0)) and not p.holds("bank_account_number", _account(1))
        assert decrypted == []

        await asyncio.to_thread(command.downgrade, cfg, "0020_promises_payments")
        assert not (await _columns("policies")) & NEW_COLUMNS["policies"]
        assert not (await _columns("debit_order_settings")) & NEW_COLUMNS["debit_order_settings"]
        async with transaction(readonly=True) as s:
            account = await s.scalar(text("SELECT bank_account_number FROM policies WHERE policy_number = 'P0002'"))
        assert account.startswith(f"{sealed.TAG}{sealed.masked(_account(2))}:") and sealed.unseal(account) == _account(2)
    finally:
        await asyncio.to_thread(migrate.upgrade, db_url)
    # Back at the heads (0021 and the revisions after it), its columns there again.
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))
    heads = set(migrate._current_heads(db_url))
    assert heads <= set(script.get_heads()) and any(
        REVISION in {r.revision for r in script.iterate_revisions(h, "base")} for h in heads)
    assert NEW_COLUMNS["policies"] <= await _columns("policies")
