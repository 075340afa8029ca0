"""The web forms of promises and payments: a promise to pay (an amount and a date, or instalments)
from the customer page (picking the customer's account) and from the work queue, the customer's
promises with their state; the payments page (the list with its unmatched lines, recording one,
matching one to an account). CSRF as every form; who may is the services'."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from arrears.accounts.models import Account
from arrears.db import transaction
from arrears.identity.caller import Caller
from arrears.payments.models import Payment
from arrears.promises.models import Promise, PromiseInstalment
from arrears.tasks import service as tasks
from arrears.tasks.models import Task
from tests.faces.repaysync.conftest import RS, rs  # noqa: F401
from tests.figures.book import REPORT_1, upload
from tests.web.test_web_agents import _customer_with_loan


def _soon(days: int) -> str:
    # Dates ahead of today wherever the organisation's day is (Johannesburg by default).
    return (date.today() + timedelta(days=days)).isoformat()


async def _book_customer(t, tmp_path) -> tuple[int, dict[str, str]]:
    """The book's customers: K1's id, and every account's id by code."""
    await upload(t, tmp_path, REPORT_1, "2026-09-30", f"r-{t.org.id}.csv")
    async with transaction() as s:
        from arrears.debtors.models import DebtorAccount

        rows = (await s.execute(select(DebtorAccount.account_code, Account.id, Account.customer_id)
                                .join(Account, Account.debtor_account_id == DebtorAccount.id)
                                .where(Account.org_id == t.org.id))).all()
    return next(c for code, _, c in rows if code == "K1"), {code: str(i) for code, i, _ in rows}


async def test_customer_page_records_a_plan_and_shows_the_promises(rs: RS, people, tmp_path):  # noqa: F811
    t = await rs.tenant()
    customer_id, ids = await _book_customer(t, tmp_path)
    ui, agent = await people(t.org.id, role="calling_agent")
    r = await ui.get(f"/app/customers/{customer_id}")
    assert r.status_code == 200 and "Record a promise to pay" in r.text and f'value="{ids["K1"]}"' in r.text
    assert ids["K2"] not in r.text  # only this customer's accounts to pick from

    # A date in the past is refused beside its row, nothing is written.
    r = await ui.post(f"/app/customers/{customer_id}/promises",
                      {"account_id": ids["K1"], "amount_1": "100", "date_1": _soon(5),
                       "amount_2": "50", "date_2": "2020-01-01"})
    assert r.status_code == 400 and 'id="cp-date_2-error"' in r.text and "Must not be in the past" in r.text
    # Another customer's account is not one to pick.
    r = await ui.post(f"/app/customers/{customer_id}/promises",
                      {"account_id": ids["K2"], "amount_1": "100", "date_1": _soon(5)})
    assert r.status_code == 400 and "Choose the account" in r.text
    # Without the CSRF token: refused.
    r = await ui.post(f"/app/customers/{customer_id}/promises", {"account_id": ids["K1"], "amount_1": "1",
                                                                  "date_1": _soon(5)}, csrf=False)
    assert r.status_code == 403
    async with transaction() as s:
        assert (await s.scalars(select(Promise))).all() == []

    # A plan of two instalments (rows left blank are ignored).
    r = await ui.post(f"/app/customers/{customer_id}/promises",
                      {"account_id": ids["K1"], "amount_1": "300.00", "date_1": _soon(20),
                       "amount_3": "200.50", "date_3": _soon(10), "note": "Pays on the 25th"})
    assert r.status_code == 303, r.text
    page = ui.followed.text  # type: ignore[union-attr]
    assert "Promise recorded: 500.50 by " + _soon(20) in page
    async with transaction() as s:
        p = (await s.scalars(select(Promise))).one()
        plan = (await s.scalars(select(PromiseInstalment).order_by(PromiseInstalment.number))).all()
    assert p.agent_id == agent.id and str(p.account_id) == ids["K1"] and p.status == "open"
    assert [(str(i.amount), i.due_date.isoformat()) for i in plan] == [("200.50", _soon(10)), ("300.00", _soon(20))]
    row = re.search(rf'<tr data-promise="{p.id}">(.*?)</tr>', page, re.S)
    assert row and "K1" in row.group(1) and "Open" in row.group(1) and f"by {_soon(10)}" in row.group(1)

    # Read-only access sees the promises, not the form.
    reader, _ = await people(t.org.id, role="calling_agent", access="read")
    r = await reader.get(f"/app/customers/{customer_id}")
    assert f'data-promise="{p.id}"' in r.text and "Record a promise to pay" not in r.text


