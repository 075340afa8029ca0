"""What `pool_pre_ping` costs: one checkout plus the query a hot endpoint runs, with and without
the ping, interleaved rounds on a PostgreSQL cluster of our own (loopback).

    uv run --frozen python bench/bench_pre_ping.py --requests 2000 --rounds 5

The ping is one round trip per checkout: it lets the pool drop a connection that PostgreSQL closed
(a restart, a failover, an idle timeout) instead of failing the request that drew it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from tests.resilience.services import PgCluster  # noqa: E402

QUERY = text("SELECT id, key_id, scopes FROM (VALUES (1, 'pct_x', '*')) AS k(id, key_id, scopes) "
             "WHERE id = :id")  # the shape of an API-key lookup, the first query of every request


async def round_(url: str, pre_ping: bool, requests: int) -> float:
    engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=pre_ping)
    try:
        async with engine.connect() as conn:  # warm the pool
            await conn.execute(QUERY, {"id": 1})
        started = time.perf_counter()
        for _ in range(requests):
            async with engine.connect() as conn:
                (await conn.execute(QUERY, {"id": 1})).all()
        return (time.perf_counter() - started) / requests * 1e6
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    with PgCluster() as pg:
        url = pg.url.replace("postgresql://", "postgresql+asyncpg://")
        on, off = [], []
        for _ in range(args.rounds):
            off.append(await round_(url, False, args.requests))
            on.append(await round_(url, True, args.requests))
        m_on, m_off = statistics.median(on), statistics.median(off)
        print(f"checkout + one query, median of {args.rounds} rounds of {args.requests}:")
        print(f"  without pre_ping: {m_off:.0f} µs   with pre_ping: {m_on:.0f} µs   "
              f"cost of the ping: {m_on - m_off:.0f} µs per request ({m_on / m_off:.2f}x)")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(p.parse_args()))
