"""Collection messages skip accounts that are disputed, handed over or written off (issue 22), with
the reason in the send's answer and the message log, unless a manager overrides."""

from __future__ import annotations

from sqlalchemy import select

from arrears.accounts.models import Account
from arrears.db import transaction
from arrears.debtors.models import DebtorAccount
from tests.faces.age_analysis.helpers import BOOK, import_file, write_book
from tests.faces.messaging.helpers import quick  # noqa: F401

TEMPLATE = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."


async def _account_uuid(org_id: int, code: str) -> str:
    async with transaction() as s:
        return str(await s.scalar(select(Account.id).join(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
                                  .where(Account.org_id == org_id, DebtorAccount.account_code == code)))


async def test_send_skips_accounts_on_hold_unless_a_manager_overrides(client, world, quick, tmp_path):  # noqa: F811
    org = await world.org("Acme Collections")
    officer = await world.login_headers(client, org.id, role="collection_officer")
    manager = await world.login_headers(client, org.id, role="manager")
    uid = await import_file(client, manager, write_book(tmp_path / "book.xlsx", BOOK))
    r = await client.get(f"/api/uploads/{uid}/accounts", headers=manager, params={"per_page": 100})
    ids = {a["account_code"]: a["id"] for a in r.json()["accounts"]}
    # A1 disputed (by an agent), A2 handed over (by the manager); both have valid mobile numbers.
    agent = await world.login_headers(client, org.id, role="calling_agent")
    r = await client.post(f"/api/v1/accounts/{await _account_uuid(org.id, 'A1')}/status", headers=agent,
                          json={"status": "disputed", "reason": "Invoice 44 never delivered"})
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/accounts/{await _account_uuid(org.id, 'A2')}/status", headers=manager,
                          json={"status": "handed_over", "reason": "Smith Attorneys"})
    assert r.status_code == 200, r.text

    body = {"account_ids": [ids["A1"], ids["A2"], ids["A4"]], "message_template": TEMPLATE}
    r = await client.post("/api/messaging/send", headers=manager, json=body)
    assert r.status_code == 202, r.text
    assert (r.json()["queued_count"], r.json()["skipped_count"]) == (1, 2)
    assert r.json()["skipped_reasons"] == {"ACCOUNT_ON_HOLD": 2}
    logs = (await client.get(f"/api/messaging/logs/{uid}", headers=manager)).json()["message_logs"]
    by_account = {m["account_id"]: m for m in logs}
    assert by_account[ids["A1"]]["status"] == "failed" and by_account[ids["A1"]]["error_code"] == "ACCOUNT_ON_HOLD"
    assert by_account[ids["A1"]]["response_from_service"] == (
        "Not sent: the account is disputed (Invoice 44 never delivered); a manager can override")
    assert by_account[ids["A2"]]["response_from_service"].startswith("Not sent: the account is handed over")
    assert by_account[ids["A4"]]["status"] == "pending"

    # Only managers and admins override, and nothing is written when refused.
    r = await client.post("/api/messaging/send", headers=officer, json=body | {"override_account_status": True})
    assert r.status_code == 403
    assert len((await client.get(f"/api/messaging/logs/{uid}", headers=manager)).json()["message_logs"]) == 3
    r = await client.post("/api/messaging/send", headers=manager,
                          json=body | {"account_ids": [ids["A1"]], "override_account_status": True})
    assert r.status_code == 202 and r.json()["queued_count"] == 1 and r.json()["skipped_count"] == 0
