"""A book with buckets past 120 days (150, 180): the book keeps `d120` as 120 days and older with
`d150`/`d180` as its finer split, so [120Days] in a message is that 120+ amount once, not the
finer buckets added again."""

from __future__ import annotations

from sqlalchemy import select

from arrears.db import transaction
from arrears.messaging.models import Message
from tests.faces.age_analysis.helpers import import_file, write_book
from tests.faces.messaging.helpers import quick  # noqa: F401

ROWS = [["Account", "Name", "Telephone", "Current", "30 Days", "60 Days", "90 Days", "120 Days", "150 Days",
         "180 Days", "Total Balance"],
        ["P1", "Pat Older", "082 123 4567", 10, 0, 0, 0, 100, 20, 30, 160]]


async def test_120_days_counts_the_older_buckets_once(client, world, quick, tmp_path):  # noqa: F811
    org = await world.org("Older Buckets")
    manager = await world.login_headers(client, org.id, role="manager")
    uid = await import_file(client, manager, write_book(tmp_path / "older.xlsx", ROWS))
    r = await client.get(f"/api/uploads/{uid}/accounts", headers=manager)
    [account] = r.json()["accounts"]
    assert account["amount_120d"] == 150.0  # 120 + 150 + 180 days
    r = await client.post("/api/messaging/send", headers=manager, json={
        "account_ids": [account["id"]], "message_template": "[CustomerName] [AccountCode]: [120Days] of [TotalBalance] is 120+ days"})
    assert r.status_code == 202, r.text
    async with transaction() as s:
        [message] = (await s.scalars(select(Message).where(Message.org_id == org.id))).all()
    assert message.content == "Pat Older P1: 150.00 of 160.00 is 120+ days"
