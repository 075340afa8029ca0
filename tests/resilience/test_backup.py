"""`arrears backup PATH` and `arrears restore PATH` on the embedded SQLite database: an online
copy through SQLite's backup API, taken while another connection writes, and a restore that the
running database's connections see."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from tests.inprocess_cli import arrears as cli
from tests.resilience.fleet import SECRET

pytestmark = pytest.mark.timeout(300)


def arrears(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in-process (tests/inprocess_cli.py: the same entry point and a whole environment
    of its own, without a Python start-up per command)."""
    env = {"PATH": "/usr/bin:/bin", "ARREARS_DATA_DIR": str(data), "SECRET_KEY": SECRET,
           "HOME": str(data.parent), "COLUMNS": "300"}
    return cli(*args, env=env)


def orgs(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM organisations ORDER BY id")]


def test_backup_while_writing_then_restore(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = arrears(data, "orgs", "create", "--name", "Before Backup", "--json")
    assert r.returncode == 0, r.stderr
    live = data / "arrears.db"

    # A writer keeps committing while the backup runs: the copy is one consistent snapshot.
    stop = threading.Event()
    written: list[int] = []
    with sqlite3.connect(live) as conn:
        conn.execute("CREATE TABLE soak_ticks (n INTEGER)")

    def write() -> None:
        conn = sqlite3.connect(live, timeout=30)
        n = 0
        while not stop.is_set():
            n += 1
            with conn:
                conn.execute("INSERT INTO soak_ticks VALUES (?)", (n,))
            written.append(n)
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        backup = tmp_path / "backups" / "arrears-backup.db"
        r = arrears(data, "backup", str(backup))
    finally:
        stop.set()
        writer.join()
    assert r.returncode == 0, r.stderr
    assert "backed up to" in r.stderr and backup.exists()
    assert not backup.with_name(backup.name + ".partial").exists()
    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ticks = conn.execute("SELECT count(*), coalesce(max(n), 0) FROM soak_ticks").fetchone()
    assert ticks[0] == ticks[1] <= len(written)  # a prefix of the writes, no gap, nothing torn
    assert orgs(backup) == ["Before Backup"]

    # Changes after the backup; then the restore brings back the backed-up state.
    r = arrears(data, "orgs", "create", "--name", "After Backup", "--json")
    assert r.returncode == 0 and orgs(live) == ["Before Backup", "After Backup"]
    with sqlite3.connect(live) as held:  # a connection open across the restore sees it
        r = arrears(data, "restore", str(backup), "--yes")
        assert r.returncode == 0, r.stderr
        assert [x[0] for x in held.execute("SELECT name FROM organisations ORDER BY id")] == \
            ["Before Backup"]
    r = arrears(data, "orgs", "create", "--name", "After Restore", "--json")
    assert r.returncode == 0, r.stderr
    assert orgs(live) == ["Before Backup", "After Restore"]


def test_restore_refuses_what_is_not_an_arrears_backup(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert arrears(data, "orgs", "create", "--name", "Keep Me", "--json").returncode == 0
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    r = arrears(data, "restore", str(junk), "--yes")
    assert r.returncode == 1 and "not a readable SQLite database" in r.stderr
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    r = arrears(data, "restore", str(other), "--yes")
    assert r.returncode == 1 and "not an Arrears database" in r.stderr
    assert orgs(data / "arrears.db") == ["Keep Me"]
    r = arrears(data, "backup", str(data / "arrears.db"))
    assert r.returncode == 1 and "must not overwrite the live database" in r.stderr


def test_backup_on_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
           "SECRET_KEY": SECRET, "HOME": str(tmp_path), "COLUMNS": "300"}
    r = cli("backup", str(tmp_path / "x.db"), env=env)
    assert r.returncode == 1 and "pg_dump" in r.stderr
