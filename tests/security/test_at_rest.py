"""Issue 19, point 10: the data directory 0700 and its files 0600; bank account and ID numbers
encrypted at rest (and the migration that encrypts existing rows, on SQLite and PostgreSQL);
/metrics behind ARREARS_METRICS_TOKEN when it is set."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import datadir, migrate
from arrears.db import transaction
from arrears.identity.sealed import reveal

ACCOUNT = "62001234567"
ID_NUMBER = "8001015009087"
NOMINATED = "1234567890"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # A permissive umask, as a careless shell would have: Arrears must not inherit it.
    return subprocess.run([sys.executable, "-c", "import os, sys, runpy; os.umask(0o022); "
                           "sys.argv = ['arrears', *sys.argv[1:]]; runpy.run_module('arrears', run_name='__main__')",
                           *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
async def test_data_dir_and_its_files_are_private(tmp_path: Path):
    data = tmp_path / "fresh"
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "DB_HOST", "DB_NAME")}
    env["ARREARS_DATA_DIR"] = str(data)
    p = await asyncio.to_thread(_run, env, "orgs", "create", "--name", "Private Ltd")
    assert p.returncode == 0, p.stderr
    assert mode(data) == 0o700
    assert mode(data / "secret.key") == 0o600  # generated: no SECRET_KEY
    assert mode(data / "arrears.db") == 0o600
    for extra in data.glob("arrears.db-*"):
        assert mode(extra) == 0o600
    backup = tmp_path / "elsewhere" / "copy.db"
    p = await asyncio.to_thread(_run, env, "backup", str(backup))
    assert p.returncode == 0, p.stderr
    assert mode(backup) == 0o600


def test_existing_files_are_tightened_at_start(env):
    data = env["data_dir"]
    uploads = data / "uploads" / "org-1"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "book.xlsx").write_bytes(b"x")
    os.chmod(uploads / "book.xlsx", 0o644)
    os.chmod(data, 0o755)
    datadir.secure()
    assert mode(data) == 0o700
    assert mode(uploads) == 0o700 and mode(uploads / "book.xlsx") == 0o600
    made = data / "later.txt"
    made.write_text("x")  # the umask covers what is made afterwards
    assert mode(made) == 0o600


async def _raw(sql: str, **params) -> list[tuple]:
    async with transaction(readonly=True) as s:
        return [tuple(r) for r in (await s.execute(text(sql), params)).all()]


async def _policy_and_settings(world) -> int:
    from arrears.premiums.debit_orders.models import DebitOrderSettings
    from arrears.premiums.models import Policy

    org = await world.org(kind="cell_captive")
    async with transaction() as s:
        s.add(Policy(org_id=org.id, policy_number="P-1", client_name="Thandi", client_id_number=ID_NUMBER,
                            premium_amount=Decimal("250.00"), frequency="monthly", bank_account_number=ACCOUNT,
                            bank_branch_code="250655", next_collection_date=date(2027, 1, 1)))
        s.add(DebitOrderSettings(org_id=org.id, user_code="AB12", abbreviated_name="CAPTIVE",
                                 nominated_branch="250655", nominated_account=NOMINATED))
    return org.id


async def test_bank_and_id_numbers_are_encrypted_at_rest(env, world):
    from sqlalchemy import select

    from arrears.premiums.debit_orders.models import DebitOrderSettings
    from arrears.premiums.models import Policy

    org_id = await _policy_and_settings(world)
    [(account, id_number)] = await _raw("SELECT bank_account_number, client_id_number FROM policies")
    [(nominated,)] = await _raw("SELECT nominated_account FROM debit_order_settings")
    for stored, clear in ((account, ACCOUNT), (id_number, ID_NUMBER), (nominated, NOMINATED)):
        assert stored.startswith("f1:") and clear not in stored
    async with transaction(readonly=True) as s:
        settings = await s.get(DebitOrderSettings, org_id)
        policy = await s.scalar(select(Policy).where(Policy.org_id == org_id))
        assert reveal(policy.bank_account_number) == ACCOUNT and reveal(policy.client_id_number) == ID_NUMBER
        assert reveal(settings.nominated_account) == NOMINATED
    # Nothing in clear anywhere in a SQLite file (pages, journal): the whole file is searched.
    if env["db_url"].startswith("sqlite"):
        db_file = Path(env["db_url"].split(":///", 1)[1])
        blob = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
        for clear in (ACCOUNT, ID_NUMBER, NOMINATED):
            assert clear.encode() not in blob


async def test_migration_encrypts_existing_rows_and_downgrade_restores_them(env, world):
    """Down to before 0015 and 0014, plain rows written as the old schema had them, up again:
    encrypted."""
    from sqlalchemy import select

    from arrears.premiums.debit_orders.models import DebitOrderSettings
    from arrears.premiums.models import Policy

    url = env["db_url"]
    org_id = await _policy_and_settings(world)
    from arrears.db import dispose_engines

    await dispose_engines()
    await asyncio.to_thread(migrate.downgrade, url, "0007_debit_orders")  # 0015 only
    await asyncio.to_thread(migrate.downgrade, url, "0013_waiting_users")  # 0014 only
    engine = create_async_engine(migrate.alembic_config(url).get_main_option("sqlalchemy.url"))
    try:
        async with engine.begin() as c:
            rows = (await c.execute(text("SELECT bank_account_number, client_id_number FROM policies"))).all()
            assert [tuple(r) for r in rows] == [(ACCOUNT, ID_NUMBER)]  # downgrade decrypted
            tables = "web_sessions"
            if url.startswith("sqlite"):
                found = (await c.execute(text("SELECT name FROM sqlite_master WHERE name = :n"),
                                         {"n": tables})).all()
            else:
                found = (await c.execute(text("SELECT to_regclass(:n)"), {"n": tables})).scalar()
                found = [] if found is None else [found]
            assert found == []
            await c.execute(text("UPDATE policies SET bank_account_number = '62009999999'"))
    finally:
        await engine.dispose()
    await asyncio.to_thread(migrate.upgrade, url)
    [(account, id_number)] = await _raw("SELECT bank_account_number, client_id_number FROM policies")
    [(nominated,)] = await _raw("SELECT nominated_account FROM debit_order_settings")
    assert all(v.startswith("f1:") for v in (account, id_number, nominated))
    async with transaction(readonly=True) as s:
        policy = await s.scalar(select(Policy).where(Policy.org_id == org_id))
        settings = await s.get(DebitOrderSettings, org_id)
        assert reveal(policy.bank_account_number) == "62009999999" and reveal(policy.client_id_number) == ID_NUMBER
        assert reveal(settings.nominated_account) == NOMINATED


async def test_metrics_needs_the_token_when_set(env, client, monkeypatch):
    from arrears.config import reset_settings

    assert (await client.get("/metrics")).status_code == 200  # unset: open, as before
    monkeypatch.setenv("ARREARS_METRICS_TOKEN", "m3trics-t0ken-for-prometheus")
    reset_settings()
    try:
        r = await client.get("/metrics")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        ok = await client.get("/metrics", headers={"Authorization": "Bearer m3trics-t0ken-for-prometheus"})
        assert ok.status_code == 200 and "arrears_http_requests_total" in ok.text
    finally:
        monkeypatch.delenv("ARREARS_METRICS_TOKEN")
        reset_settings()
