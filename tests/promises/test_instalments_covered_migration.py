"""Migration 0031 (an instalment's `covered` no longer stored: it follows from its promise's
`paid_amount`) down and up on the test engine (SQLite, or PostgreSQL with TEST_DATABASE_URL): down
brings the column back filled by the rule the API applies (`models.covered`), up drops it again."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from alembic import command

from arrears import migrate
from arrears.promises.models import covered
from tests.migration_steps import previous_revision, run_sql

REVISION = "0031_instalments_covered"
PLANS = {  # promise id (hex) → (paid amount, instalment amounts)
    "0" * 31 + "1": ("130.00", ["100.00", "100.00"]),
    "0" * 31 + "2": ("250.50", ["100.00", "100.00", "100.00"]),
    "0" * 31 + "3": ("0.00", ["40.00"]),
    "0" * 31 + "4": ("500.00", ["300.00"]),
}


def _columns(url: str) -> set[str]:
    if url.startswith("postgresql"):
        return {str(r[0]) for r in run_sql(url, "SELECT column_name FROM information_schema.columns "
                                                "WHERE table_name = 'promise_instalments'")}
    return {str(r[1]) for r in run_sql(url, "PRAGMA table_info(promise_instalments)")}


def _seed(url: str) -> None:
    """Promises and their plans written straight into the tables (their organisation and accounts
    need not exist: foreign keys are not checked for these rows)."""
    postgres = url.startswith("postgresql")
    before = ["SET LOCAL session_replication_role = replica"] if postgres else []
    key = (lambda h: f"'{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}'") if postgres else (lambda h: f"'{h}'")
    for pid, (paid, plan) in PLANS.items():
        run_sql(url, "INSERT INTO promises (id, org_id, account_id, amount, made_on, due_date, status, paid_amount, "
                     "created_by, created_at, updated_at) VALUES "
                     f"({key(pid)}, 1, {key(pid[::-1])}, {sum(Decimal(a) for a in plan)}, '2026-12-01', '2026-12-31', "
                     f"'open', {paid}, 't', '2026-12-01 00:00:00', '2026-12-01 00:00:00')", before=before)
        for number, amount in enumerate(plan, 1):
            run_sql(url, "INSERT INTO promise_instalments (promise_id, number, due_date, amount) VALUES "
                         f"({key(pid)}, {number}, '2026-12-31', {amount})", before=before)


def test_covered_goes_and_comes_back_filled_from_the_paid_amounts(db_url):
    assert "covered" not in _columns(db_url)
    _seed(db_url)
    try:
        command.downgrade(migrate.alembic_config(db_url), previous_revision(REVISION))
        assert "covered" in _columns(db_url)
        rows = run_sql(db_url, "SELECT p.paid_amount, i.amount, i.covered FROM promise_instalments i "
                               "JOIN promises p ON p.id = i.promise_id ORDER BY p.id, i.number")
        by_promise: dict[Decimal, list[tuple[Decimal, Decimal]]] = {}
        for paid, amount, share in rows:
            by_promise.setdefault(Decimal(str(paid)), []).append((Decimal(str(amount)), Decimal(str(share))))
        assert len(by_promise) == len(PLANS)
        for paid, plan in by_promise.items():
            expected = covered(paid, [SimpleNamespace(amount=a) for a, _ in plan])  # type: ignore[misc]
            assert [share for _, share in plan] == expected
        assert [s for _, s in by_promise[Decimal("250.50")]] == [Decimal("100.00"), Decimal("100.00"),
                                                                 Decimal("50.50")]
    finally:
        migrate.upgrade(db_url)
    assert "covered" not in _columns(db_url)
