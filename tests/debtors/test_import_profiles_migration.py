"""0017_import_profiles on the test engine (SQLite, or PostgreSQL with TEST_DATABASE_URL): after
0016, down and up again; the table's unique key is one profile per organisation and signature."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import migrate
from arrears.db import transaction
from arrears.debtors.models import ImportProfile

REVISION = "0017_import_profiles"


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_the_revision_follows_report_dates():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))
    assert script.get_revision(REVISION).down_revision == "0016_report_dates"
    # 0018 (the book job's indexes) follows it: one chain, no second head.
    assert script.get_revision("0018_book_job_indexes").down_revision == REVISION


def test_down_and_up(db_url):
    assert "import_profiles" in _tables(db_url)
    try:
        command.downgrade(migrate.alembic_config(db_url), "0016_report_dates")
        assert "import_profiles" not in _tables(db_url)
    finally:
        migrate.upgrade(db_url)
    assert "import_profiles" in _tables(db_url)


async def test_one_profile_per_organisation_and_signature(world):
    org, other = await world.org(), await world.org("Other")
    row = {"signature": "a" * 64, "labels": {"0": "Account"}, "mapping": {"0": "account"}}
    async with transaction() as s:
        s.add(ImportProfile(org_id=org.id, **row))
        s.add(ImportProfile(org_id=other.id, **row))  # the same layout in another organisation
    with pytest.raises(IntegrityError):
        async with transaction() as s:
            s.add(ImportProfile(org_id=org.id, **row))
    async with transaction(readonly=True) as s:
        found = (await s.scalars(select(ImportProfile).where(ImportProfile.org_id == org.id))).one()
    assert isinstance(found.id, uuid.UUID) and found.mapping == {"0": "account"} and found.labels == {"0": "Account"}
