"""The daily scheduled run (a per-captive setting, run by the worker) and the CLI commands, run
in-process (as a process would, tests/inprocess_cli.py) against the test's database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, update

from arrears.db import transaction, utcnow
from arrears.identity.caller import Caller
from arrears.jobs.models import Job
from arrears.jobs.registry import JobContext
from arrears.premiums.acb import parse_file
from arrears.premiums.debit_orders.jobs import DAILY, RUN_HOUR, daily_key, daily_run, schedule_daily
from arrears.premiums.debit_orders.models import DebitOrderFile, DebitOrderRun
from arrears.premiums.debit_orders.settings import update_settings
from arrears.premiums.models import Collection
from arrears.worker import Worker
from tests.inprocess_cli import arrears_async
from tests.premiums.debit_orders.helpers import captive, count, policy, rows


async def test_the_daily_schedule_runs_with_the_lead_days_and_chains_itself(world):
    today = utcnow().date()
    org = await captive(world, lead_days=2)
    await policy(org.id, "P1", due=(today + timedelta(days=2)).isoformat())
    await policy(org.id, "P2", due=(today + timedelta(days=3)).isoformat())  # tomorrow's run
    async with transaction() as s:
        change = await update_settings(s, Caller.system(org.id), {"schedule_enabled": True})
        assert change.schedule_turned_on
        await schedule_daily(s, Caller.system(org.id), today)
    [job] = await rows(select(Job.run_at).where(Job.kind == DAILY))
    assert job.run_at >= datetime.combine(today, time(RUN_HOUR), tzinfo=UTC)
    async with transaction() as s:  # the clock reaches the run hour
        await s.execute(update(Job).where(Job.kind == DAILY).values(run_at=utcnow()))
    # The worker's own claim and run (only this kind: other domains' jobs are not this test's).
    worker = Worker(kinds={DAILY})
    while (claimed := await worker.claim()) is not None:
        await worker.run_one(claimed)
    [run] = await rows(select(DebitOrderRun.action_date, DebitOrderRun.status, DebitOrderRun.started_by))
    assert run == (today + timedelta(days=2), "submitted", "schedule")
    assert await count(Collection) == 1
    jobs = dict(await rows(select(Job.dedupe_key, Job.status).where(Job.kind == DAILY)))
    assert jobs == {daily_key(org.id, today): "done", daily_key(org.id, today + timedelta(days=1)): "queued"}
    # The job again (a worker that died after finishing): nothing twice.
    await daily_run(JobContext(0, DAILY, {"org_id": org.id, "date": today.isoformat()}, org.id, 2, 5))
    assert await count(Collection) == 1 and await count(DebitOrderFile) == 2
    # Turned off: tomorrow's job does nothing and queues nothing.
    async with transaction() as s:
        await update_settings(s, Caller.system(org.id), {"schedule_enabled": False})
    tomorrow = today + timedelta(days=1)
    await daily_run(JobContext(0, DAILY, {"org_id": org.id, "date": tomorrow.isoformat()}, org.id, 1, 5))
    assert await count(DebitOrderRun) == 1
    assert await count(Job, Job.dedupe_key == daily_key(org.id, tomorrow + timedelta(days=1))) == 0


async def _cli(*args: str) -> tuple[int, str, str]:
    p = await arrears_async(*args)  # in-process, its own loop in a thread (tests/inprocess_cli.py)
    return p.returncode, p.stdout, p.stderr


async def test_cli_configure_run_reconcile_settle_report_export(world, tmp_path):
    org = await world.org("Cli Captive", kind="cell_captive")
    code, out, err = await _cli("debit-orders", "configure", "--org", str(org.id), "--user-code", "CL01",
                                "--abbreviated-name", "CLICAP", "--branch", "580105", "--account", "10012345678",
                                "--auto-success-days", "3", "--json")
    assert code == 0, err
    assert json.loads(out)["user_code"] == "CL01"
    for n in range(3):
        await policy(org.id, f"P{n}", due="2024-01-31")
    code, out, err = await _cli("debit-orders", "run", "--org", str(org.id), "--date", "2024-01-31", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["collections_created"] == 3 and len(result["files"]) == 2 and result["new_run"]
    assert "policies" in err  # the progress bar

    acb_path = tmp_path / "debits.txt"
    code, _, err = await _cli("debit-orders", "export", result["files"][0], "--org", str(org.id), "-o", str(acb_path))
    assert code == 0, err
    assert len(parse_file(acb_path.read_bytes()).transactions) == 3
    answer = tmp_path / "answer.csv"
    answer.write_text("reference,amount,status,reason\nMP0,150.00,failed,12\nMP9,1.00,failed,12\n")
    code, out, err = await _cli("debit-orders", "reconcile", str(answer), "--org", str(org.id), "--json")
    assert code == 0, err
    assert json.loads(out)["counts"]["matched"] == 1 and json.loads(out)["counts"]["unmatched"] == 1
    code, out, err = await _cli("debit-orders", "settle", "--org", str(org.id), "--date", "2024-02-03", "--json")
    assert code == 0, err
    assert len(json.loads(out)["settled"]) == 2
    code, out, err = await _cli("debit-orders", "report", "--org", str(org.id), "--month", "2024-01", "--csv")
    assert code == 0, err
    assert "failed_by_reason,12,Account closed,1,150.00" in out and "collected,,,2,300.00" in out

    code, _, err = await _cli("debit-orders", "run", "--org", str(org.id), "--date", "31-01-2024")
    assert code != 0 and "YYYY-MM-DD" in err
    assert [r[0] for r in await rows(select(DebitOrderRun.action_date))] == [date(2024, 1, 31)]


async def test_cli_run_on_a_captive_without_settings_says_so_before_any_progress_bar(world):
    org = await world.org("Bare Captive", kind="cell_captive")
    await policy(org.id, "P1", due="2024-01-31")
    code, out, err = await _cli("debit-orders", "run", "--org", str(org.id), "--date", "2024-01-31", "--json")
    assert code == 1 and out == ""
    assert "Debit orders are not configured" in err and "user_code" in err
    assert "policies" not in err and "files" not in err  # no bar was drawn
    assert await count(DebitOrderRun) == 0 and await count(Collection) == 0
