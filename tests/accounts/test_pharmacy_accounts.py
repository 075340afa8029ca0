"""A pharmacy's PDF report (stored by the pharmacy face, not the book's job) makes its accounts too."""

from __future__ import annotations

from sqlalchemy import select

from arrears.accounts.models import Account
from arrears.db import transaction
from arrears.debtors.models import DebtorAccount
from tests.debtors.pdf.make_pdfs import build_report
from tests.debtors.pdf.test_pdf_golden import GOLDEN_ROWS, LAYOUTS
from tests.faces.pharmacy.conftest import pharmacy  # noqa: F401


async def test_a_pharmacy_upload_makes_an_account_per_debtor(pharmacy) -> None:  # noqa: F811
    body = await pharmacy.uploaded(build_report(GOLDEN_ROWS, LAYOUTS["ruled"]))
    async with transaction(readonly=True) as s:
        rows = (await s.execute(select(DebtorAccount.account_code, DebtorAccount.customer_id, Account.kind,
                                       Account.customer_id)
                                .join(Account, Account.debtor_account_id == DebtorAccount.id)
                                .where(Account.org_id == pharmacy.org.id))).all()
    assert sorted(r[0] for r in rows) == sorted(d["acc_no"] for d in body["debtors"])
    assert all(kind == "book" and book_customer == customer is not None for _, book_customer, kind, customer in rows)
    # The same report again: no second account.
    await pharmacy.uploaded(build_report(GOLDEN_ROWS, LAYOUTS["ruled"]))
    async with transaction(readonly=True) as s:
        assert len((await s.scalars(select(Account.id).where(Account.org_id == pharmacy.org.id))).all()) == len(rows)
