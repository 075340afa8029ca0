"""Benchmark (not a test): the UI's main pages against the API face that serves the same data.

    uv run --frozen python bench/bench_web_pages.py [--accounts 10000] [--requests 200] [--rounds 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/arrears_webbench]

What it does:
1. makes a scratch SQLite database in a temporary data directory (the embedded default) — or,
   with `--database-url`, creates that PostgreSQL database (it must not exist yet) and drops it
   at the end — migrated with the real migrations; creates one organisation and one manager, and imports a CSV age
   analysis of `--accounts` accounts through the real import job;
2. signs in twice over HTTP against one `create_app()` (httpx ASGI transport, no network): once
   through the login form (a session cookie) and once through `POST /api/auth/token/` (a JWT);
3. requests each pair `--requests` times, alternating baseline and ours within each round (ABAB…)
   so that noise falls on both, and prints p50/p95 latency per page and the ratio of the medians:

   | UI page (ours)                         | baseline (AAMA face, JSON)                  |
   |----------------------------------------|---------------------------------------------|
   | GET /app/books/{id}/accounts (25 rows) | GET /api/uploads/{id}/accounts?per_page=25  |
   | GET /app/books/{id} (summary + chart)  | GET /api/uploads/{id}/summary               |
   | GET /app/ (home: book, messages, queue)| GET /api/uploads/{id}/summary               |
   | GET /app/books/{id}/accounts?search=…  | GET /api/uploads/{id}/accounts?search=…     |
   | GET /app/books/{id}/accounts?min_balance| GET /api/uploads/{id}/accounts?min_balance= |
   |   =…&overdue_only=1&sort=-overdue_amount|   …&overdue_only=true&sort=-overdue_amount  |
   |   (filtered and sorted)                 |                                             |
   | POST /app/books/{id}/selection (htmx,  | PUT /api/uploads/{id}/selection (one id)    |
   |   one box ticked; answers the totals)  |                                             |

   Both sides resolve their credential, run the same debtors service queries in one transaction,
   and serialise; the UI also reads its session cookie, loads the caller's organisations, and
   renders Jinja2 templates (and an SVG chart). Goal: each UI page within 2× its baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch_db import pg_admin  # noqa: E402

PASSWORD = "Bench-password-1"


def _cents(i: int, prime: int, top: int) -> int:
    return (i * prime) % top


def write_book(path: Path, count: int) -> None:
    """Amounts that vary from account to account (as real books do: equal amounts would make
    every sort a tie and hide how the database really orders and counts)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Account", "Name", "Contact", "Telephone", "Current", "30 Days", "60 Days", "90 Days",
                    "120 Days", "Total Balance"])
        for i in range(count):
            cents = [_cents(i, 7919, 100_000),
                     _cents(i, 104_729, 50_000) if i % 2 else 0,
                     _cents(i, 1_299_709, 30_000) if i % 3 else 0,
                     _cents(i, 15_485_863, 20_000) if i % 5 == 0 else 0,
                     _cents(i, 32_452_843, 90_000) if i % 7 == 0 else 0]
            w.writerow([f"ACC{i:06d}", f"Customer {i}", f"Contact {i % 97}", f"082{i % 10_000_000:07d}",
                        *(f"{c / 100:.2f}" for c in cents), f"{sum(cents) / 100:.2f}"])


async def seed(accounts: int, data_dir: Path) -> tuple[int, str]:
    from arrears.db import transaction
    from arrears.debtors import service as debtors
    from arrears.debtors.storage import store_local_file
    from arrears.identity import service as identity
    from arrears.identity.caller import Caller
    from arrears.worker import run_until_idle

    async with transaction() as s:
        org = await identity.create_org(s, Caller.operator(), name="Bench Pharmacy", kind="pharmacy")
        user = await identity.create_user(s, Caller.system(org.id), username="bench", password=PASSWORD,
                                          role="manager")
        await identity.set_org_settings(s, Caller.system(org.id), org, {"contact_hours": "off"})
    book = data_dir / "book.csv"
    write_book(book, accounts)
    async with transaction() as s:
        caller = await identity.caller_for_user(s, user.id, org.id)
        stored = store_local_file(org.id, book)
        report = await debtors.create_report(s, caller, stored)
        report_id = str(getattr(report, "uuid", None) or report.id)
    started = time.perf_counter()
    await run_until_idle()
    print(f"imported {accounts:,} accounts in {time.perf_counter() - started:.1f} s", flush=True)
    # No manual VACUUM or ANALYZE here: the book's jobs run ANALYZE on the tables they loaded
    # (arrears/debtors/jobs.py), so the pages are measured as the product leaves the database.
    return org.id, report_id


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]


