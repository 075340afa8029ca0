"""Benchmark (not a test): the UI's main pages against the API face that serves the same data.

    uv run --frozen python bench/bench_web_pages.py [--accounts 10000] [--requests 200] [--rounds 3]

What it does:
1. makes a scratch SQLite database in a temporary data directory (the embedded default), migrated
   with the real migrations; creates one organisation and one manager, and imports a CSV age
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
PASSWORD = "Bench-password-1"


def write_book(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Account", "Name", "Contact", "Telephone", "Current", "30 Days", "60 Days", "90 Days",
                    "120 Days", "Total Balance"])
        for i in range(count):
            w.writerow([f"ACC{i:06d}", f"Customer {i}", f"Contact {i % 97}", f"082{i % 10_000_000:07d}",
                        "100.00", "50.00", "25.00" if i % 3 else "0", "0", "10.00" if i % 5 == 0 else "0",
                        f"{175 + (10 if i % 5 == 0 else 0) - (0 if i % 3 else 25):.2f}"])


async def seed(accounts: int, data_dir: Path) -> tuple[int, str]:
    from arrears.db import transaction
    from arrears.debtors import service as debtors
    from arrears.debtors.storage import store_local_file
    from arrears.identity import service as identity
    from arrears.jobs.worker import run_until_idle

    async with transaction() as s:
        org = await identity.create_org(s, name="Bench Pharmacy", kind="pharmacy")
        user = await identity.create_user(s, username="bench", password=PASSWORD, role="manager", org_id=org.id)
        await identity.set_org_settings(s, org, {"contact_hours": "off"})
    book = data_dir / "book.csv"
    write_book(book, accounts)
    async with transaction() as s:
        caller = await identity.caller_for_user(s, user.id, org.id)
        stored = store_local_file(org.id, book)
        report = await debtors.create_report(s, caller, stored)
        report_id = str(getattr(report, "uuid", None) or report.id)
    started = time.perf_counter()
    await run_until_idle()
    print(f"imported {accounts:,} accounts in {time.perf_counter() - started:.1f} s")
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
            ("tick accounts (htmx)", ui_select, api_select),
        ]
        print(f"\n{args.rounds} rounds × {args.requests} requests per side, {args.accounts:,} accounts, SQLite\n")
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
                  f"{statistics.median(base):.1f} ms | {pct(base, .95):.1f} ms | **{ratio:.2f}** |")
    from arrears.db import dispose_engines

    await dispose_engines()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=200, help="requests per page per round")
    ap.add_argument("--rounds", type=int, default=3)
    arguments = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="arrears-bench-web-"))
    os.environ.update(ARREARS_DATA_DIR=str(scratch), SECRET_KEY="bench-secret-" + "w" * 40,
                      MESSAGING_SIMULATION="true", ARREARS_LOG_LEVEL="WARNING")
    for var in ("DATABASE_URL", "DB_HOST", "REDIS_URL"):
        os.environ.pop(var, None)
    from arrears import migrate
    from arrears.config import get_settings

    migrate.upgrade(get_settings().async_database_url)
    asyncio.run(main(arguments, scratch))
