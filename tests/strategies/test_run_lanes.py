"""The run's overlap of Python and database (runner._fire_in_lanes): a message step is drafted
and checked chunk by chunk, and on PostgreSQL its chunks go in two sessions taken in turn, the
next chunk drafted while the database writes the one before. A run that fails at any point — while a chunk is
drafted with another one in flight, or inside a chunk's write — leaves whole chunks only, each
execution with its message, and the run again writes each of the rest once. Both databases."""

from __future__ import annotations

import asyncio
import contextvars
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from arrears.db import transaction
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.identity.service import set_org_settings
from arrears.messaging import optouts
from arrears.messaging.models import Message
from arrears.strategies import runner
from tests.strategies.helpers import REPORT_DAY, book, preview, row, run, sent_counts, strategy, template

ACCOUNTS, CHUNK = 30, 4


async def _tenant(rs: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, **step: Any) -> Any:
    t = await rs.tenant()
    monkeypatch.setenv("ARREARS_STRATEGY_CHUNK", str(CHUNK))
    async with transaction() as s:
        await set_org_settings(s, Caller.system(t.org.id), await s.get(Organisation, t.org.id),
                               {"contact_hours": "off", "contact_cap": "0"})
    await book(t, tmp_path, [row(f"L{i:03d}", f"N{i}", f"082 {2000000 + i}", d30=10 + i) for i in range(ACCOUNTS)])
    await strategy(t, [{"action": "sms", "messageTemplateId": await template(t), "minDaysPastDue": 30, **step}])
    return t


class Boom(RuntimeError):
    pass


