"""The home page's figures. Each section is built by calling its domain's service; a section with
nothing to show for this caller (role, or no data yet) is left out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arrears.web.context import Ctx

OFFICE = ("admin", "manager", "collection_officer")
COLLECTION_WINDOW_DAYS = 90


@dataclass
class Stat:
    label: str
    value: str
    href: str | None = None
    sub: str | None = None


@dataclass
class Section:
    title: str
    stats: list[Stat] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)  # (heading, svg)
    empty: tuple[str, str, str | None, str | None] | None = None  # title, text, href, label


async def sections(ctx: Ctx) -> list[Section]:
    out: list[Section] = []
    for builder in BUILDERS:
        section = await builder(ctx)
        if section is not None:
            out.append(section)
    return out


async def _agents(ctx: Ctx) -> Section | None:
    from arrears.customers import interactions as customers

    due = await customers.due_interactions(ctx.db, ctx.caller)
    return Section("Agents", [Stat("Calls and visits due today", str(len(due)), "/app/queue",
                                   "follow-ups whose date has come")])


async def _book(ctx: Ctx) -> Section | None:
    if ctx.caller.role not in OFFICE:
        return None
    from arrears.web.pages import books
    from arrears.web.render import money, number, percent, svg

    overview = await books.book_overview(ctx)
    if overview is None:
        return Section("Debtor book", empty=(
            "No debtor book yet.", "Upload your age analysis to see balances, ageing and trends here.",
            "/app/books" if ctx.can_write else None, "Upload a debtor book"))
    # The book's figures: every account some report listed and none has settled since, the same
    # accounts the pharmacy page lists, whichever reports (spreadsheets, PDFs) brought them.
    r = overview["report"]
    b = overview["book"]
    share = 100 * b["overdue_balance"] / b["total_balance"] if b["total_balance"] else 0
    as_at = f" (as at {r.report_date.isoformat()})" if r.report_date else ""
    section = Section(f"Debtor book · {r.original_filename}{as_at}", [
        Stat("Total balance", money(b["total_balance"], ctx.currency), "/app/pharmacy",
             f"{number(b['total_accounts'])} accounts"),
        Stat("Overdue balance", money(b["overdue_balance"], ctx.currency), "/app/pharmacy",
             f"{number(b['overdue_accounts'])} accounts ({percent(share)})"),
    ])
    section.charts.append(("Ageing by bucket", svg(book_chart(b, ctx.currency))))
    if overview["trend_chart"]:
        section.charts.append(("Trend across the last uploads", svg(overview["trend_chart"])))
    return section


def book_chart(figures: dict[str, Any], currency: str) -> str:
    from arrears.debtors.summary import BUCKETS
    from arrears.web import charts
    from arrears.web.render import money

    data = [charts.Datum(bucket.name, figures["buckets"][bucket.key], "/app/pharmacy",
                         money(figures["buckets"][bucket.key], currency)) for bucket in BUCKETS]
    return charts.bar_chart(data, title="Balance by age bucket", css_class="chart-bars-ageing")


async def _premiums(ctx: Ctx) -> Section | None:
    from arrears.premiums.listing import collection_outcomes, may_view

    if not may_view(ctx.caller):
        return None
    from datetime import date, timedelta

    from arrears.web.render import number, percent

    since = date.today() - timedelta(days=COLLECTION_WINDOW_DAYS)
    counts = await collection_outcomes(ctx.db, ctx.caller, since)
    if not counts:
        return None
    ok, failed = counts.get("successful", 0), counts.get("failed", 0)
    rate = percent(100 * ok / (ok + failed)) if ok + failed else "—"
    waiting = counts.get("pending", 0) + counts.get("submitted", 0)
    return Section("Premium collections", [
        Stat("Collections success rate", rate, "/app/premiums/collections?status=failed",
             f"{number(ok)} successful, {number(failed)} failed in the last {COLLECTION_WINDOW_DAYS} days"),
        Stat("Awaiting the bank", number(waiting), "/app/premiums/collections?status=submitted",
             "pending or submitted"),
    ])


async def _messages(ctx: Ctx) -> Section | None:
    if ctx.caller.role not in OFFICE:
        return None
    from datetime import datetime, time, timedelta

    from arrears.messaging.stats import counts_since
    from arrears.web.render import number, zone

    today = datetime.now(zone(ctx.tz)).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), time(0), tzinfo=zone(ctx.tz))
    counts = await counts_since(ctx.db, ctx.caller, monday)
    sent = sum(counts.get(k, 0) for k in ("sent", "delivered", "read"))
    delivered = counts.get("delivered", 0) + counts.get("read", 0)
    waiting = counts.get("pending", 0) + counts.get("sending", 0)
    return Section("Messages this week", [
        Stat("Sent", number(sent), "/app/messaging/log", f"since Monday; {number(waiting)} waiting"),
        Stat("Delivered", number(delivered), "/app/messaging/log?status=delivered",
             f"{round(100 * delivered / sent)}% of those sent" if sent else "none sent yet"),
        Stat("Failed or not sent", number(counts.get("failed", 0)), "/app/messaging/log?status=failed"),
    ])


async def _collections(ctx: Ctx) -> Section | None:
    """Collected per month, the promises' kept rate (the last 12 months) and the CEI of the two
    newest reports, over the accounts this person sees (arrears.figures)."""
    from arrears.figures import service as figures
    from arrears.web import charts
    from arrears.web.render import money, number, percent, svg

    span = figures.period(today=await figures.org_today(ctx.db, ctx.caller.org_id))
    collected = await figures.collected(ctx.db, ctx.caller, span)
    promises = figures.agent_totals(await figures.promise_figures(ctx.db, ctx.caller, span))
    cei = await figures.cei(ctx.db, ctx.caller)
    if cei is not None and cei.index is None:
        cei = None  # nothing owed at the start, among the accounts this person sees
    total = sum((c.collected for c in collected), figures.ZERO)
    made, kept, broken = (sum(getattr(p, k) for p in promises) for k in ("made", "kept", "broken"))
    if not total and not made and cei is None:
        return None
    this_month = collected[-1]
    stats = [Stat("Collected this month", money(this_month.collected, ctx.currency), None,
                  f"{money(this_month.payments, ctx.currency)} in payments; {money(total, ctx.currency)} "
                  f"in the last {len(collected)} months"),
             Stat("Promises kept", percent(figures.rate(kept, kept + broken)), "/app/agents",
                  f"{number(kept)} kept, {number(broken)} broken of {number(made)} made in the last "
                  f"{len(collected)} months")]
    if cei is not None:
        stats.append(Stat("Collection effectiveness", percent(cei.index), None,
                          f"{cei.earlier.report_date} to {cei.later.report_date} (the two newest reports)"))
    data = [charts.Datum(c.month, c.collected, None, money(c.collected, ctx.currency)) for c in collected]
    section = Section("Collections", stats)
    section.charts.append(("Collected per month", svg(charts.bar_chart(data, title="Collected per month",
                                                                         css_class="chart-bars-collected"))))
    return section


BUILDERS: list[Any] = [_book, _collections, _messages, _premiums, _agents]
