"""One place that connects the domains: every process calls `wire()` at start.

Nothing registers itself by being imported. The server (`arrears.app.create_app`), the worker
(`Worker.run`) and the CLI (its start-up helper) call `wire()`, so each of them has the same
in-transaction handlers (the partner webhook fan-out writes its delivery rows in the event's own
transaction), the same after-commit publishers (the WebSocket hub), the same customer-timeline
sources, the same job handlers and every table in the ORM's metadata, on SQLite and PostgreSQL
alike. `wire()` is idempotent: each registry ignores what it already holds.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def _import_all(suffixes: tuple[str, ...]) -> None:
    import arrears

    for mod in pkgutil.walk_packages(arrears.__path__, "arrears."):
        if mod.name != "arrears.jobs" and mod.name.endswith(suffixes):
            importlib.import_module(mod.name)


def _timeline_sources() -> list[Any]:
    """The other domains' customer-timeline sources (the customers domain has its own three)."""
    from arrears.accounts.timeline import status_entries
    from arrears.debtors.timeline import balance_entries
    from arrears.messaging.service import _timeline_entries as message_entries
    from arrears.premiums.timeline import policy_entries
    from arrears.promises.timeline import promise_entries

    return [message_entries, balance_entries, policy_entries, status_entries, promise_entries]


def wire() -> None:
    from arrears import datadir, events
    from arrears.accounts import service as accounts
    from arrears.customers.interactions import register_account_resolver, register_promise_recorder
    from arrears.customers.timeline import register_timeline_source
    from arrears.debtors.hooks import on_book_updated
    from arrears.jobs import queue
    from arrears.letters import service as letters
    from arrears.messaging.attachments import register_attachment_source
    from arrears.partners import fanout
    from arrears.payments.balances import counted_payments
    from arrears.payments.hooks import on_payments_changed
    from arrears.promises import evaluate as promises
    from arrears.promises import service as promise_service
    from arrears.realtime import hub
    from arrears.strategies import jobs as strategies
    from arrears.tasks import service as tasks

    datadir.secure()  # the data directory 0700, its files 0600, from here on
    # Every table (a foreign key may name another domain's table) and every job handler.
    importlib.import_module("arrears.events")
    _import_all((".models",))
    _import_all((".jobs", "_jobs"))

    events.install_session_hooks()
    fanout.install_session_hooks()
    queue.install_session_hooks()

    # (`wants`: which events written in bulk each needs to see at all.)
    events.subscribe(accounts.on_event, wants=accounts.wants_events)  # a new loan gets its account first
    events.subscribe(tasks.on_event, wants=tasks.wants_events)  # an interaction completes its account's tasks
    events.subscribe(fanout.on_event, wants=fanout.wants)
    events.on_commit(hub.publish_event, wants=hub.shows)
    on_book_updated(accounts.on_book_updated, fresh=accounts.prepare_fresh_book)  # beside a fresh book's job
    accounts.register_payments_source(counted_payments)  # balances net of payments
    on_book_updated(promises.on_book_updated)  # after the accounts: a later report may keep a promise
    on_book_updated(strategies.on_book_updated)  # after the promises: queues a run for after this commit
    on_payments_changed(promises.on_payments_changed)
    register_account_resolver(accounts.interaction_refs)
    register_promise_recorder(promise_service.record_for_interactions)
    register_attachment_source(letters.attachments_for_messages)  # a letter's PDF rides on its e-mail
    for source in _timeline_sources():
        register_timeline_source(source)
    _settle_startup()


_settled = False


def _settle_startup() -> None:
    """Once per process, at its first wiring: the ORM's mappers configured (as the first query
    would, at a request's or a job's cost) and then everything the start-up made — modules,
    classes, the tables' metadata, the mappers — moved out of the garbage collector's way
    (`gc.freeze`). Those objects live as long as the process, yet each full collection walked
    all of them again (0.1 to 0.15 CPU-s with the whole application loaded: paid by whichever
    request or job happened to trigger it — a payments import of 100,000 lines, measured). Later
    wirings (a test harness wires for each test) freeze nothing more, so a test's garbage is
    still collected."""
    global _settled
    if _settled:
        return
    _settled = True
    import gc

    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    gc.collect()  # what is garbage already is not frozen
    gc.freeze()


async def worker_started(engine: Any = None) -> None:
    """What a worker does once at start, after `wire()`: the daily chains of jobs (the promises'
    evaluation at each organisation's local midnight, the strategies' runs at its chosen time) are
    there. A database that is away now is not the worker's end: the chains are also started by
    each promise, each strategy and by each day's job."""
    import logging

    from arrears.db import transaction
    from arrears.promises import jobs as promises
    from arrears.strategies import jobs as strategies

    try:
        async with transaction(engine=engine) as s:
            await promises.seed(s)
            await strategies.seed(s)
    except Exception:
        logging.getLogger("arrears.worker").warning("could not seed the daily jobs at start", exc_info=True)


def registered() -> dict[str, list[str]]:
    """What is wired, by qualified name (tests compare the entry points with it)."""
    from arrears import events
    from arrears.customers import interactions
    from arrears.customers import timeline as customers
    from arrears.debtors import hooks
    from arrears.payments import hooks as payments

    def names(fns: Any) -> list[str]:
        return [f"{fn.__module__}.{fn.__qualname__}" for fn in fns]

    in_tx, publishers = events.registered()
    return {"in_transaction": names(in_tx), "after_commit": names(publishers),
            "timeline": names(customers._timeline_sources), "after_book": names(hooks.registered()),
            "account_resolvers": names(interactions._account_resolvers),
            "after_payments": names(payments.registered()),
            "promise_recorders": names(interactions._promise_recorders)}


def unwire() -> None:
    """Undo `wire()`'s registrations (tests start an entry point from nothing with it)."""
    from arrears import events
    from arrears.accounts import service as accounts
    from arrears.customers import interactions
    from arrears.customers import timeline as customers
    from arrears.debtors import hooks
    from arrears.letters import service as letters
    from arrears.messaging.attachments import unregister_attachment_source
    from arrears.payments import hooks as payment_hooks
    from arrears.payments.balances import counted_payments
    from arrears.promises import service as promise_service

    events.reset()
    hooks.reset()
    payment_hooks.reset()
    accounts.unregister_payments_source(counted_payments)
    interactions.unregister_account_resolver(accounts.interaction_refs)
    interactions.unregister_promise_recorder(promise_service.record_for_interactions)
    unregister_attachment_source(letters.attachments_for_messages)
    for source in _timeline_sources():
        if source in customers._timeline_sources:
            customers._timeline_sources.remove(source)
