"""The web work queue shows the person's open tasks beside the due interactions, and closes them."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from arrears.accounts.models import Account
from arrears.db import transaction
from arrears.identity.caller import Caller
from arrears.tasks import service as tasks
from arrears.tasks.models import Task
from tests.web.test_web_agents import _customer_with_loan


async def _task(loan_id: int, assignee_id: int | None, due: date, note: str) -> str:
    async with transaction() as s:
        account = (await s.scalars(select(Account).where(Account.loan_id == loan_id))).one()
        t = await tasks.open_task(s, Caller.system(account.org_id, "test"), account, kind="call", due_date=due,
                                  source="manual", assignee_id=assignee_id, note=note)
        return str(t.id)


async def test_queue_lists_my_due_tasks_and_closes_them(people, world):
    org, other_org = await world.org(), await world.org("Elsewhere")
    ui, agent = await people(org.id, role="calling_agent")
    _, colleague = await people(org.id, role="calling_agent")
    _, loan_id = await _customer_with_loan(world, org.id)
    yesterday = date.today() - timedelta(days=1)
    mine = await _task(loan_id, agent.id, yesterday, "Ask about the arrears")
    await _task(loan_id, colleague.id, yesterday, "Someone else's")
    await _task(loan_id, agent.id, date.today() + timedelta(days=3), "Not yet")
    _, foreign_loan = await _customer_with_loan(world, other_org.id, name="Foreign Person")
    foreign = await _task(foreign_loan, None, yesterday, "Other organisation")

    r = await ui.get("/app/queue")
    assert r.status_code == 200
    assert "Ask about the arrears" in r.text and "Thandi Mokoena" in r.text and "(overdue)" in r.text
    assert "Someone else's" not in r.text and "Not yet" not in r.text and "Foreign Person" not in r.text
    assert f'action="/app/queue/tasks/{mine}"' in r.text

    r = await ui.post(f"/app/queue/tasks/{foreign}", {"status": "done"})
    assert r.status_code == 404
    r = await ui.post(f"/app/queue/tasks/{mine}", {"status": "done"})
    assert r.status_code == 303 and "Task done." in ui.followed.text  # type: ignore[union-attr]
    assert "Ask about the arrears" not in ui.followed.text  # type: ignore[union-attr]
    async with transaction() as s:
        assert (await s.scalar(select(Task.status).where(Task.note == "Ask about the arrears"))) == "done"
        assert (await s.scalar(select(Task.status).where(Task.note == "Other organisation"))) == "open"


async def test_read_only_members_see_tasks_without_buttons(people, world):
    org = await world.org()
    ui, reader = await people(org.id, role="manager", access="read")
    _, loan_id = await _customer_with_loan(world, org.id)
    task = await _task(loan_id, None, date.today(), "Visible to managers")
    r = await ui.get("/app/queue")
    assert "Visible to managers" in r.text and f"/app/queue/tasks/{task}" not in r.text
    r = await ui.post(f"/app/queue/tasks/{task}", {"status": "done"})
    assert r.status_code == 303
    async with transaction() as s:
        assert (await s.scalar(select(Task.status).where(Task.note == "Visible to managers"))) == "open"
