"""A fresh book's job with the accounts owed written beside the book (arrears.debtors.jobs,
PostgreSQL): the same rows as the steps in turn, the fallbacks to the steps in turn, and a job that
dies at the dangerous points and runs again (nothing twice, nothing missing, no account owed
visible before its book account)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from arrears.db import get_engine, transaction
from arrears.debtors import book, bulk, hooks, jobs
from arrears.debtors.hooks import FreshBook
from tests.faces.age_analysis.conftest import member  # noqa: F401
from tests.faces.age_analysis.helpers import HEADER, import_file, write_book
from tests.fixtures import cheap_password_hashing  # noqa: F401

COUNT = 120
ROOT = Path(__file__).resolve().parents[2]  # the repository: a killed worker's working directory


class Died(Exception):
    """Stands for a worker killed at that line: its open transactions roll back."""


@pytest.fixture
def reserved(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FreshBook | None]]:
    """What each job's reservation gave (None: the book was not fresh)."""
    seen: list[FreshBook | None] = []
    reserve = bulk.reserve_fresh

    async def watched(*args: Any) -> FreshBook | None:
        seen.append(await reserve(*args))
        return seen[-1]

    monkeypatch.setattr(bulk, "reserve_fresh", watched)
    yield seen


def _rows(prefix: str) -> list[list[Any]]:
    # Every tenth account owes nothing (paid up from the start), one is in credit.
    rows: list[list[Any]] = [HEADER]
    for n in range(1, COUNT + 1):
        owed = 0 if n % 10 == 0 else -5 if n == 7 else n
        rows.append([f"{prefix}{n:04d}", f"Customer {n}", None, f"082{n:07d}", owed, 0, 0, 0, 0, owed])
    return rows


async def _upload(client: Any, world: Any, tmp_path: Path, name: str, prefix: str = "C") -> tuple[int, str]:
    org = await world.org(name)
    who = await member(client, world, org.id, "manager")
    upload = await import_file(client, who.headers, write_book(tmp_path / f"{name}.csv", _rows(prefix)))
    return org.id, upload


async def _state(org_id: int) -> dict[str, Any]:
    """The organisation's book and accounts owed, by account code (ids left out: they differ)."""
    async with transaction(readonly=True) as s:
        owed = (await s.execute(text(
            "SELECT d.account_code, c.customer_code, a.status, a.customer_id = d.customer_id "
            "FROM accounts a JOIN debtor_accounts d ON d.id = a.debtor_account_id "
            "JOIN customers c ON c.id = d.customer_id WHERE a.org_id = :org ORDER BY d.account_code"),
            {"org": org_id})).all()
        counts = (await s.execute(text(
            "SELECT (SELECT count(*) FROM customers WHERE org_id = :org),"
            " (SELECT count(*) FROM debtor_accounts WHERE org_id = :org),"
            " (SELECT count(*) FROM accounts WHERE org_id = :org),"
            " (SELECT count(*) FROM account_status_changes WHERE org_id = :org),"
            " (SELECT count(*) FROM domain_events WHERE org_id = :org AND type = 'account.status_changed'),"
            " (SELECT count(DISTINCT debtor_account_id) FROM accounts WHERE org_id = :org),"
            " (SELECT count(*) FROM domain_events WHERE org_id = :org AND type = 'customer.bulk_created'),"
            " (SELECT sum(CAST(data ->> 'records_created' AS integer)) FROM domain_events"
            "  WHERE org_id = :org AND type = 'customer.bulk_created')"),
            {"org": org_id})).one()
        history = (await s.execute(text(
            "SELECT d.account_code, h.from_status, h.to_status, h.reason FROM account_status_changes h "
            "JOIN accounts a ON a.id = h.account_id JOIN debtor_accounts d ON d.id = a.debtor_account_id "
            "WHERE h.org_id = :org ORDER BY d.account_code"), {"org": org_id})).all()
        figures = await book.figures(s, org_id)
    return {"owed": [tuple(r) for r in owed], "history": [tuple(r) for r in history],
            "counts": dict(zip(("customers", "book", "owed", "history", "events", "distinct", "created_events",
                                "created"), counts, strict=True)),
            "figures": figures}


