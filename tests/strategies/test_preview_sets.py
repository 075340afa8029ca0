"""The preview counted in SQL equals the run, account for account, where SQL and Python part ways:
unicode and GSM-7 extension characters in names (messages past 160 with an escape pair are counted
in Python), phone numbers in every shape (the usual South African ones in SQL on PostgreSQL, the
rest through phone_key), opt-outs by customer and by number, e-mail addresses with spaces or
capitals, the cap across two accounts of one customer and across steps, tasks shared round-robin
after earlier strategy tasks."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from arrears.accounts.models import Account
from arrears.customers.models import Customer
from arrears.db import transaction
from arrears.debtors.models import DebtorAccount
from arrears.identity.caller import Caller
from arrears.identity.service import set_org_settings
from arrears.messaging import optouts
from arrears.messaging.models import Message
from arrears.messaging.segments import count_segments
from arrears.tasks.models import Task
from tests.strategies.helpers import REPORT_DAY, book, messages, preview, row, run, strategy, template

LONG = ("Dear [CustomerName], your account [AccountCode] is R[TotalBalance] in arrears ([OldestAgeBracket], "
        "R[OverdueAmount] overdue). Please pay today or call [Telephone].")
NAMES = ["Alpha", "Zoë Ndlovu", "Pipe|Co {Ltd} ~ [x]", "Euro € Traders " * 3, "Smith “Quotes” & Sons",
         "名前 😀", "a" * 40, "{" * 30, "Ñandú", "back\\slash"]
PHONES = ["27821234560", "+27821234561", "082 123 4562", "0027821234563", "821234564", "12345",
          "+44 20 7946 0958", None, "0821234568", "27 82 123 4569"]


async def _settings(t, **values):
    async with transaction() as s:
        org = await s.get(type(t.org), t.org.id)
        await set_org_settings(s, Caller.system(org.id), org, values)


async def _set_people(ids, names=None, phones=None, emails=None, book_emails=None):
    """Write the customers' names, numbers (phone_e164 as given) and addresses directly: shapes an
    import would tidy up."""
    async with transaction() as s:
        for i, account_id in enumerate(ids):
            acc = await s.get(Account, account_id)
            values = {}
            if names is not None:
                values["name"] = names[i]
            if phones is not None:
                values["phone_e164"] = phones[i]
            if emails is not None:
                values["email"] = emails[i]
            if values:
                await s.execute(update(Customer).where(Customer.id == acc.customer_id).values(**values))
            book_values = {}
            if names is not None:
                book_values["customer_name"] = names[i]
            if phones is not None:
                book_values["telephone"] = None
            if book_emails is not None:
                book_values["email"] = book_emails[i]
            if book_values and acc.debtor_account_id is not None:
                await s.execute(update(DebtorAccount).where(DebtorAccount.id == acc.debtor_account_id)
                                .values(**book_values))


def _step(seen, index=0, strategy_index=0):
    return seen["strategies"][strategy_index]["steps"][index]


async def test_sms_names_numbers_and_opt_outs(rs, tmp_path):
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="0")
    codes = [f"A{i}" for i in range(len(NAMES))]
    ids = await book(t, tmp_path, [row(c, "x", "082 000 0000", d30=123.45 * (i + 1), d120=9999.99 * (i % 3))
                                   for i, c in enumerate(codes)])
    order = [ids[c] for c in codes]
    await _set_people(order, names=NAMES, phones=PHONES)
    async with transaction() as s:  # one out by customer, one by number
        acc = await s.get(Account, order[1])
        await optouts.add(s, Caller.system(t.org.id, "test"), channel="sms", customer_id=acc.customer_id)
        await optouts.add(s, Caller.system(t.org.id, "test"), channel="sms", recipient="27821234562")
    await strategy(t, [{"action": "sms", "messageTemplateId": await template(t, LONG), "minDaysPastDue": 30}])

    seen = await preview(t, REPORT_DAY)
    step = _step(seen)
    assert step["accounts"] == len(NAMES)
    assert step["excluded"] == {"invalid_contact": 1, "no_contact": 1, "opted_out": 2}
    done = await run(t, REPORT_DAY)
    assert done.counts["strategies"] == seen["strategies"]
    sent = [m for m in await messages(t) if m.status == "pending"]
    assert len(sent) == step["sms"] == 6
    assert step["smsSegments"] == sum(count_segments(m.content).segments for m in sent) == sum(m.segments for m in sent)
    assert step["smsSegments"] > len(sent)  # long messages and UCS-2 ones take more than one


async def test_email_addresses_and_the_cap_across_accounts_and_steps(rs, tmp_path):
    t = await rs.tenant()
    await _settings(t, contact_hours="off", contact_cap="1", contact_cap_window="24h")
    codes = [f"E{i}" for i in range(10)]
    ids = await book(t, tmp_path, [row(c, f"Name {i}", f"082 123 450{i}", d30=100 + i) for i, c in enumerate(codes)])
    order = [ids[c] for c in codes]
    await _set_people(order, emails=["a@example.com", None, "UPPER@Example.com", "ünï@example.com",
                                     " padded@example.com ", "", None, None, None, None],
                      book_emails=[None, None, None, None, None, "book@example.com", None, None, None, None])
    async with transaction() as s:
        first = await s.get(Account, order[0])
        # E6 and E7 belong to E0's customer, who has an SMS from the first strategy: the cap holds them.
        await s.execute(update(Account).where(Account.id.in_([order[6], order[7]])).values(
            customer_id=first.customer_id))
        await optouts.add(s, Caller.system(t.org.id, "test"), channel="email", recipient="upper@example.com")
        e8 = await s.get(Account, order[8])  # E8 had its SMS today already
        s.add(Message(org_id=t.org.id, channel="sms", recipient="27821234508", content="earlier", status="sent",
                      customer_id=e8.customer_id, sent_at=datetime.now(UTC)))
    sms, mail = await template(t), await template(t, channel="email")
    await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30}], name="Early",
                   priority=0, isDefault=False, segment={"maxBalance": 101})
    await strategy(t, [{"action": "email", "messageTemplateId": mail, "minDaysPastDue": 30}], name="Mail",
                   priority=1, isDefault=False, segment={"maxBalance": 105})
    await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 30}], name="Text")

    seen = await preview(t, REPORT_DAY)
    early, mail_step, text = _step(seen, 0, 0), _step(seen, 0, 1), _step(seen, 0, 2)
    assert (early["accounts"], early["sms"]) == (2, 2)
    assert (mail_step["accounts"], mail_step["emails"], mail_step["excluded"]) == (4, 3, {"opted_out": 1})
    assert (text["accounts"], text["sms"], text["excluded"]) == (4, 1, {"cap_reached": 3})
    done = await run(t, REPORT_DAY)
    assert done.counts["strategies"] == seen["strategies"]
    assert done.messages == seen["messages"] == len([m for m in await messages(t) if m.status == "pending"])


async def test_tasks_shared_round_robin_after_earlier_strategy_tasks(rs, tmp_path):
    t = await rs.tenant()
    agents = [await t.member("calling_agent", key=str(i)) for i in range(3)]
    officer = await t.member("collection_officer")
    codes = [f"T{i}" for i in range(9)]
    ids = await book(t, tmp_path, [row(c, f"Name {i}", "082 123 4567", d30=100) for i, c in enumerate(codes)])
    async with transaction() as s:
        for c in codes[:2]:
            acc = await s.get(Account, ids[c])
            await s.execute(update(Customer).where(Customer.id == acc.customer_id)
                            .values(assigned_collection_officer_id=officer.user.id))
        s.add(Task(org_id=t.org.id, account_id=ids["T8"], kind="call", source="strategy", status="done",
                   due_date=REPORT_DAY, created_by="test"))
    await strategy(t, [{"action": "call_task", "minDaysPastDue": 30}])
    seen = await preview(t, REPORT_DAY)
    tasks = {x["assigneeId"]: x["count"] for x in _step(seen)["tasks"]}
    assert tasks[officer.user.id] == 2 and sum(tasks.values()) == 9
    assert sorted(tasks[a.user.id] for a in agents) == [2, 2, 3]
    done = await run(t, REPORT_DAY)
    assert done.counts["strategies"] == seen["strategies"]
    async with transaction() as s:
        made = list(await s.scalars(select(Task.assignee_id).where(Task.org_id == t.org.id, Task.source == "strategy",
                                                                   Task.status != "done")))
    assert {a: made.count(a) for a in set(made)} == tasks