async def main(args: argparse.Namespace, data_dir: Path) -> None:
    import httpx

    from arrears.app import create_app

    _, report_id = await seed(args.accounts, data_dir)
    app = create_app()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as ui, \
            httpx.AsyncClient(transport=transport, base_url="http://bench") as api:
        page = await ui.get("/app/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = await ui.post("/app/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 303, r.text
        page = await ui.get("/app/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        jwt = (await api.post("/api/auth/token/", json={"username": "bench", "password": PASSWORD})).json()["access"]
        api.headers["Authorization"] = f"Bearer {jwt}"
        accounts = (await api.get(f"/api/uploads/{report_id}/accounts?per_page=25")).json()["accounts"]
        ids = [a["id"] for a in accounts]

        async def ui_select() -> httpx.Response:
            # What the browser sends when one box is ticked: the page's form and the box's id.
            return await ui.post(f"/app/books/{report_id}/selection",
                                 data={"ids": ids, "selected": ids[:10], "one": ids[0]},
                                 headers={"HX-Request": "true", "X-CSRF-Token": token})

        async def api_select() -> httpx.Response:
            return await api.put(f"/api/uploads/{report_id}/selection",
                                 json={"account_ids": ids[:1], "is_selected": True})

        def get(client: httpx.AsyncClient, url: str) -> Any:
            return lambda: client.get(url)

        pairs = [
            ("accounts page (25 rows)", get(ui, f"/app/books/{report_id}/accounts"),
             get(api, f"/api/uploads/{report_id}/accounts?per_page=25")),
            ("upload summary + chart", get(ui, f"/app/books/{report_id}"),
             get(api, f"/api/uploads/{report_id}/summary")),
            ("home (book, messages, queue)", get(ui, "/app/"), get(api, f"/api/uploads/{report_id}/summary")),
            ("accounts search", get(ui, f"/app/books/{report_id}/accounts?search=customer%2099"),
             get(api, f"/api/uploads/{report_id}/accounts?per_page=25&search=customer%2099")),
            ("accounts filtered + sorted",
             get(ui, f"/app/books/{report_id}/accounts?min_balance=150&overdue_only=1&sort=-overdue_amount"),
             get(api, f"/api/uploads/{report_id}/accounts?per_page=25&min_balance=150&overdue_only=true"
                      "&sort=-overdue_amount")),
            ("tick accounts (htmx)", ui_select, api_select),
        ]
        engine = "PostgreSQL" if args.database_url else "SQLite"
        print(f"\n{args.rounds} rounds × {args.requests} requests per side, {args.accounts:,} accounts, {engine}\n")
        print("| page | ours p50 | ours p95 | baseline p50 | baseline p95 | ours / baseline (goal ≤ 2.0) |")
        print("|---|---|---|---|---|---|")
        for name, ours_fn, base_fn in pairs:
            for fn in (ours_fn, base_fn):  # warm-up
                for _ in range(5):
                    r = await fn()
                    assert r.status_code == 200, (name, r.status_code, r.text[:300])
            ours: list[float] = []
            base: list[float] = []
            for _ in range(args.rounds):
                for _ in range(args.requests):
                    for fn, bucket in ((base_fn, base), (ours_fn, ours)):
                        t0 = time.perf_counter()
                        r = await fn()
                        bucket.append((time.perf_counter() - t0) * 1000)
                        assert r.status_code == 200
            ratio = statistics.median(ours) / statistics.median(base)
            print(f"| {name} | {statistics.median(ours):.1f} ms | {pct(ours, .95):.1f} ms | "
                  f"{statistics.median(base):.1f} ms | {pct(base, .95):.1f} ms | **{ratio:.2f}** |", flush=True)
    from arrears.db import dispose_engines

    await dispose_engines()


def _pg_name(url: str) -> str:
    from urllib.parse import urlsplit

    name = urlsplit(url).path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"--database-url needs a plain database name, not {name!r}")
    return name


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=200, help="requests per page per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--database-url", default=None,
                    help="a PostgreSQL database to create, use and drop (default: scratch SQLite)")
    ap.add_argument("--keep-database", action="store_true", help="do not drop it (to look at query plans)")
    arguments = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="arrears-bench-web-"))
    os.environ.update(ARREARS_DATA_DIR=str(scratch), SECRET_KEY="bench-secret-" + "w" * 40,
                      MESSAGING_SIMULATION="true", ARREARS_LOG_LEVEL="WARNING")
    for var in ("DATABASE_URL", "DB_HOST", "REDIS_URL"):
        os.environ.pop(var, None)
    db_name = None
    if arguments.database_url:
        db_name = _pg_name(arguments.database_url)
        pg_admin(arguments.database_url, f'CREATE DATABASE "{db_name}"')  # fails if it exists: never reuse
        os.environ["DATABASE_URL"] = arguments.database_url
    try:
        from arrears import migrate
        from arrears.config import get_settings

        migrate.upgrade(get_settings().async_database_url)
        asyncio.run(main(arguments, scratch))
    finally:
        if db_name and not arguments.keep_database:
            pg_admin(arguments.database_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
