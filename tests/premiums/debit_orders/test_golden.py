"""Golden files of a run: the ACB file a fixed run writes, byte for byte, and the unpaids file
the bank sends back for it, parsed field by field into reconciliation records.

The golden files were written by the code once and checked by hand against the ACB layout
(`arrears.premiums.acb`): record ids, positions, counts, totals and the hash total. Set
`ARREARS_REGENERATE_GOLDEN=1` to rewrite them after a deliberate change."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from arrears.db import transaction
from arrears.identity.caller import Caller
from arrears.premiums.debit_orders.models import ReconciliationRecord
from arrears.premiums.debit_orders.reconciliation import import_answer
from arrears.premiums.models import Collection, Policy
from tests.premiums.debit_orders.helpers import captive, policy, rows, start

GOLDEN = Path(__file__).parent / "golden"


def _golden(name: str, text: str) -> str:
    path = GOLDEN / name
    if os.environ.get("ARREARS_REGENERATE_GOLDEN"):
        path.write_bytes(text.encode())
    return path.read_bytes().decode()


async def _fixed_run(world):
    org = await captive(world)
    await policy(org.id, "POL-1001", due="2024-02-29", amount="1500.00", mandate="MAN-789012",
                 bank_account_number="1234567890", bank_branch_code="632005", bank_account_type="current",
                 bank_account_holder="John Doe")
    await policy(org.id, "POL-1002", due="2024-02-29", amount="249.99", mandate="MAN-000002",
                 bank_account_number="62001234567", bank_branch_code="250655", bank_account_type="savings",
                 bank_account_holder="Thandi Mokoena-Naidoo")
    await policy(org.id, "POL-1003", due="2024-02-29", amount="80.10", mandate="MAN-000003",
                 bank_account_number="1000123456789", bank_branch_code="198765", bank_account_type="transmission",
                 bank_account_holder="Zoë Müller")  # a non-standard (13-digit) account, non-ASCII name
    return org, await start(org.id, date(2024, 2, 29), today=date(2024, 2, 27))


async def test_the_run_writes_the_golden_acb_file(world):
    _, started = await _fixed_run(world)
    acb = started.files[0]
    assert acb.content == _golden("run_acb_20240229.txt", acb.content)
    assert acb.filename == "ACB_AB12_20240229_G0007.txt"


async def test_the_golden_unpaids_file_is_parsed_into_records(world):
    org, _ = await _fixed_run(world)
    text = (GOLDEN / "unpaids_20240229.txt").read_bytes()
    async with transaction() as s:
        res = await import_answer(s, Caller.system(org.id), text, filename="unpaids_20240229.txt")
    got = await rows(select(ReconciliationRecord.line, ReconciliationRecord.reference, ReconciliationRecord.amount,
                            ReconciliationRecord.action_date, ReconciliationRecord.reason_code,
                            ReconciliationRecord.reason_text, ReconciliationRecord.outcome)
                     .where(ReconciliationRecord.file_id == res.file.id).order_by(ReconciliationRecord.line))
    assert got == [
        (3, "MAN-789012", Decimal("1500.00"), date(2024, 2, 29), "18", "Account holder deceased", "matched"),
        (4, "MAN-000003", Decimal("80.10"), date(2024, 2, 29), "30", "No authority to debit", "matched"),
    ]
    statuses = dict(await rows(select(Policy.policy_number, Collection.status)
                               .join(Policy, Policy.id == Collection.policy_id)))
    assert statuses == {"POL-1001": "failed", "POL-1002": "submitted", "POL-1003": "failed"}
