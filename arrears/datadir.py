"""The data directory is private to the account that runs Arrears: the directory 0700, every file
in it 0600 (the SQLite database and its -wal/-shm, the generated secret, uploads), whatever the
shell's umask. `secure()` runs at every entry point's start (`wire()`): it sets the process umask
to 077, so that every file and folder made later (uploads, backups, the database's journal) is
private from its creation, and tightens what already exists."""

from __future__ import annotations

import os
from pathlib import Path

from arrears.config import Settings, get_settings

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
TOP_FILES = ("arrears.db", "arrears.db-wal", "arrears.db-shm", "arrears.db-journal", "secret.key")


def _tighten(path: Path, mode: int) -> None:
    try:
        if path.exists() and (path.stat().st_mode & 0o777) != mode:
            path.chmod(mode)
    except OSError:
        pass  # not ours (a read-only mount): the umask still guards what we create


def secure(settings: Settings | None = None) -> None:
    s = settings or get_settings()
    os.umask(PRIVATE_UMASK)
    data = s.data_dir
    try:
        data.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    except OSError:
        return
    _tighten(data, DIR_MODE)
    for name in TOP_FILES:
        _tighten(data / name, FILE_MODE)
    uploads = s.uploads_path
    if uploads.exists():
        _tighten(uploads, DIR_MODE)
        for root, dirs, files in os.walk(uploads):
            for d in dirs:
                _tighten(Path(root, d), DIR_MODE)
            for f in files:
                _tighten(Path(root, f), FILE_MODE)