def _expected(prefix: str = "C") -> dict[str, Any]:
    codes = [f"{prefix}{n:04d}" for n in range(1, COUNT + 1)]
    paid = {f"{prefix}{n:04d}" for n in range(1, COUNT + 1) if n % 10 == 0 or n == 7}
    return {"owed": [(c, c, "paid_up" if c in paid else "active", True) for c in codes],
            "history": [(c, "active", "paid_up", "The balance is nothing or less.") for c in sorted(paid)],
            "counts": {"customers": COUNT, "book": COUNT, "owed": COUNT, "history": len(paid), "events": len(paid),
                       "distinct": COUNT, "created_events": 1, "created": COUNT}}


def _same(state: dict[str, Any], prefix: str = "C") -> None:
    expected = _expected(prefix)
    assert state["counts"] == expected["counts"]
    assert state["owed"] == expected["owed"]
    assert state["history"] == expected["history"]


async def test_a_fresh_book_gets_its_accounts_owed_beside_the_book(client, world, tmp_path, db_url, reserved):
    """Both databases: the same book, accounts owed, history and events as the steps in turn; on
    PostgreSQL the ids were reserved and kept, each customer and book account numbered from its
    snapshot; a second run changes nothing."""
    org_id, upload = await _upload(client, world, tmp_path, "Beside")
    state = await _state(org_id)
    _same(state)
    if db_url.startswith("postgresql"):
        [fresh] = reserved
        assert fresh is not None and fresh.kept
        async with transaction(readonly=True) as s:
            offsets = (await s.execute(text(
                "SELECT count(*) FROM debtor_snapshots s JOIN debtor_accounts d ON d.account_code = s.account_code "
                "AND d.org_id = s.org_id JOIN customers c ON c.id = d.customer_id WHERE s.report_id = :rid "
                "AND d.id - :af = s.id - :sf AND c.id - :cf = s.id - :sf"),
                {"rid": fresh.report_id, "af": fresh.account_first, "cf": fresh.customer_first,
                 "sf": fresh.snapshot_first})).scalar_one()
        assert offsets == COUNT
        assert await _analyzed("accounts") == COUNT  # in the hooks' transaction, its rows counted
        # The book's three tables too, each in the transaction that wrote it (nothing after the
        # commits), the book accounts and customers on the columns their readers need.
        for table in ("debtor_accounts", "customers", "debtor_snapshot_ranks"):
            assert await _analyzed(table) == COUNT, table
        for table, columns in bulk.ANALYZED_COLUMNS.items():
            assert set(columns) <= await _columns_with_statistics(table), table
        # On the smaller sample's target: 120 distinct codes make a histogram of 31 bounds (101 at
        # the server's default target of 100).
        async with get_engine().connect() as conn:
            bounds = await conn.scalar(text(
                "SELECT cardinality(CAST(CAST(histogram_bounds AS text) AS text[])) FROM pg_stats "
                "WHERE tablename = 'debtor_accounts' AND attname = 'account_code'"))
        assert bounds == 31
    else:
        assert reserved == []

    # The steps in turn, on another organisation: the same rows.
    hooks_fresh = hooks._fresh.copy()
    hooks._fresh.clear()
    try:
        other, _ = await _upload(client, world, tmp_path, "In turn")
    finally:
        hooks._fresh.update(hooks_fresh)
    serial = await _state(other)
    assert (serial["owed"], serial["history"], serial["counts"], serial["figures"]) == (
        state["owed"], state["history"], state["counts"], state["figures"])

    await jobs.book_job(upload)  # a retried job: the book is not fresh any more
    if db_url.startswith("postgresql"):
        assert reserved[-1] is None
    again = await _state(org_id)
    assert again == state


async def test_a_second_month_is_not_fresh(client, world, tmp_path, db_url, reserved):
    """Both databases (SQLite never reserves: the steps in turn): a second month is not fresh."""
    org_id, _ = await _upload(client, world, tmp_path, "Second")
    who = await member(client, world, org_id, "admin")
    await import_file(client, who.headers, write_book(tmp_path / "second.csv", _rows("C")))
    if db_url.startswith("postgresql"):
        assert reserved[0] is not None and reserved[1] is None
    else:
        assert reserved == []
    _same(await _state(org_id))


