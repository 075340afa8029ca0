"""What a letter says about each account, read set-based: one query for the accounts with their
customers, book rows, reports and loans, one for their net payments (however many accounts), and
the same pure rules as `arrears.accounts.service.figures` (balance less net payments, days past
due from the report's date or the loan's schedule) — tests/letters compare the two.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.accounts.ageing import book_days_past_due, loan_days_past_due
from arrears.accounts.models import Account
from arrears.accounts.service import net_payments
from arrears.customers.models import Customer, Loan
from arrears.debtors.models import DebtorAccount, DebtorReport
from arrears.letters.render import AgeingTable
from arrears.messaging.ageing import AgeBuckets, oldest_age_bracket, overdue_amount
from arrears.messaging.templates import format_amount

ZERO = Decimal("0")
CHUNK = 500
BOOK_HEADINGS = ("Current", "30 days", "60 days", "90 days", "120+ days", "Total")
LOAN_HEADINGS = ("Principal", "Paid", "Balance", "Days past due")


@dataclass(frozen=True)
class AccountFacts:
    account_id: uuid.UUID
    kind: str
    customer_id: int
    debtor_account_id: int | None
    reference: str
    customer_name: str
    address: tuple[str, ...]
    email: str | None
    phone: str
    contact_person: str
    balance: Decimal
    paid: Decimal
    days_past_due: int
    buckets: AgeBuckets  # zero for a loan
    table: AgeingTable

    def values(self) -> dict[str, str]:
        """The placeholders this account fills (the letter adds its dates and the organisation)."""
        b = self.buckets
        overdue = overdue_amount(b) if self.kind == "book" else (self.balance if self.days_past_due > 0 else ZERO)
        return {"CustomerName": self.customer_name, "AccountCode": self.reference,
                "TotalBalance": format_amount(self.balance), "Current": format_amount(b.current),
                "30Days": format_amount(b.d30), "60Days": format_amount(b.d60), "90Days": format_amount(b.d90),
                "120Days": format_amount(b.d120_plus), "ContactPerson": self.contact_person,
                "Telephone": self.phone, "OverdueAmount": format_amount(overdue),
                "OldestAgeBracket": oldest_age_bracket(b), "DaysPastDue": str(self.days_past_due)}


def _address(c: Customer) -> tuple[str, ...]:
    town = " ".join(x for x in (c.city, c.pincode) if x)
    return tuple(x.strip() for x in (c.address_line_1, c.address_line_2, town, c.state) if x and x.strip())


def _money(v: Decimal | None) -> Decimal:
    return v if v is not None else ZERO


async def load(session: AsyncSession, org_id: int, account_ids: Sequence[uuid.UUID],
               today: date) -> dict[uuid.UUID, AccountFacts]:
    """The facts of these accounts of the organisation (those not found are left out)."""
    out: dict[uuid.UUID, AccountFacts] = {}
    wanted = list(dict.fromkeys(account_ids))
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        rows = (await session.execute(
            select(Account, Customer, DebtorAccount, DebtorReport.report_date, DebtorReport.created_at, Loan)
            .join(Customer, Customer.id == Account.customer_id)
            .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
            .outerjoin(DebtorReport, DebtorReport.id == DebtorAccount.latest_report_id)
            .outerjoin(Loan, Loan.id == Account.loan_id)
            .where(Account.org_id == org_id, Account.id.in_(chunk)))).all()
        paid = await net_payments(session, [r[0].id for r in rows])
        for account, customer, book, stated, uploaded, loan in rows:
            out[account.id] = _facts(account, customer, book, stated, uploaded, loan, paid[account.id], today)
    return out


def _facts(account: Account, customer: Customer, book: DebtorAccount | None, stated: date | None,
           uploaded: object, loan: Loan | None, paid: Decimal, today: date) -> AccountFacts:
    email = customer.email or (book.email if book is not None else None)
    phone = customer.phone or (book.telephone if book is not None else None) or ""
    contact = customer.contact_person or (book.contact if book is not None else None) or ""
    common: dict[str, Any] = {"account_id": account.id, "kind": account.kind, "customer_id": customer.id,
              "customer_name": customer.name, "address": _address(customer), "email": email or None,
              "phone": phone, "contact_person": contact, "paid": paid}
    if loan is not None:
        balance = loan.principal_amount - paid
        days = loan_days_past_due(loan.principal_amount, loan.tenure_months, loan.loan_date, paid, today)
        table = AgeingTable(LOAN_HEADINGS, (format_amount(loan.principal_amount), format_amount(paid),
                                            format_amount(balance), str(days)))
        return AccountFacts(debtor_account_id=None, reference=loan.loan_account_number, balance=balance,
                            days_past_due=days, buckets=AgeBuckets(), table=table, **common)
    assert book is not None  # one_reference: a book account has its debtor_accounts row
    # As accounts.service.report_date_of: the report's stated date, else the day it was uploaded.
    as_of = stated or (uploaded.date() if uploaded is not None else None)  # type: ignore[attr-defined]
    if as_of is None and book.latest_report_at is not None:
        as_of = book.latest_report_at.date()
    # `d120` is already 120 days and older (d150 and d180 included: debtors.models), the table's 120+.
    buckets = AgeBuckets(_money(book.current), _money(book.d30), _money(book.d60), _money(book.d90),
                         _money(book.d120))
    by_name = {n: getattr(book, n) for n in ("d30", "d60", "d90", "d120", "d150", "d180")}
    headings, values = list(BOOK_HEADINGS), [format_amount(a) for a in buckets.bracket_amounts()]
    values.append(format_amount(book.total_balance))
    if paid:
        headings += ["Paid since", "Balance due"]
        values += [format_amount(paid), format_amount(book.total_balance - paid)]
    return AccountFacts(debtor_account_id=book.id, reference=book.account_code,
                        balance=book.total_balance - paid, days_past_due=book_days_past_due(by_name, as_of, today),
                        buckets=buckets, table=AgeingTable(tuple(headings), tuple(values)), **common)
