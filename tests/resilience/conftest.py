"""One PostgreSQL cluster and one Redis server of the module's own (stopped and started by the
tests), migrated once, with two `arrears serve --no-worker` servers and an `arrears worker`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.resilience.fleet import SECRET, Fleet
from tests.resilience.services import PgCluster, RedisServer, pg_bindir, redis_binary

RATE = 5  # the per-hour limit of the limited key
ADMIN, PASSWORD = "outage-admin", "Outage-pass-123!"


def require_binaries() -> None:
    missing = [n for n, found in (("redis-server", redis_binary()), ("initdb/pg_ctl", pg_bindir()))
               if not found]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} not installed, and CI needs these tests")
        pytest.skip(f"{', '.join(missing)} not installed: the outage tests start their own "
                    "PostgreSQL cluster and Redis server")


@dataclass
class Stack:
    pg: PgCluster
    redis: RedisServer
    fleet: Fleet
    org_id: int
    key: str  # pct_, every scope
    limited_key: str  # pct_, RATE requests per hour

    def jwt(self) -> str:
        """An organisation admin's access token (RepaySync login; the partner face admits it)."""
        import httpx

        r = httpx.post(self.fleet.base_url("s1") + "/api/auth/token/",
                       json={"username": ADMIN, "password": PASSWORD}, timeout=30)
        r.raise_for_status()
        return str(r.json()["access"])


async def _seed(url: str) -> tuple[int, str, str]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from arrears.config import to_async_url
    from arrears.db import transaction
    from arrears.identity import service
    from arrears.identity.caller import Caller

    engine = create_async_engine(to_async_url(url))
    try:
        async with transaction(engine=engine) as s:
            org = await service.create_org(s, Caller.operator(), name="Outage Captive", kind="cell_captive")
            _, key = await service.create_api_key(s, Caller.system(org.id), kind="pct", scopes=["*"])
            _, limited = await service.create_api_key(s, Caller.system(org.id), kind="pct", scopes=["*"],
                                                      rate_limit_override=RATE)
            await service.create_user(s, Caller.system(org.id), username=ADMIN, password=PASSWORD,
                                      role="admin")
            return org.id, key, limited
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_binaries()
    from arrears import config, migrate
    from arrears.config import to_async_url

    work: Path = tmp_path_factory.mktemp("outages")
    with PgCluster() as pg, RedisServer() as rs, pytest.MonkeyPatch.context() as mp:
        mp.setenv("SECRET_KEY", SECRET)
        mp.setenv("DATABASE_URL", pg.url)
        config.reset_settings()
        migrate.upgrade(to_async_url(pg.url))
        org_id, key, limited = asyncio.run(_seed(pg.url))
        config.reset_settings()
        fleet = Fleet(pg.url, rs.url, work, extra_env={"ARREARS_WEBHOOKS_ALLOW_PRIVATE": "true"})
        with fleet:
            for name in ("s1", "s2"):
                fleet.start_server(name, wait=False)
            fleet.start_worker("w1", lease_seconds=3)
            for name in ("s1", "s2"):
                fleet.wait_server(name)
            yield Stack(pg, rs, fleet, org_id, key, limited)
    config.reset_settings()
