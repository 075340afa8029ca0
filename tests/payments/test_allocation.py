"""The allocation rules as pure functions, and the payments-changed hook's contract."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal as D

from arrears.accounts.ageing import level_schedule
from arrears.payments import hooks
from arrears.payments.allocation import allocate_buckets, fill_instalments
from arrears.payments.reading import derived_external_id, parse_day


def test_oldest_bucket_first_and_credit_in_current():
    buckets = {"current": D("10"), "d30": D("20"), "d60": D("0"), "d90": D("30"), "d180": D("5")}
    assert allocate_buckets(buckets, D("0")) == {"d180": D("5"), "d150": 0, "d120": 0, "d90": D("30"), "d60": 0,
                                                 "d30": D("20"), "current": D("10")}
    out = allocate_buckets(buckets, D("40"))
    assert (out["d180"], out["d90"], out["d30"], out["current"]) == (0, 0, D("15"), D("10"))
    out = allocate_buckets(buckets, D("70"))
    assert out["current"] == D("-5") and sum(out.values()) == D("-5")
    # A credit already on the report (a negative bucket) is left alone.
    out = allocate_buckets({"current": D("-10"), "d30": D("50")}, D("20"))
    assert out["d30"] == D("30") and out["current"] == D("-10")


def test_loan_payments_fill_instalments_in_date_order():
    schedule = level_schedule(D("100.00"), 3, date(2025, 1, 31))
    filled = fill_instalments(schedule, D("50.00"))
    assert [(i.due, i.amount, paid) for i, paid in filled] == [
        (date(2025, 2, 28), D("33.33"), D("33.33")), (date(2025, 3, 31), D("33.33"), D("16.67")),
        (date(2025, 4, 30), D("33.34"), D("0.00"))]
    assert [paid for _, paid in fill_instalments(schedule, D("500"))] == [D("33.33"), D("33.33"), D("33.34")]


def test_bank_dates_and_stable_derived_ids():
    for text, day in (("2025-07-02", date(2025, 7, 2)), ("2025/07/02", date(2025, 7, 2)),
                      ("02/07/2025", date(2025, 7, 2)), ("20250702", date(2025, 7, 2)),
                      ("2 Jul 2025", date(2025, 7, 2)), ("02-July-25", date(2025, 7, 2))):
        assert parse_day(text) == day, text
    for bad in ("", "31/02/2025", "soon", "Total", "2025-13-01"):
        assert parse_day(bad) is None, bad
    one = derived_external_id("2025-07-02", "10.00", "B1", "x", 1)
    assert one == derived_external_id("2025-07-02", "10.00", "B1", "x", 1)
    assert one != derived_external_id("2025-07-02", "10.00", "B1", "x", 2)


async def test_hook_gets_the_accounts_once_and_nothing_without_accounts():
    seen: list[tuple[int, list[uuid.UUID]]] = []

    async def fn(session, org_id, account_ids):
        seen.append((org_id, account_ids))

    a, b = uuid.uuid4(), uuid.uuid4()
    wired = hooks.registered()  # put back afterwards: what wire() registered stays
    hooks.reset()
    hooks.on_payments_changed(fn)
    hooks.on_payments_changed(fn)  # registered once
    try:
        await hooks.notify(None, 7, [b, None, a, b])  # type: ignore[arg-type]
        await hooks.notify(None, 7, [None])  # type: ignore[arg-type]
    finally:
        hooks.reset()
        for handler in wired:
            hooks.on_payments_changed(handler)
    assert seen == [(7, sorted([a, b]))]