@pytest.fixture
async def sequences(db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[tuple[AsyncEngine, str]]:
    """A PostgreSQL engine and a table with an id sequence, for the blocks' mechanics: the suite's
    own database and `customers` on PostgreSQL; on the SQLite run the PostgreSQL server (`pg_url`:
    skipped only where none is reachable) and a table in a schema of the test's own."""
    if db_url.startswith("postgresql"):
        yield get_engine(), "customers"
        return
    from arrears.config import to_async_url

    engine = create_async_engine(to_async_url(request.getfixturevalue("pg_url")))
    schema = f"fresh_{uuid.uuid4().hex[:12]}"
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
        await conn.execute(text(f"CREATE TABLE {schema}.customers (id serial PRIMARY KEY)"))
    try:
        yield engine, f"{schema}.customers"
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await engine.dispose()


async def test_ids_not_contiguous_fall_back_to_the_steps_in_turn(client, world, tmp_path, db_url, sequences,
                                                                 reserved):
    """A block of a sequence with another writer's ids inside it (here a sequence counting by two)
    is not used: no block; on PostgreSQL the book is then written the usual way."""
    engine, table = sequences
    async with engine.begin() as conn:
        sequence = await conn.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table})
        await conn.execute(text(f"ALTER SEQUENCE {sequence} INCREMENT BY 2"))
    try:
        assert await bulk._reserve(table, 10, engine) is None
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"ALTER SEQUENCE {sequence} INCREMENT BY 1"))
    assert await bulk._reserve(table, 10, engine) is not None
    if not db_url.startswith("postgresql"):
        return
    # The whole job: the customers' block taken, the book accounts' not (counting by two).
    async with engine.begin() as conn:
        await conn.execute(text("ALTER SEQUENCE debtor_accounts_id_seq INCREMENT BY 2"))
    try:
        org_id, _ = await _upload(client, world, tmp_path, "Gaps")
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER SEQUENCE debtor_accounts_id_seq INCREMENT BY 1"))
    assert reserved == [None]
    _same(await _state(org_id))


async def test_a_block_is_skipped_by_every_other_writer_and_a_busy_sequence_gives_none(env, sequences):
    """The block reserved is never handed out again; a sequence that a still open transaction has
    taken a value of cannot be locked within a tenth of a second: no block (the job then writes the
    book in turn), and nothing waits long."""
    import time

    engine, table = sequences
    first = await bulk._reserve(table, 1000, engine)
    assert first is not None
    async with engine.connect() as conn:
        after = await conn.scalar(text("SELECT nextval(pg_get_serial_sequence(:t, 'id'))"), {"t": table})
        assert after == first + 1000
        # This transaction stays open, holding what nextval locks until its end.
        started = time.perf_counter()
        assert await bulk._reserve(table, 1000, engine) is None
        assert time.perf_counter() - started < 2
        await conn.rollback()
    assert await bulk._reserve(table, 10, engine) is not None


async def test_a_customer_code_taken_falls_back_and_discards_what_was_prepared(client, world, tmp_path, db_url,
                                                                               reserved):
    """Two account codes alike in their first 50 characters make one customer: the numbered insert
    fails, the book is written the usual way, and the accounts owed prepared beside are rolled back
    and made after the book, as in turn (SQLite: in turn from the start, the same rows)."""
    org = await world.org("Alike")
    who = await member(client, world, org.id, "manager")
    stem = "L" * 50
    rows = [HEADER, [f"{stem}-1", "One", None, "0820000001", 5, 0, 0, 0, 0, 5],
            [f"{stem}-2", "Two", None, "0820000002", 0, 0, 0, 0, 0, 0], ["SHORT", "Three", None, None, 3, 0, 0, 0, 0, 3]]
    await import_file(client, who.headers, write_book(tmp_path / "alike.csv", rows))
    postgres = db_url.startswith("postgresql")
    if postgres:
        [fresh] = reserved
        assert fresh is not None and not fresh.kept
    else:
        assert reserved == []
    state = await _state(org.id)
    assert state["counts"] == {"customers": 2, "book": 3, "owed": 3, "history": 1, "events": 1, "distinct": 3,
                               "created_events": 1, "created": 2}
    assert [r[2] for r in state["owed"]] == ["active", "paid_up", "active"]
    if postgres:
        assert await _analyzed("accounts") == 3


