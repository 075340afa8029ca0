"""Exactly once per account, step and day: a real `arrears strategies run` process killed with
SIGKILL half-way, then the run again (in-process and through the CLI): every account has its one
execution and its one message; the CLI's dry run changes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from arrears.db import transaction
from arrears.identity.caller import Caller
from tests.inprocess_cli import arrears_async
from tests.strategies.helpers import REPORT_DAY, book, row, run, sent_counts, strategy, template

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = 600


async def test_a_run_killed_mid_way_and_run_again_sends_each_message_once(rs, tmp_path, env):
    t = await rs.tenant()
    from arrears.identity.service import set_org_settings

    async with transaction() as s:
        await set_org_settings(s, Caller.system(t.org.id), await s.get(type(t.org), t.org.id), {"contact_hours": "off", "contact_cap": "0"})
    await book(t, tmp_path, [row(f"K{i:04d}", f"N{i}", f"082 {1000000 + i}", d30=10 + i) for i in range(ACCOUNTS)])
    await strategy(t, [{"action": "sms", "messageTemplateId": await template(t), "minDaysPastDue": 30}])

    # The dry run through the CLI: the per-step counts, nothing written.
    dry = await arrears_async("strategies", "run", "--org", str(t.org.id), "--date", REPORT_DAY.isoformat(),
                              "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["counts"]["strategies"][0]["steps"][0]["sms"] == ACCOUNTS
    assert await sent_counts(t.org.id) == (0, 0, 0)

    child = dict(os.environ, ARREARS_STRATEGY_CHUNK="40", ARREARS_STRATEGY_THROTTLE="0.3")
    proc = subprocess.Popen([sys.executable, "-m", "arrears", "strategies", "run", "--org", str(t.org.id),  # noqa: ASYNC220
                             "--date", REPORT_DAY.isoformat()], env=child, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run never got going"
            done, _, _ = await sent_counts(t.org.id)
            if done >= 80:
                break
            await asyncio.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    ex, msgs, keys = await sent_counts(t.org.id)
    assert 0 < ex < ACCOUNTS and ex == msgs == keys  # whole chunks only: each execution with its message

    again = await run(t, REPORT_DAY)
    assert again.accounts == ACCOUNTS - ex
    assert await sent_counts(t.org.id) == (ACCOUNTS, ACCOUNTS, ACCOUNTS)
    # And once more, through the CLI: nothing left to do.
    out = await arrears_async("strategies", "run", "--org", str(t.org.id), "--date", REPORT_DAY.isoformat(),
                              "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["accounts"] == 0
    assert await sent_counts(t.org.id) == (ACCOUNTS, ACCOUNTS, ACCOUNTS)
