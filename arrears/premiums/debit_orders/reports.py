"""Reports of debit orders, per run and per month: collected, failed by unpaid reason,
outstanding (pending or submitted), cancelled and the total — as a JSON object and as CSV.

A run's report covers the collections of its items; a month's report covers every collection of
the captive dated in that month (whether a run or a webhook recorded it)."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.downloads import SafeCsvWriter
from arrears.errors import ValidationFailed
from arrears.premiums.debit_orders.models import DebitOrderItem, DebitOrderRun
from arrears.premiums.models import Collection
from arrears.premiums.unpaid_codes import lookup_unpaid_reason

_CODE = re.compile(r"^(\d{2})\b")
ZERO = Decimal("0.00")


def _bucket() -> dict[str, Any]:
    return {"count": 0, "amount": ZERO}


def summarise(rows: list[tuple[str, Decimal, str | None]]) -> dict[str, Any]:
    """rows: (status, amount, failure_reason) of each collection."""
    out: dict[str, Any] = {"collected": _bucket(), "failed": _bucket(), "outstanding": _bucket(), "cancelled": _bucket(),
           "total": _bucket()}
    reasons: dict[str, dict[str, Any]] = {}
    for status, amount, failure in rows:
        key = {"successful": "collected", "failed": "failed", "cancelled": "cancelled"}.get(status, "outstanding")
        for k in (key, "total"):
            out[k]["count"] += 1
            out[k]["amount"] += amount
        if status == "failed":
            m = _CODE.match(failure or "")
            code = m.group(1) if m else None
            text = lookup_unpaid_reason(code).text if code else (failure or "No reason given")
            r = reasons.setdefault(code or text, {"reason_code": code, "reason": text, "count": 0, "amount": ZERO})
            r["count"] += 1
            r["amount"] += amount
    out["failed_by_reason"] = sorted(reasons.values(), key=lambda r: (r["reason_code"] or "99", r["reason"]))
    return out


def _jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    def num(b: dict[str, Any]) -> dict[str, Any]:
        return {**b, "amount": float(b["amount"])}

    out: dict[str, Any] = {k: num(v) for k, v in summary.items() if k != "failed_by_reason"}
    out["failed_by_reason"] = [num(r) for r in summary["failed_by_reason"]]
    return out


async def run_report(session: AsyncSession, run: DebitOrderRun) -> dict[str, Any]:
    rows = (await session.execute(
        select(Collection.status, Collection.amount, Collection.failure_reason)
        .join(DebitOrderItem, DebitOrderItem.collection_id == Collection.id)
        .where(DebitOrderItem.run_id == run.id))).all()
    return {"run_id": str(run.uuid), "action_date": run.action_date.isoformat(), "status": run.status,
            "skipped": len(run.skipped or []), **_jsonable(summarise(list(rows)))}


def parse_month(value: str) -> tuple[date, date]:
    m = re.fullmatch(r"(\d{4})-(\d{2})", value or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValidationFailed("month must be YYYY-MM", field_errors={"month": ["Use YYYY-MM."]})
    y, mo = int(m.group(1)), int(m.group(2))
    start = date(y, mo, 1)
    end = date(y + (mo == 12), mo % 12 + 1, 1)
    return start, end


async def month_report(session: AsyncSession, org_id: int, month: str) -> dict[str, Any]:
    start, end = parse_month(month)
    rows = (await session.execute(
        select(Collection.status, Collection.amount, Collection.failure_reason)
        .where(Collection.org_id == org_id, Collection.collection_date >= start,
               Collection.collection_date < end))).all()
    runs = (await session.scalars(select(DebitOrderRun.uuid).where(
        DebitOrderRun.org_id == org_id, DebitOrderRun.action_date >= start, DebitOrderRun.action_date < end)
        .order_by(DebitOrderRun.action_date))).all()
    return {"month": month, "runs": [str(u) for u in runs], **_jsonable(summarise(list(rows)))}


def report_csv(report: dict[str, Any]) -> str:
    """One row per figure: metric, reason_code, reason, count, amount."""
    out = io.StringIO()
    w = SafeCsvWriter(out)  # names and references come from people: no formulas
    w.writerow(["metric", "reason_code", "reason", "count", "amount"])
    for key in ("collected", "failed", "outstanding", "cancelled"):
        w.writerow([key, "", "", report[key]["count"], f"{report[key]['amount']:.2f}"])
    for r in report["failed_by_reason"]:
        w.writerow(["failed_by_reason", r["reason_code"] or "", r["reason"], r["count"], f"{r['amount']:.2f}"])
    w.writerow(["total", "", "", report["total"]["count"], f"{report['total']['amount']:.2f}"])
    return out.getvalue()
