"""Builders shared by the debit-order tests: a configured captive and its policies, made through
the services (as the API and the CLI make them)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from arrears.identity.caller import Caller

ACB_USER = {"user_code": "AB12", "abbreviated_name": "ALPHACAP", "nominated_branch": "580105",
            "nominated_account": "10012345678", "generation_number": 7, "auto_success_days": 5}


async def captive(world: Any, name: str = "Alpha Captive", **settings: Any) -> Any:
    from arrears.db import transaction
    from arrears.premiums.debit_orders.settings import update_settings

    org = await world.org(name, kind="cell_captive")
    async with transaction() as s:
        await update_settings(s, Caller.system(org.id), {**ACB_USER, **settings})
    return org


async def policy(org_id: int, number: str, *, due: str | None, amount: str = "150.00",
                 frequency: str = "monthly", mandate: str | None = "default", **fields: Any) -> Any:
    from arrears.db import transaction
    from arrears.premiums import service
    from arrears.premiums.schemas import PolicyUpdateIn

    body: dict[str, Any] = {
        "policy_number": number, "client_name": f"Client {number}", "premium_amount": amount,
        "frequency": frequency, "mandate_reference": f"M{number}" if mandate == "default" else mandate,
        "bank_account_number": "62001234567", "bank_branch_code": "250655", "bank_account_type": "savings",
        "next_collection_date": due, **fields}
    async with transaction() as s:
        res = await service.upsert_policy(s, Caller.system(org_id), PolicyUpdateIn.model_validate(body))
        return res.policy


async def count(model: Any, *where: Any) -> int:
    from arrears.db import transaction

    async with transaction(readonly=True) as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def rows(q: Any) -> list[Any]:
    from arrears.db import transaction

    async with transaction(readonly=True) as s:
        return list((await s.execute(q)).all())


async def start(org_id: int, on: date, today: date | None = None) -> Any:
    from arrears.db import transaction
    from arrears.premiums.debit_orders import service

    async with transaction() as s:
        started = await service.start_run(s, Caller.system(org_id, "test"), on, today=today)
        return started
