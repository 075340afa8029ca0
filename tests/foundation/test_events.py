"""Domain events are published after the commit, and only those whose transaction survived."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from arrears import events
from arrears.db import transaction

published: list[str] = []


@pytest.fixture(autouse=True)
def _listen():
    published.clear()

    def publisher(ev: events.DomainEvent) -> None:
        published.append(ev.subject_id)

    events.on_commit(publisher)
    yield
    events._publishers.remove(publisher)


async def _record(s, subject: str) -> None:
    await events.record(s, org_id=None, type="test.happened", actor="system",
                        subject_type="test", subject_id=subject)


async def _stored() -> list[str]:
    async with transaction(readonly=True) as s:
        rows = await s.scalars(select(events.DomainEvent.subject_id)
                               .where(events.DomainEvent.type == "test.happened")
                               .order_by(events.DomainEvent.id))
        return list(rows)


async def test_committed_events_are_published_once(env):
    async with transaction() as s:
        await _record(s, "a")
        await _record(s, "b")
        assert published == []  # nobody hears of a change before it is committed
    assert published == ["a", "b"] and await _stored() == ["a", "b"]


async def test_rolled_back_request_publishes_nothing(env):
    with pytest.raises(RuntimeError):
        async with transaction() as s:
            await _record(s, "a")
            raise RuntimeError("the change failed")
    assert published == [] and await _stored() == []


async def test_savepoint_rollback_drops_only_its_own_events(env):
    async with transaction() as s:
        await _record(s, "before")
        with pytest.raises(ValueError):
            async with s.begin_nested():
                await _record(s, "inside-failed")
                async with s.begin_nested():
                    await _record(s, "inside-inner")
                raise ValueError("this item failed")
        async with s.begin_nested():
            await _record(s, "inside-kept")
        await _record(s, "after")
    assert published == ["before", "inside-kept", "after"], published
    assert await _stored() == published
    async with transaction(readonly=True) as s:
        assert await s.scalar(select(func.count()).select_from(events.DomainEvent)) == 3
