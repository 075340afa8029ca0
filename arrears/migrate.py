"""Alembic, run from code: upgrade, and check that a database is at the newest schema."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from arrears.config import get_settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def load_all_models() -> None:
    """Import every `arrears.<domain>.models` so that Base.metadata knows every table."""
    import arrears

    importlib.import_module("arrears.events")
    for mod in pkgutil.walk_packages(arrears.__path__, "arrears."):
        if mod.name.endswith(".models"):
            importlib.import_module(mod.name)


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url or get_settings().async_database_url)
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(slug)s")
    return cfg


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    cfg = alembic_config(url)
    if cfg.get_main_option("sqlalchemy.url", "").startswith("sqlite"):
        path = cfg.get_main_option("sqlalchemy.url", "").split(":///", 1)[1]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(cfg, revision)


def downgrade(url: str | None, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)



def _current_heads(url: str) -> set[str]:
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda c: set(MigrationContext.configure(c).get_current_heads()))
        finally:
            await engine.dispose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(read())
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


def _as_tuple(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def is_current(url: str | None = None) -> bool:
    """True when every revision the code knows is applied. A branch that another one names in
    `depends_on` is applied without being a head in the database, so compare ancestries."""
    url = url or get_settings().async_database_url
    script = ScriptDirectory.from_config(alembic_config(url))
    applied: set[str] = set()
    stack = list(_current_heads(url))
    while stack:
        rev = stack.pop()
        if rev in applied:
            continue
        applied.add(rev)
        script_rev = script.get_revision(rev)
        if script_rev is None:
            continue
        stack.extend(_as_tuple(script_rev.down_revision) + _as_tuple(script_rev.dependencies))
    return all(r.revision in applied for r in script.walk_revisions())