async def _run_again_in_turn(report_id: int, org_id: int, postgres: bool, reserved: list[Any]) -> None:
    """The job's next attempt after a death past a commit: the book is no longer fresh (PostgreSQL:
    the first attempt reserved ids and kept them, the second reserves none), so the steps run in
    turn, and the book is whole, once."""
    await jobs.book_job(report_id)
    if postgres:
        assert reserved[0] is not None and reserved[0].kept and reserved[-1] is None
    else:
        assert reserved == []
    _same(await _state(org_id))


async def _analyzed(table: str) -> float:
    """A table's row count as its last ANALYZE found it (PostgreSQL)."""
    async with get_engine().connect() as conn:
        return float(await conn.scalar(text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}))


async def _columns_with_statistics(table: str) -> set[str]:
    async with get_engine().connect() as conn:
        return set((await conn.scalars(text("SELECT attname FROM pg_stats WHERE tablename = :t"), {"t": table})).all())


def _die(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, *, check: Any = None) -> list[Any]:
    """`target.name` raises Died (after `check`, if given, looked at what others see)."""
    calls: list[Any] = []

    async def dying(*args: Any, **kw: Any) -> Any:
        calls.append(await check() if check is not None else True)
        raise Died(name)

    monkeypatch.setattr(target, name, dying)
    return calls


async def _seen(org_id: int) -> tuple[int, int, int]:
    """What another connection sees now: customers, book accounts, accounts owed."""
    async with get_engine().connect() as conn:
        row = (await conn.execute(text(
            "SELECT (SELECT count(*) FROM customers WHERE org_id = :org),"
            " (SELECT count(*) FROM debtor_accounts WHERE org_id = :org),"
            " (SELECT count(*) FROM accounts WHERE org_id = :org)"), {"org": org_id})).one()
    return tuple(row)


async def _imported(client: Any, world: Any, tmp_path: Path, name: str) -> tuple[int, int]:
    """An imported report whose book job has not run (the test runs its attempts)."""
    with pytest.MonkeyPatch.context() as m:
        async def later(*args: Any, **kw: Any) -> None:
            return None

        m.setattr(jobs, "book_job", later)
        org_id, upload = await _upload(client, world, tmp_path, name)
    async with transaction(readonly=True) as s:
        report_id = int(await s.scalar(text("SELECT id FROM debtor_reports WHERE uuid = :u"), {"u": upload}))
    assert await _seen(org_id) == (0, 0, 0)
    return org_id, report_id


async def test_dying_between_the_two_commits(client, world, tmp_path, db_url, reserved, monkeypatch):
    """Killed once the book has committed, before the hooks' transaction did: others see the book
    and no account owed (never one without its book account); the next attempt finds the book not
    fresh and makes the accounts owed in turn, once each. SQLite: the steps in turn, the same."""
    org_id, report_id = await _imported(client, world, tmp_path, "Dies between")

    async def look() -> tuple[int, int, int]:
        return await _seen(org_id)

    postgres = db_url.startswith("postgresql")
    with monkeypatch.context() as m:
        # The fresh path calls the hooks through their module; the steps in turn (SQLite) by name,
        # in a transaction that holds SQLite's one write lock (another connection cannot look then).
        calls = _die(m, hooks if postgres else jobs, "book_updated", check=look if postgres else None)
        with pytest.raises(Died):
            await jobs.book_job(report_id)
    assert calls == [(COUNT, COUNT, 0) if postgres else True]
    assert await _seen(org_id) == (COUNT, COUNT, 0)
    await _run_again_in_turn(report_id, org_id, postgres, reserved)


