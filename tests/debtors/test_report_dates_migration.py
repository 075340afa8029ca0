"""Migration 0016 (report dates, partial reports, skipped lines, second numbers) down and up on the
test engine (SQLite, or PostgreSQL with TEST_DATABASE_URL): existing reports are dated by their
upload's UTC day and each account takes its latest report's date."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from arrears import migrate
from arrears.db import transaction
from arrears.debtors import service
from arrears.debtors.reading import AccountRow
from arrears.identity.caller import Caller

REVISION = "0016_report_dates"
REPORT_COLUMNS = {"report_date", "report_date_source", "partial", "skipped_rows", "skipped_reasons", "warnings"}
ACCOUNT_COLUMNS = {"latest_report_date", "telephone2", "settled_by_report_id"}


async def _read(url: str, statement: str | None = None) -> tuple[dict[str, set[str]], list[tuple]]:
    engine = create_async_engine(url)  # a fresh engine: the schema changed under the app's
    try:
        async with engine.connect() as conn:
            def look(c):  # type: ignore[no-untyped-def]
                found = inspect(c)
                return {t: {col["name"] for col in found.get_columns(t)}
                        for t in ("debtor_reports", "debtor_accounts", "debtor_snapshots")}
            columns = await conn.run_sync(look)
            rows = [tuple(r) for r in (await conn.execute(text(statement))).all()] if statement else []
    finally:
        await engine.dispose()
    return columns, rows


def test_the_revision_follows_web_sessions() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite:///unused.db"))
    assert script.get_revision(REVISION).down_revision == "0014_web_sessions"
    # One chain: nothing else branches off 0014 (so `upgrade heads` meets no second head there),
    # and 0017 (import profiles) follows it.
    assert [r.revision for r in script.walk_revisions() if r.down_revision == "0014_web_sessions"] == [REVISION]
    assert script.get_revision("0017_import_profiles").down_revision == REVISION


async def test_down_and_up_dates_existing_reports(env, world, db_url) -> None:
    org = await world.org("Dated")
    zero = Decimal("0.00")
    rows = [AccountRow("M1", "Mo", "", None, False, None, Decimal("5.00"), zero, zero, zero, zero, {},
                       Decimal("5.00"), 1)]
    uploaded = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # already 1 November in Johannesburg
    async with transaction() as s:
        report = service.new_report(org.id, user_id=None, source="pdf", filename="r.pdf", original_filename="r.pdf",
                                    created_at=uploaded)
        rid = (await service.store_report(s, Caller.system(org.id), report, rows)).id
    columns, _ = await _read(db_url)
    assert REPORT_COLUMNS <= columns["debtor_reports"] and ACCOUNT_COLUMNS <= columns["debtor_accounts"]
    assert "telephone2" in columns["debtor_snapshots"]
    try:
        await asyncio.to_thread(command.downgrade, migrate.alembic_config(db_url), "0014_web_sessions")
        columns, _ = await _read(db_url)
        assert not REPORT_COLUMNS & columns["debtor_reports"] and not ACCOUNT_COLUMNS & columns["debtor_accounts"]
        assert "telephone2" not in columns["debtor_snapshots"]
    finally:
        await asyncio.to_thread(migrate.upgrade, db_url)
    _, found = await _read(db_url, f"SELECT r.report_date, r.report_date_source, r.partial, r.skipped_rows, "
                                   f"a.latest_report_date FROM debtor_reports r JOIN debtor_accounts a "
                                   f"ON a.latest_report_id = r.id WHERE r.id = {rid}")
    day, source, partial, skipped, account_day = found[0]
    assert str(day) == "2026-10-31" and source == "upload" and not partial and skipped == 0
    assert str(account_day) == "2026-10-31"