def _sessions_used(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """The sessions the chunks were written in (ids), recorded as the run goes."""
    used: set[int] = set()
    write = runner._write

    async def recording(session: Any, *args: Any, **kwargs: Any) -> Any:
        used.add(id(session))
        return await write(session, *args, **kwargs)

    monkeypatch.setattr(runner, "_write", recording)
    return used


@pytest.mark.parametrize("where", ["drafting", "writing"])
async def test_a_run_that_fails_mid_way_leaves_whole_chunks_and_runs_again_once(rs, tmp_path, monkeypatch, where):
    """`drafting`: the fourth chunk's drafts fail while (on PostgreSQL) the third is being written
    in the other session; `writing`: the third chunk's messages fail to be written, after its
    claim, while (on PostgreSQL) the fourth goes on in the other session and commits."""
    # calls counted where they happen in the rows' order only: drafting is done chunk after chunk
    # in the run's own task, whereas two chunks' writes run at once (the third marked by its rows)
    t = await _tenant(rs, tmp_path, monkeypatch)
    used = _sessions_used(monkeypatch)
    if where == "drafting":
        calls = 0
        draft = runner.MessageDrafts.draft

        def failing(self: runner.MessageDrafts, rows: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 4:
                raise Boom("drafting")
            return draft(self, rows)

        monkeypatch.setattr(runner.MessageDrafts, "draft", failing)
    else:
        third = contextvars.ContextVar("third", default=False)  # per task: the chunk being written
        write, queue = runner._write, runner.queue_bulk

        async def marking(session: Any, org: Any, work: Any, chunk: Any, *args: Any, **kwargs: Any) -> Any:
            third.set(chunk[0] is work.rows[2 * CHUNK])
            return await write(session, org, work, chunk, *args, **kwargs)

        async def failing_queue(*args: Any, **kwargs: Any) -> Any:
            if third.get():
                await asyncio.sleep(0.05)  # the other lane's chunk well under way
                raise Boom("writing")
            return await queue(*args, **kwargs)

        monkeypatch.setattr(runner, "_write", marking)
        monkeypatch.setattr(runner, "queue_bulk", failing_queue)
    with pytest.raises(Boom):
        await run(t, REPORT_DAY)
    async with transaction(readonly=True) as s:
        pg = s.get_bind().dialect.name == "postgresql"
    assert len(used) == (2 if pg else 1)  # two lanes on PostgreSQL
    ex, msgs, keys = await sent_counts(t.org.id)
    assert 0 < ex < ACCOUNTS and ex % CHUNK == 0  # whole chunks only
    assert ex == msgs == keys  # each execution with its one message
    if where == "writing":
        # the failed chunk's claim went with it; on PostgreSQL the chunk after it committed
        assert ex == (3 * CHUNK if pg else 2 * CHUNK)
    else:
        assert ex == 3 * CHUNK

    monkeypatch.undo()
    monkeypatch.setenv("ARREARS_STRATEGY_CHUNK", str(CHUNK))
    again = await run(t, REPORT_DAY)
    assert again.accounts == again.messages == ACCOUNTS - ex
    assert await sent_counts(t.org.id) == (ACCOUNTS, ACCOUNTS, ACCOUNTS)
    assert (await run(t, REPORT_DAY)).accounts == 0
    assert await sent_counts(t.org.id) == (ACCOUNTS, ACCOUNTS, ACCOUNTS)


async def test_a_run_in_chunks_does_what_its_preview_said(rs, tmp_path, monkeypatch):
    """Settled chunk by chunk (in two lanes on PostgreSQL), the contact rules refuse whom the
    preview said they would: no number, an invalid one, an opted-out one, spread over the chunks."""
    t = await rs.tenant()
    monkeypatch.setenv("ARREARS_STRATEGY_CHUNK", str(CHUNK))
    async with transaction() as s:
        await set_org_settings(s, Caller.system(t.org.id), await s.get(Organisation, t.org.id),
                               {"contact_hours": "off", "contact_cap": "0"})
        await optouts.add(s, Caller.system(t.org.id, "test"), channel="sms", recipient="27822000013")
    phones = {3: None, 7: "123", 13: "082 2000013", 22: None, 26: "45"}
    await book(t, tmp_path, [row(f"L{i:03d}", f"N{i}", phones.get(i, f"082 {2000000 + i}"), d30=10 + i)
                             for i in range(ACCOUNTS)])
    await strategy(t, [{"action": "sms", "messageTemplateId": await template(t), "minDaysPastDue": 30}])
    used = _sessions_used(monkeypatch)
    said = (await preview(t, REPORT_DAY))["strategies"][0]["steps"][0]
    done = await run(t, REPORT_DAY)
    step = done.counts["strategies"][0]["steps"][0]
    assert (step["sms"], step["smsSegments"], step["excluded"]) == (said["sms"], said["smsSegments"], said["excluded"])
    assert step["excluded"] == {"no_contact": 2, "invalid_contact": 2, "opted_out": 1}
    async with transaction(readonly=True) as s:
        pg = s.get_bind().dialect.name == "postgresql"
        statuses = Counter(m.status for m in await s.scalars(select(Message).where(Message.org_id == t.org.id)))
    assert len(used) == (2 if pg else 1)
    assert statuses == {"pending": ACCOUNTS - 5, "failed": 5}
    assert await sent_counts(t.org.id) == (ACCOUNTS, ACCOUNTS, ACCOUNTS)


async def test_the_cap_holds_across_chunks_in_lanes(rs, tmp_path, monkeypatch):
    """A cap of one message a day: the next day's step, in chunks (two lanes on PostgreSQL, each
    taking the cap's lock when it writes), refuses everyone the first day reached, as its preview
    said; nobody gets a second message."""
    t = await _tenant(rs, tmp_path, monkeypatch, repeatDays=1)
    async with transaction() as s:
        await set_org_settings(s, Caller.system(t.org.id), await s.get(Organisation, t.org.id),
                               {"contact_cap": "1", "contact_cap_window": "48h"})
    assert (await run(t, REPORT_DAY)).messages == ACCOUNTS
    used = _sessions_used(monkeypatch)
    later = REPORT_DAY + timedelta(days=1)
    said = (await preview(t, later))["strategies"][0]["steps"][0]
    done = await run(t, later)
    step = done.counts["strategies"][0]["steps"][0]
    assert said["excluded"] == step["excluded"] == {"cap_reached": ACCOUNTS} and step["sms"] == 0
    async with transaction(readonly=True) as s:
        pg = s.get_bind().dialect.name == "postgresql"
        statuses = Counter(m.status for m in await s.scalars(select(Message).where(Message.org_id == t.org.id)))
    assert len(used) == (2 if pg else 1)
    assert statuses == {"pending": ACCOUNTS, "failed": ACCOUNTS}
