"""The preview turns PostgreSQL's JIT off and gives `work_mem` at least 32MB for its own statements,
and puts the transaction's settings back after: a caller's transaction goes on as it was (a dry run
records the preview in the same transaction)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text

from arrears.db import transaction
from arrears.strategies import preview as previews
from tests.strategies.helpers import REPORT_DAY, book, row, strategy, template


async def _six_accounts_and_an_sms_step(rs: Any, tmp_path: Any) -> Any:
    t = await rs.tenant()
    await book(t, tmp_path, [row(f"A{i}", f"Name {i}", f"082 123 45{i:02d}", d30=100 + i) for i in range(6)])
    sms = await template(t)
    await strategy(t, [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 0}])
    return t


async def _preview_watched(s: Any, org_id: int, hook: Callable[..., None]) -> dict[str, Any]:
    """The preview with `hook` called before each statement it sends (on the statement's connection)."""
    engine = s.get_bind()
    event.listen(engine, "before_cursor_execute", hook)
    try:
        return await previews.preview_org(s, org_id, day=REPORT_DAY)
    finally:
        event.remove(engine, "before_cursor_execute", hook)


async def test_jit_is_off_and_work_mem_raised_for_the_preview_and_put_back_after(rs, tmp_path):
    t = await _six_accounts_and_an_sms_step(rs, tmp_path)
    async with transaction() as s:
        pg = s.get_bind().dialect.name == "postgresql"
        if pg:
            await s.execute(text("SET LOCAL jit = on"))
            await s.execute(text("SET LOCAL work_mem = '5MB'"))
        seen: list[tuple[str, str]] = []

        def note(conn, cursor, statement, params, context, many):  # noqa: ANN001, ARG001
            if pg and "GROUP BY" in statement:
                seen.append((conn.exec_driver_sql("SHOW jit").scalar(), conn.exec_driver_sql("SHOW work_mem").scalar()))

        out = await _preview_watched(s, t.org.id, note)
        assert out["messages"] == 6
        if pg:
            assert seen and set(seen) == {("off", "32MB")}  # each grouped statement: no JIT, more memory
            assert await s.scalar(text("SHOW jit")) == "on"  # and the transaction's settings are back
            assert await s.scalar(text("SHOW work_mem")) == "5MB"
            # A session given more memory than the preview's keeps it.
            await s.execute(text("SET LOCAL work_mem = '64MB'"))
            seen.clear()
            await _preview_watched(s, t.org.id, note)
            assert seen and set(seen) == {("off", "64MB")}
            assert await s.scalar(text("SHOW work_mem")) == "64MB"


async def test_the_preview_stages_can_run_in_parallel_workers(rs, tmp_path):
    """The SMS step's stages are fenced so that PostgreSQL does not flatten them (each expression once
    a row), but with a constant the planner reads as no offset: the stages and a partial aggregate
    may go below the Gather, into the parallel workers (an `OFFSET $1` fence keeps them above it, in
    one process). Checked on the preview's own statement, with parallel plans made free."""
    t = await _six_accounts_and_an_sms_step(rs, tmp_path)
    async with transaction() as s:
        pg = s.get_bind().dialect.name == "postgresql"
        plans: list[str] = []

        def explain(conn, cursor, statement, params, context, many):  # noqa: ANN001, ARG001
            if pg and "GROUP BY two.reason" in statement and not statement.startswith("EXPLAIN"):
                for setting in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0.1",
                                "min_parallel_table_scan_size = 0", "max_parallel_workers_per_gather = 2"):
                    conn.exec_driver_sql(f"SET LOCAL {setting}")
                rows = conn.exec_driver_sql("EXPLAIN (COSTS OFF) " + statement, params).all()
                plans.append("\n".join(r[0] for r in rows))

        out = await _preview_watched(s, t.org.id, explain)
        assert out["messages"] == 6 and out["accounts"] == 6
    if pg:
        assert len(plans) == 1, plans
        plan = plans[0]
        assert "Gather" in plan and "Partial" in plan, plan  # the grouping starts in the workers
        assert plan.index("Partial") < plan.index("Subquery Scan on zero"), plan  # above the stages
