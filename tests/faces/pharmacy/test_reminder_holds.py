"""Pharmacy reminders skip debtors whose account is disputed, handed over or written off (issue 22,
point 5), with the reason in the answer's errors, unless a manager sends with
`override_account_status` (beyond the spec, docs/contracts.md)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from arrears.accounts.models import Account
from arrears.db import transaction
from arrears.debtors.models import DebtorAccount
from tests.debtors.pdf.make_pdfs import Debtor, build_report
from tests.faces.messaging.helpers import live, quick, sendgrid, set_org  # noqa: F401

D = Decimal
ROWS = [Debtor("H1", "Ann Smith", {"d60": D("100.00")}, email="ann@example.com"),
        Debtor("H2", "Cai Wong", {"d90": D("30.00")}, email="cai@example.com")]


async def _account(org_id: int, code: str) -> str:
    async with transaction() as s:
        return str(await s.scalar(select(Account.id).join(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
                                  .where(Account.org_id == org_id, DebtorAccount.account_code == code)))


async def test_a_disputed_debtor_gets_no_reminder_unless_a_manager_overrides(
        pharmacy, world, live, sendgrid, monkeypatch) -> None:
    monkeypatch.setenv("SENDGRID_API_URL", sendgrid.url)
    await set_org(pharmacy.org, sendgrid_api_key="SG.test-key", sendgrid_from_email="accounts@sunrise.co.za")
    body = await pharmacy.uploaded(build_report(ROWS))
    ids = {d["acc_no"]: d["id"] for d in body["debtors"]}
    r = await pharmacy.client.post(f"/api/v1/accounts/{await _account(pharmacy.org.id, 'H1')}/status",
                                   headers=pharmacy.writer, json={"status": "disputed", "reason": "Medical aid paid"})
    assert r.status_code == 200, r.text

    r = await pharmacy.post("/send-email", {"debtor_ids": [ids["H1"], ids["H2"]]})
    assert r.status_code == 200, r.text
    assert [s["debtor_id"] for s in r.json()["sent"]] == [ids["H2"]]
    assert r.json()["errors"] == [{"debtor_id": ids["H1"], "error":
                                   "Not sent: the account is disputed (Medical aid paid); a manager can override"}]
    assert [m["personalizations"][0]["to"][0]["email"] for m in sendgrid.sent] == ["cai@example.com"]

    # An officer may not override (403, nothing sent); a manager may.
    officer = await world.login_headers(pharmacy.client, pharmacy.org.id, role="collection_officer")
    r = await pharmacy.post("/send-email", {"debtor_ids": [ids["H1"]], "override_account_status": True}, officer)
    assert r.status_code == 403, r.text
    assert len(sendgrid.sent) == 1
    r = await pharmacy.post("/send-email", {"debtor_ids": [ids["H1"]], "override_account_status": "yes please"})
    assert r.status_code == 400 and "override_account_status" in r.json()["detail"]
    r = await pharmacy.post("/send-email", {"debtor_ids": [ids["H1"]], "override_account_status": True})
    assert r.status_code == 200, r.text
    assert [s["debtor_id"] for s in r.json()["sent"]] == [ids["H1"]] and r.json()["errors"] == []
    assert [m["personalizations"][0]["to"][0]["email"] for m in sendgrid.sent] == ["cai@example.com",
                                                                                  "ann@example.com"]