async def test_dying_while_the_book_is_written(client, world, tmp_path, db_url, reserved, monkeypatch):
    """Killed in the book's transaction, the accounts owed already inserted beside it: neither
    commits; the next attempt is a fresh book again, written beside, once. SQLite: in turn, the same."""
    org_id, report_id = await _imported(client, world, tmp_path, "Dies in book")
    with monkeypatch.context() as m:
        _die(m, book, "reconcile")
        with pytest.raises(Died):
            await jobs.book_job(report_id)
    assert await _seen(org_id) == (0, 0, 0)
    await jobs.book_job(report_id)
    if db_url.startswith("postgresql"):
        assert len(reserved) == 2 and all(f is not None and f.kept for f in reserved)
    else:
        assert reserved == []
    _same(await _state(org_id))


async def test_dying_while_the_accounts_owed_are_prepared(client, world, tmp_path, db_url, reserved):
    """Killed in the hooks' preparation (SQLite: in the accounts' hook, after the book's commit):
    the book commits without them (others see what they see between the commits); the next attempt
    makes them in turn, once."""
    from arrears.accounts import service as accounts

    org_id, report_id = await _imported(client, world, tmp_path, "Dies preparing")
    postgres = db_url.startswith("postgresql")

    async def dying(*args: Any) -> Any:
        raise Died("prepare")

    prepare = hooks._fresh[accounts.on_book_updated]
    at = hooks._after_book.index(accounts.on_book_updated)
    if postgres:
        hooks._fresh[accounts.on_book_updated] = dying
    else:
        hooks._after_book[at] = dying
    try:
        with pytest.raises(Died):
            await jobs.book_job(report_id)
    finally:
        hooks._fresh[accounts.on_book_updated] = prepare
        hooks._after_book[at] = accounts.on_book_updated
    assert await _seen(org_id) == (COUNT, COUNT, 0)
    await jobs.book_job(report_id)
    assert reserved[-1] is None if postgres else reserved == []
    _same(await _state(org_id))


def _customers_step(postgres: bool) -> tuple[Any, str]:
    """Where a fresh book's customers are written: their own transaction beside the book accounts'
    (PostgreSQL), or the book's one transaction (SQLite)."""
    from arrears.debtors import imports

    return (imports, "_customers_apart") if postgres else (bulk, "_insert_customers")


async def test_dying_between_the_customers_and_the_books_commit(client, world, tmp_path, db_url, reserved,
                                                                 monkeypatch):
    """Killed once the customers' transaction has committed, before the book's did (PostgreSQL:
    the customers commit first, just before the book): others see the customers and no book
    account nor account owed; the next attempt finds the book not fresh and writes the book
    accounts and accounts owed in turn for those customers, once each, and the customers' event
    stays the one committed with them. SQLite: the customers are in the book's one transaction:
    dying after their insert leaves nothing, and the next attempt writes it all."""
    org_id, report_id = await _imported(client, world, tmp_path, "Dies after customers")
    postgres = db_url.startswith("postgresql")
    target, name = _customers_step(postgres)
    original = getattr(target, name)
    seen: list[tuple[int, int, int]] = []

    async def then_dies(*args: Any, **kw: Any) -> Any:
        await original(*args, **kw)
        if postgres:  # SQLite: the book's transaction holds the one write lock; nobody can look
            seen.append(await _seen(org_id))
        raise Died(name)

    with monkeypatch.context() as m:
        m.setattr(target, name, then_dies)
        with pytest.raises(Died):
            await jobs.book_job(report_id)
    assert seen == ([(COUNT, 0, 0)] if postgres else [])
    assert await _seen(org_id) == ((COUNT, 0, 0) if postgres else (0, 0, 0))
    await _run_again_in_turn(report_id, org_id, postgres, reserved)