async def test_queue_records_a_promise_on_a_task_and_on_a_due_loan(people, world):
    org = await world.org()
    ui, agent = await people(org.id, role="calling_agent")
    _, loan_id = await _customer_with_loan(world, org.id)
    async with transaction() as s:
        account = (await s.scalars(select(Account).where(Account.loan_id == loan_id))).one()
        task = await tasks.open_task(s, Caller.system(org.id, "test"), account, kind="call",
                                     due_date=date.today() - timedelta(days=1), source="manual",
                                     assignee_id=agent.id, note="Chase")
    r = await ui.get("/app/queue")
    assert 'action="/app/queue/promises"' in r.text and f'name="account_id" value="{account.id}"' in r.text

    # Refused: nothing given; then an amount and a date.
    r = await ui.post("/app/queue/promises", {"account_id": str(account.id)})
    assert r.status_code == 303 and "Promise not recorded" in ui.followed.text  # type: ignore[union-attr]
    r = await ui.post("/app/queue/promises", {"account_id": str(account.id), "amount_1": "1500", "date_1": _soon(7)})
    assert r.status_code == 303 and "Promise recorded: 1500.00 by" in ui.followed.text  # type: ignore[union-attr]
    async with transaction() as s:
        p = (await s.scalars(select(Promise))).one()
        assert p.account_id == account.id and p.amount == 1500 and p.agent_id == agent.id
        # The promise completed the account's open task (the promises service's rule).
        assert (await s.scalar(select(Task.status).where(Task.id == task.id))) == "done"

    # A loan whose call is due shows the form with its account too.
    r = await ui.post(f"/app/loans/{loan_id}/interactions",
                      {"interaction_type": "calling", "disposition": "called", "next_call_date": date.today().isoformat(),
                       "comment": "call back"})
    assert r.status_code == 303, r.text
    r = await ui.get("/app/queue")
    item = r.text.split(f'id="queue-{loan_id}"', 1)[1].split("</li>", 1)[0]
    assert 'action="/app/queue/promises"' in item and str(account.id) in item


async def test_payments_page_lists_records_and_matches(rs: RS, people, tmp_path):  # noqa: F811
    t = await rs.tenant()
    _, ids = await _book_customer(t, tmp_path)
    ui, _ = await people(t.org.id, role="manager")
    r = await ui.get("/app/payments")
    assert r.status_code == 200 and 'href="/app/payments"' in r.text and "Record a payment" in r.text

    r = await ui.post("/app/payments", {"reference": "K1", "amount": "120.00", "paid_on": "2026-10-02"})
    assert r.status_code == 303 and "Payment of 120.00 recorded." in ui.followed.text  # type: ignore[union-attr]
    r = await ui.post("/app/payments", {"reference": "NO-SUCH", "amount": "80", "paid_on": "2026-10-03",
                                        "external_id": "BANK-1"})
    assert r.status_code == 303 and "unmatched" in ui.followed.text  # type: ignore[union-attr]
    # The same external id again adds nothing; a bad amount is shown beside its field.
    r = await ui.post("/app/payments", {"reference": "K2", "amount": "80", "paid_on": "2026-10-03",
                                        "external_id": "BANK-1"})
    assert "nothing added" in ui.followed.text  # type: ignore[union-attr]
    r = await ui.post("/app/payments", {"reference": "K1", "amount": "-5", "paid_on": "2026-10-03"})
    assert r.status_code == 400 and 'id="amount-error"' in r.text

    r = await ui.get("/app/payments?status=unmatched")
    assert "1 payment matched no account" in r.text
    async with transaction() as s:
        unmatched = (await s.scalars(select(Payment).where(Payment.status == "unmatched"))).one()
    assert f'action="/app/payments/{unmatched.id}/match"' in r.text
    r = await ui.post(f"/app/payments/{unmatched.id}/match", {"reference": "NOPE"})
    assert r.status_code == 400 and "No account has the reference" in r.text
    r = await ui.post(f"/app/payments/{unmatched.id}/match", {"reference": "K2"})
    assert r.status_code == 303 and "matched to K2" in ui.followed.text  # type: ignore[union-attr]
    async with transaction() as s:
        row = await s.get(Payment, unmatched.id)
        assert row is not None and row.status == "recorded" and str(row.account_id) == ids["K2"]
        assert len((await s.scalars(select(Payment))).all()) == 2

    # Calling agents: no menu entry, no form, refused; another organisation's payment is a 404.
    agent, _ = await people(t.org.id, role="calling_agent")
    r = await agent.get("/app/payments")
    assert 'href="/app/payments"' not in r.text.split("<main", 1)[0] and "Record a payment" not in r.text
    r = await agent.post("/app/payments", {"reference": "K1", "amount": "1", "paid_on": "2026-10-03"})
    assert r.status_code == 403
    other = await rs.tenant("Other Org")
    stranger, _ = await people(other.org.id, role="manager")
    r = await stranger.post(f"/app/payments/{unmatched.id}/match", {"reference": "K1"})
    assert r.status_code == 404
