"""Every entry point wires the same handlers, whatever it happens to import (issue 18, point 1).

Each test starts from nothing wired (`unwire()`), runs one entry point — the server (the ASGI app
with its lifespan), the worker, the CLI import and the CLI debit-order run (both in a fresh
interpreter, as a person runs them) — and checks that it registered the same handlers as
`wire()` and that the partner webhook fan-out wrote its delivery row in the event's transaction.
Run on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (where the CLI import used to record
`upload.completed` without any delivery)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from arrears import wiring
from arrears.db import transaction, utcnow
from arrears.identity.caller import Caller
from arrears.jobs.models import Job
from arrears.partners.models import ApiClient, WebhookDelivery, WebhookSubscription
from tests.premiums.debit_orders.helpers import captive, policy

ROOT = Path(__file__).resolve().parents[2]

# Runs a command of the installed CLI in this interpreter, then prints what it wired.
CLI_SCRIPT = """
import json, sys
from arrears.cli.main import app
try:
    app(sys.argv[1:], prog_name="arrears")
except SystemExit as exc:
    if exc.code:
        raise
from arrears import wiring
print("WIRED " + json.dumps(wiring.registered()))
"""


def expected() -> dict[str, list[str]]:
    wiring.wire()
    return wiring.registered()


async def subscribe(org_id: int, *events: str) -> None:
    """An active partner client of the organisation with a webhook for the events given."""
    from arrears.identity import crypto

    async with transaction() as s:
        client = ApiClient(org_id=org_id, name="Wired partner", contact_email="tech@example.com",
                           status="ACTIVE", scopes=["webhooks:write"])
        s.add(client)
        await s.flush()
        s.add(WebhookSubscription(org_id=org_id, client_id=client.id, url="https://example.com/hook",
                                  secret_enc=crypto.encrypt("whsec_test"), events=list(events),
                                  status="ACTIVE"))


async def deliveries(org_id: int) -> list[str]:
    async with transaction(readonly=True) as s:
        return sorted(await s.scalars(select(WebhookDelivery.event_type)
                                      .where(WebhookDelivery.org_id == org_id)))


def run_cli(*args: str) -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", CLI_SCRIPT, *args], capture_output=True, text=True,
                         env=os.environ.copy(), cwd=ROOT, timeout=240, check=False)
    assert out.returncode == 0, out.stderr
    [line] = [x for x in out.stdout.splitlines() if x.startswith("WIRED ")]
    return json.loads(line[len("WIRED "):])


async def test_wire_is_idempotent_and_unwire_forgets(env):
    first = expected()
    wiring.wire()
    assert wiring.registered() == first
    assert first["in_transaction"] == ["arrears.accounts.service.on_event", "arrears.tasks.service.on_event",
                                       "arrears.partners.fanout.on_event"]
    assert first["after_book"] == ["arrears.accounts.service.on_book_updated",
                                   "arrears.promises.evaluate.on_book_updated",
                                   "arrears.strategies.jobs.on_book_updated"]
    assert first["account_resolvers"] == ["arrears.accounts.service.interaction_refs"]
    assert first["after_payments"] == ["arrears.promises.evaluate.on_payments_changed"]
    assert first["promise_recorders"] == ["arrears.promises.service.record_for_interactions"]
    assert first["after_commit"] == ["arrears.realtime.hub.publish_event"]
    assert {"arrears.debtors.timeline.balance_entries", "arrears.premiums.timeline.policy_entries"
            } <= set(first["timeline"])
    wiring.unwire()
    assert wiring.registered()["in_transaction"] == [] and wiring.registered()["after_commit"] == []
    assert wiring.registered()["after_book"] == [] and wiring.registered()["account_resolvers"] == []
    assert wiring.registered()["after_payments"] == [] and wiring.registered()["promise_recorders"] == []
    wiring.wire()
    assert wiring.registered() == first


async def test_the_server_wires_at_start(env, world):
    want = expected()
    org = await world.org("Server Captive", kind="cell_captive")
    _, raw = await world.api_key(org.id, ["*"])
    await subscribe(org.id, "policy.created")
    wiring.unwire()
    from arrears.app import create_app

    app = create_app()
    async with app.router.lifespan_context(app):
        assert wiring.registered() == want
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            r = await http.post("/api/webhooks/policies/update", headers={"Authorization": f"Bearer {raw}"},
                                json={"policy_number": "POL_1", "client_name": "John Doe",
                                      "premium_amount": 150.0, "frequency": "monthly", "status": "active",
                                      "mandate_reference": "MAN_1", "bank_account_number": "1234567890",
                                      "bank_branch_code": "123456", "next_collection_date": "2024-02-01"})
            assert r.status_code == 200, r.text
    assert await deliveries(org.id) == ["policy.created"]


async def test_the_worker_wires_at_start(env, world):
    from arrears.premiums.debit_orders.jobs import DAILY, schedule_daily
    from arrears.worker import Worker

    want = expected()
    today = utcnow().date()
    org = await captive(world, lead_days=2, schedule_enabled=True)
    await subscribe(org.id, "policy.updated")
    wiring.unwire()  # what the policy below records goes nowhere: nothing is wired yet
    await policy(org.id, "P1", due=(today + timedelta(days=2)).isoformat())
    async with transaction() as s:
        await schedule_daily(s, Caller.system(org.id), today)
    async with transaction() as s:
        await s.execute(update(Job).where(Job.kind == DAILY).values(run_at=utcnow()))
    assert await deliveries(org.id) == []
    await Worker(kinds={DAILY}, concurrency=1).run(until_idle=True)
    assert wiring.registered() == want
    # The daily run collected the policy and moved its next date: `policy.updated`.
    assert await deliveries(org.id) == ["policy.updated"]


@pytest.mark.slow
async def test_the_cli_import_wires_at_start(env, world, tmp_path):
    want = expected()
    org = await world.org("Import Org")
    await subscribe(org.id, "upload.completed")
    book = tmp_path / "book.csv"
    book.write_text("Account,Name,Telephone,Current,30 Days,60 Days,90 Days,120 Days,Total Balance\n"
                    "A1,Alpha Ltd,0821234567,100,50,0,0,0,150\nA2,Beta CC,0831234567,0,0,200,0,0,200\n")
    wired = await asyncio.to_thread(run_cli, "import", str(book), "--org", str(org.id), "--json")
    assert wired == want
    assert await deliveries(org.id) == ["upload.completed"]


@pytest.mark.slow
async def test_the_cli_debit_order_run_wires_at_start(env, world):
    want = expected()
    org = await captive(world)
    await subscribe(org.id, "policy.updated")
    wiring.unwire()
    await policy(org.id, "P1", due="2024-01-31")
    assert await deliveries(org.id) == []
    wired = await asyncio.to_thread(run_cli, "debit-orders", "run", "--org", str(org.id),
                                    "--date", "2024-01-31", "--json")
    assert wired == want
    assert await deliveries(org.id) == ["policy.updated"]


def test_the_first_wiring_freezes_the_start_up_once_and_garbage_made_later_is_still_collected() -> None:
    """`wire()` freezes the start-up's objects (gc.freeze) at its first call in a process, after
    configuring the mappers; later calls freeze nothing more, and a cycle made afterwards is
    collected as before. In a fresh interpreter, as a process starts."""
    script = """
import gc, json, weakref
from arrears.wiring import wire
before = gc.get_freeze_count()
wire()
first = gc.get_freeze_count()
from arrears.payments.models import Payment
configured = Payment.__mapper__.configured
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
del a, b
wire()
second = gc.get_freeze_count()
gc.collect()
print(json.dumps({"before": before, "first": first, "second": second, "configured": configured,
                  "collected": gone() is None}))
"""
    env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY") or "test-" + "s" * 40}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env,
                         check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["before"] == 0
    assert seen["first"] > 10_000  # the application's modules, classes, tables and mappers
    assert seen["second"] == seen["first"]  # the second wiring froze nothing more
    assert seen["configured"] is True
    assert seen["collected"] is True