async def test_dying_while_the_customers_are_inserted(client, world, tmp_path, db_url, reserved, monkeypatch):
    """Killed in the customers' insert (PostgreSQL: on its own connection, the book accounts and
    the accounts owed inserted beside it): none of the three transactions commits; the next attempt
    is a fresh book again, written beside, once. SQLite: in the book's transaction, the same."""
    org_id, report_id = await _imported(client, world, tmp_path, "Dies in customers")
    postgres = db_url.startswith("postgresql")
    with monkeypatch.context() as m:
        _die(m, bulk, "insert_fresh_customers" if postgres else "_insert_customers")
        with pytest.raises(Died):
            await jobs.book_job(report_id)
    assert await _seen(org_id) == (0, 0, 0)
    await jobs.book_job(report_id)
    if postgres:
        assert len(reserved) == 2 and all(f is not None and f.kept for f in reserved)
    else:
        assert reserved == []
    _same(await _state(org_id))


# A worker process that runs the book's job and stops for good at one line (printing WHERE first).
_CHILD = """
import asyncio, sys
from arrears.wiring import wire

async def main(report_id, target, name, after):
    from arrears.debtors import book, bulk, hooks, imports, jobs
    module = {"hooks": hooks, "book": book, "jobs": jobs, "imports": imports, "bulk": bulk}[target]
    original = getattr(module, name)
    async def stop(*args, **kw):
        if after:  # stops once the line has run
            await original(*args, **kw)
        print("STOPPED", flush=True)
        await asyncio.sleep(3600)
    setattr(module, name, stop)
    await jobs.book_job(report_id)

wire()
asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "after"))
"""


async def _killed_at(report_id: int, target: str, name: str, *, after: bool = False) -> None:
    """Run the book's job in a child process, SIGKILL it once it reaches `target.name` (`after`:
    once that has run)."""
    import asyncio
    import os
    import sys

    root = ROOT
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", _CHILD, str(report_id), target, name,
                                                 "after" if after else "at",
                                                 stdout=asyncio.subprocess.PIPE, cwd=root,
                                                 env=os.environ | {"PYTHONPATH": str(root)})
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 120)
        assert line.strip() == b"STOPPED", line
    finally:
        child.kill()
        await child.wait()


async def test_killed_between_the_two_commits_and_run_again(client, world, tmp_path, db_url, reserved):
    """A worker process killed (SIGKILL) after the book's commit, the hooks' transaction open: the
    book stays, no account owed; the job run again makes them in turn, once each."""
    org_id, report_id = await _imported(client, world, tmp_path, "Killed between")
    await _killed_at(report_id, "hooks" if db_url.startswith("postgresql") else "jobs", "book_updated")
    assert await _seen(org_id) == (COUNT, COUNT, 0)
    await jobs.book_job(report_id)
    # This process's attempt: the book was not fresh any more (SQLite: never reserves).
    assert reserved == ([None] if db_url.startswith("postgresql") else [])
    _same(await _state(org_id))


async def test_killed_while_the_book_is_written_and_run_again(client, world, tmp_path, db_url, reserved):
    """Killed in the book's transaction, the accounts owed inserted beside it: nothing of either
    stays; the job run again writes the fresh book beside, once."""
    org_id, report_id = await _imported(client, world, tmp_path, "Killed in book")
    await _killed_at(report_id, "book", "reconcile")
    assert await _seen(org_id) == (0, 0, 0)
    await jobs.book_job(report_id)
    if db_url.startswith("postgresql"):
        assert len(reserved) == 1 and reserved[0] is not None and reserved[0].kept
    else:
        assert reserved == []
    _same(await _state(org_id))


async def test_killed_between_the_customers_and_the_books_commit_and_run_again(client, world, tmp_path, db_url,
                                                                               reserved):
    """A worker process killed (SIGKILL) once the customers' transaction has committed, the book's
    still open (PostgreSQL): the customers stay, nothing else; the job run again writes the book
    accounts and the accounts owed in turn, once each. SQLite (killed after the customers' insert,
    in the book's one transaction): nothing stays, and the job run again writes it all."""
    org_id, report_id = await _imported(client, world, tmp_path, "Killed after customers")
    postgres = db_url.startswith("postgresql")
    target, name = _customers_step(postgres)
    await _killed_at(report_id, target.__name__.rsplit(".", 1)[-1], name, after=True)
    assert await _seen(org_id) == ((COUNT, 0, 0) if postgres else (0, 0, 0))
    await jobs.book_job(report_id)
    assert reserved == ([None] if postgres else [])
    _same(await _state(org_id))
