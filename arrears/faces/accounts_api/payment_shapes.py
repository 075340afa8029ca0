"""Payments as Arrears' own API writes them (camelCase, UUID strings, money as JSON numbers): used
by /api/v1/payments and by /api/v1/accounts/{id} (its payments and their allocation)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from arrears.accounts.models import Account
from arrears.db import isoz
from arrears.payments import service as payments
from arrears.payments.models import Payment, PaymentImport


def payment_out(p: Payment) -> dict[str, Any]:
    return {"id": str(p.id), "accountId": str(p.account_id) if p.account_id else None, "amount": p.amount,
            "paidOn": p.paid_on.isoformat(), "method": p.method, "reference": p.reference,
            "externalId": p.external_id, "status": p.status, "source": p.source,
            "importId": str(p.import_id) if p.import_id else None, "lineNumber": p.line_number, "note": p.note,
            "matchedBy": p.matched_by, "matchedAt": isoz(p.matched_at), "reversedBy": p.reversed_by,
            "reversedAt": isoz(p.reversed_at), "reversalReason": p.reversal_reason, "createdBy": p.created_by,
            "createdAt": isoz(p.created_at), "updatedAt": isoz(p.updated_at)}


def import_out(i: PaymentImport) -> dict[str, Any]:
    return {"id": str(i.id), "filename": i.filename, "status": i.status, "totalLines": i.total_lines,
            "recorded": i.recorded, "unmatched": i.unmatched, "duplicates": i.duplicates, "failed": i.failed,
            "skipped": i.skipped, "mapping": i.mapping, "errors": i.errors or [], "createdBy": i.created_by,
            "createdAt": isoz(i.created_at)}


async def account_payments(session: AsyncSession, account: Account) -> dict[str, Any]:
    """An account's payments and where they went (`allocation`: a book account's buckets net of
    the payments its report has not taken in, oldest first; a loan's instalments)."""
    return {"payments": [payment_out(p) for p in await payments.payments_of_account(session, account)],
            "allocation": await payments.allocation_of(session, account)}
