"""`payments` has no foreign keys (an import COPYs 100,000 rows; see arrears/payments/models.py):
triggers made by migration 0020 do what ON DELETE did. Deleting an import unlinks its payments,
an account's deletion takes its payments, an organisation's takes all of its own and nobody
else's. Both databases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, func, select

from arrears.accounts.models import Account
from arrears.db import transaction
from arrears.identity.models import Organisation
from arrears.payments.models import Payment, PaymentImport
from tests.faces.repaysync.conftest import RS, Tenant
from tests.payments.helpers import import_file, loan_account, write_csv


async def _imported(t: Tenant, tmp_path: Path, prefix: str) -> tuple[str, str]:
    """Two loans' accounts, and a file paying each twice plus an unmatched line, imported."""
    loans = [await loan_account(t, principal_amount="5000.00") for _ in range(2)]
    f = write_csv(tmp_path / f"{prefix}.csv", [
        ["Account Code", "Amount", "Payment Date", "Transaction Id"],
        *[[loan["loan_account_number"], "10.00", f"2025-07-0{n}", f"{prefix}-{i}-{n}"]
          for i, (loan, _) in enumerate(loans) for n in (1, 2)],
        ["NOBODY", "5.00", "2025-07-03", f"{prefix}-x"]])
    r = await import_file(t, f)
    assert r.status_code == 201, r.text
    assert (r.json()["recorded"], r.json()["unmatched"]) == (4, 1)
    return loans[0][1], loans[1][1]


async def _payments(org_id: int) -> list[tuple[str | None, bool]]:
    async with transaction() as s:
        rows = await s.execute(select(Payment.account_id, Payment.import_id).where(Payment.org_id == org_id)
                               .order_by(Payment.external_id))
        return [(str(a) if a else None, i is not None) for a, i in rows]


async def test_deletions_take_or_unlink_payments_as_foreign_keys_did(rs: RS, tmp_path):
    t, other = await rs.tenant(), await rs.tenant("Other Lending")
    first, second = await _imported(t, tmp_path, "a")
    theirs = await _imported(other, tmp_path, "b")
    assert await _payments(t.org.id) == [(first, True), (first, True), (second, True), (second, True), (None, True)]

    async with transaction() as s:
        await s.execute(delete(PaymentImport).where(PaymentImport.org_id == t.org.id))
    assert await _payments(t.org.id) == [(first, False), (first, False), (second, False), (second, False),
                                         (None, False)]

    async with transaction() as s:
        await s.execute(delete(Account).where(Account.id == first))  # type: ignore[arg-type]
    assert await _payments(t.org.id) == [(second, False), (second, False), (None, False)]

    async with transaction() as s:
        await s.execute(delete(Organisation).where(Organisation.id == t.org.id))
    assert await _payments(t.org.id) == []
    assert await _payments(other.org.id) == [(theirs[0], True), (theirs[0], True), (theirs[1], True),
                                             (theirs[1], True), (None, True)]
    async with transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 5
