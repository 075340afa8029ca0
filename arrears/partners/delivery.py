"""Sending webhook deliveries: claim due rows, POST them signed, record what happened.

One job kind, `partners.webhooks.drain`, drains every due delivery with bounded concurrency through
one shared httpx.AsyncClient (its transport, transport.py, checks every address it connects to),
then schedules itself for the next retry that falls due.

- Claiming counts the attempt and sets a lease before anything is sent, in its own transaction;
  a worker that dies mid-send leaves the lease to run out and the delivery is sent again with the
  same `webhook-id` (receivers de-duplicate on it). A lost last attempt ends FAILED.
- 2xx → DELIVERED. 410 Gone → FAILED and the subscription is PAUSED with the reason. Anything else
  (other statuses, redirects — never followed —, timeouts, connection errors, refused addresses)
  is retried after retryDelay × backoffMultiplier^(attempt-1), plus up to 20 % jitter, or after
  the receiver's Retry-After when that is later; after maxRetries retries, FAILED.
- Only a small part of a response body is read and kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, cast

import httpx
from sqlalchemy import Table, bindparam, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from arrears import outages
from arrears.db import transaction, utcnow
from arrears.identity import crypto
from arrears.jobs import queue
from arrears.jobs.models import Job
from arrears.partners import signing
from arrears.partners.catalogue import MAX_TIMEOUT
from arrears.partners.fanout import DRAIN_JOB, DRAIN_LOCK
from arrears.partners.models import ApiClient, WebhookDelivery, WebhookSubscription, webhook_id_of
from arrears.partners.settings import delivery_concurrency
from arrears.partners.transport import GuardedTransport
from arrears.state import on_this_loop, state

log = logging.getLogger("arrears.partners.delivery")

LEASE = timedelta(seconds=MAX_TIMEOUT + 60)
MAX_BODY = 2048
MAX_RETRY_AFTER = 86_400.0
MAX_DELAY = 7 * 86_400.0
USER_AGENT = "Arrears-Webhooks/1.0"
CLAIM_PAUSE = 0.1  # after a claim that found less than it asked for, wait this long before the next


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    subscription_id: uuid.UUID
    attempt: int  # this attempt's number, 1-based
    attempt_limit: int
    payload: dict[str, Any]
    scheduled_for: datetime
    url: str
    secret_enc: str
    timeout: int
    retry_delay: int
    backoff_multiplier: float


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    code: int | None = None
    body: str | None = None
    error: str | None = None
    retry_after: float | None = None


# ---------------------------------------------------------------- the shared HTTP client


@dataclass
class _Http:
    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    slots: asyncio.Semaphore


def http_client(connections: int | None = None) -> _Http:
    """One client (and one bound on requests in flight) per process and event loop, kept by
    the application state (closed by `state.close()`)."""
    loop = asyncio.get_running_loop()

    def build() -> _Http:
        n = connections or delivery_concurrency()
        client = httpx.AsyncClient(transport=GuardedTransport(n), follow_redirects=False,
                                   trust_env=False, headers={"user-agent": USER_AGENT})
        return _Http(loop, client, asyncio.Semaphore(n))

    return state.obtain("partners.http", build,
                        usable=lambda h: h.loop is loop and not h.client.is_closed,
                        close=on_this_loop(lambda h: h.client.aclose(), lambda h: h.loop))


@lru_cache(maxsize=2048)
def _secret(secret_enc: str) -> str:
    return crypto.decrypt(secret_enc)


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


async def send(c: Claimed) -> Outcome:
    """One signed POST. Never raises for what the receiver or the network does."""
    http = http_client()
    body = body_of(c.payload)
    msg_id = webhook_id_of(c.id)
    headers = {"content-type": "application/json"}
    try:
        secret = _secret(c.secret_enc)
    except ValueError as exc:
        return Outcome(c, error=f"Cannot sign: {exc}")
    async with http.slots:
        headers.update(signing.headers(secret, msg_id, int(time.time()), body))
        try:
            async with asyncio.timeout(c.timeout):
                async with http.client.stream("POST", c.url, content=body, headers=headers,
                                              timeout=c.timeout) as resp:
                    kept = bytearray()
                    async for chunk in resp.aiter_raw():
                        kept += chunk
                        if len(kept) >= MAX_BODY:
                            break
                    text_ = bytes(kept[:MAX_BODY]).decode("utf-8", "replace")
                    error = None
                    if 300 <= resp.status_code < 400:
                        error = (f"HTTP {resp.status_code}: redirects are not followed "
                                 f"(Location: {resp.headers.get('location', '')[:200]})")
                    elif not 200 <= resp.status_code < 300:
                        error = f"HTTP {resp.status_code}"
                    return Outcome(c, code=resp.status_code, body=text_, error=error,
                                   retry_after=parse_retry_after(resp.headers.get("retry-after")))
        except TimeoutError:
            return Outcome(c, error=f"Timed out after {c.timeout} s")
        except httpx.HTTPError as exc:
            return Outcome(c, error=f"{type(exc).__name__}: {exc}"[:500])
        except OSError as exc:
            return Outcome(c, error=f"{type(exc).__name__}: {exc}"[:500])


# ---------------------------------------------------------------- claiming and recording


def _due(now: datetime) -> list[Any]:
    D, S = WebhookDelivery, WebhookSubscription
    return [D.status == "PENDING", D.scheduled_for <= now,
            or_(D.lease_until.is_(None), D.lease_until < now),
            S.status == "ACTIVE", ApiClient.status == "ACTIVE"]


def _joined(*cols: Any) -> Any:
    D, S = WebhookDelivery, WebhookSubscription
    return (select(*cols).join(S, S.id == D.subscription_id).join(ApiClient, ApiClient.id == S.client_id))


async def claim(limit: int, *, engine: AsyncEngine | None = None) -> list[Claimed]:
    """Take up to `limit` due deliveries: count the attempt and lease them, then commit."""
    D, S = WebhookDelivery, WebhookSubscription
    now = utcnow()
    async with transaction(engine=engine) as s:
        q = (_joined(D.id, D.subscription_id, D.attempt_count, D.attempt_limit, D.payload, D.scheduled_for,
                     S.url, S.secret_enc, S.timeout, S.retry_delay, S.backoff_multiplier)
             .where(*_due(now)).order_by(D.scheduled_for, D.id).limit(limit))
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(of=D, skip_locked=True)
        rows = (await s.execute(q)).all()
        lost = [r.id for r in rows if r.attempt_count >= r.attempt_limit]
        live = [r for r in rows if r.attempt_count < r.attempt_limit]
        if lost:
            await s.execute(update(D).where(D.id.in_(lost)).values(
                status="FAILED", lease_until=None, updated_at=now,
                last_error="The worker sending the last attempt stopped before an answer was recorded"))
        if live:
            await s.execute(update(D).where(D.id.in_([r.id for r in live])).values(
                attempt_count=D.attempt_count + 1, lease_until=now + LEASE, last_attempt_at=now,
                updated_at=now))
    return [Claimed(r.id, r.subscription_id, r.attempt_count + 1, r.attempt_limit, r.payload,
                    r.scheduled_for, r.url, r.secret_enc, r.timeout, r.retry_delay,
                    float(r.backoff_multiplier)) for r in live]


def retry_delay(c: Claimed, retry_after: float | None, rng: random.Random | None = None) -> float:
    base = c.retry_delay * (c.backoff_multiplier ** (c.attempt - 1))
    delay = min(MAX_DELAY, base) * (rng or random).uniform(1.0, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return min(delay, MAX_DELAY)


_t = cast(Table, WebhookDelivery.__table__)
_RESULT = (update(_t).where(_t.c.id == bindparam("b_id"), _t.c.attempt_count == bindparam("b_attempt"),
                            _t.c.status == "PENDING")
           .values(status=bindparam("b_status"), response_code=bindparam("b_code"),
                   response_body=bindparam("b_body"), last_error=bindparam("b_error"),
                   scheduled_for=bindparam("b_scheduled"), delivered_at=bindparam("b_delivered"),
                   lease_until=None, updated_at=bindparam("b_now")))


_RELEASE = (update(_t).where(_t.c.id == bindparam("b_id"), _t.c.attempt_count == bindparam("b_attempt"),
                             _t.c.status == "PENDING")
            .values(attempt_count=_t.c.attempt_count - 1, lease_until=None))


async def release(claimed: list[Claimed], *, engine: AsyncEngine | None = None) -> None:
    """Hand back claimed deliveries that were never sent: their attempt does not count."""
    if claimed:
        async with transaction(engine=engine) as s:
            await s.execute(_RELEASE, [{"b_id": c.id, "b_attempt": c.attempt} for c in claimed])


def gone_reason(o: Outcome, now: datetime) -> str:
    return (f"The endpoint answered 410 Gone at {now.strftime('%Y-%m-%dT%H:%M:%SZ')} "
            f"(delivery {o.claimed.id}); set the status to ACTIVE to resume")


async def record(outcomes: list[Outcome], *, engine: AsyncEngine | None = None) -> None:
    """Write the attempts' results in one transaction (only over the attempt they claimed)."""
    if not outcomes:
        return
    now = utcnow()
    params: list[dict[str, Any]] = []
    gone: dict[uuid.UUID, str] = {}
    for o in outcomes:
        c = o.claimed
        row = {"b_id": c.id, "b_attempt": c.attempt, "b_code": o.code, "b_body": o.body,
               "b_error": o.error, "b_scheduled": c.scheduled_for, "b_delivered": None, "b_now": now}
        if o.code is not None and 200 <= o.code < 300:
            row |= {"b_status": "DELIVERED", "b_delivered": now}
        elif o.code == 410:
            row |= {"b_status": "FAILED"}
            gone.setdefault(c.subscription_id, gone_reason(o, now))
        elif c.attempt >= c.attempt_limit:
            row |= {"b_status": "FAILED"}
        else:
            row |= {"b_status": "PENDING",
                    "b_scheduled": now + timedelta(seconds=retry_delay(c, o.retry_after))}
        params.append(row)
    async with transaction(engine=engine) as s:
        await s.execute(_RESULT, params)
        for sub_id, reason in gone.items():
            await s.execute(update(WebhookSubscription)
                            .where(WebhookSubscription.id == sub_id, WebhookSubscription.status == "ACTIVE")
                            .values(status="PAUSED", paused_reason=reason, updated_at=now))
            log.warning("webhook subscription %s paused: %s", sub_id, reason)


async def _schedule(s: AsyncSession, at: datetime) -> None:
    """A drain job at `at` (whole seconds; one per second at most)."""
    second = math.ceil(at.timestamp())
    key = f"{DRAIN_JOB}@{second}"
    if await s.scalar(select(Job.id).where(Job.dedupe_key == key)) is not None:
        return
    try:
        async with s.begin_nested():
            await queue.enqueue(s, DRAIN_JOB, {}, run_at=datetime.fromtimestamp(second, UTC),
                                dedupe_key=key, max_attempts=20)
    except IntegrityError:  # another drain scheduled the same second
        pass


async def settle(*, engine: AsyncEngine | None = None) -> bool:
    """Nothing left in flight: True when nothing is due (after scheduling the next drain)."""
    D = WebhookDelivery
    async with transaction(engine=engine) as s:
        if s.get_bind().dialect.name == "postgresql":
            # Wait for no transaction that relied on a queued drain (fanout.request_drain) to be open.
            if not await s.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": DRAIN_LOCK}):
                await _schedule(s, utcnow() + timedelta(seconds=1))
                return True
        now = utcnow()
        if await s.scalar(_joined(D.id).where(*_due(now)).limit(1)) is not None:
            return False
        nxt = await s.scalar(_joined(func.min(func.coalesce(D.lease_until, D.scheduled_for)))
                             .where(D.status == "PENDING", WebhookSubscription.status == "ACTIVE",
                                    ApiClient.status == "ACTIVE"))
        if nxt is not None:
            if isinstance(nxt, str):  # in case an aggregate loses the column type
                nxt = datetime.fromisoformat(nxt)
            if nxt.tzinfo is None:
                nxt = nxt.replace(tzinfo=UTC)
            await _schedule(s, max(nxt, now + timedelta(seconds=1)))
        return True


# ---------------------------------------------------------------- the drain


async def drain(*, concurrency: int | None = None, engine: AsyncEngine | None = None) -> int:
    """Deliver everything due (including what falls due meanwhile); returns the attempts made.

    `concurrency` senders take claimed deliveries from a queue that this coroutine keeps filled a
    little ahead of them, so a sender never waits for the database; finished attempts are recorded
    in batches between claims (one coroutine talks to the database, one write at a time)."""
    conc = concurrency or delivery_concurrency()
    http_client(conc)
    batch = max(1, conc // 4)
    ready: asyncio.Queue[Claimed | None] = asyncio.Queue()
    finished: list[Outcome] = []
    wake = asyncio.Event()
    busy = 0
    attempts = 0
    handed_back: list[Claimed] = []

    async def sender() -> None:
        nonlocal busy
        while (c := await ready.get()) is not None:
            busy += 1
            try:
                finished.append(await send(c))
            except Exception as exc:  # a bug, not the receiver: count it as a failed attempt
                log.exception("sending delivery %s failed", c.id)
                finished.append(Outcome(c, error=f"Internal error: {type(exc).__name__}"))
            finally:
                busy -= 1
                wake.set()

    senders = [asyncio.create_task(sender()) for _ in range(conc)]
    next_claim = 0.0  # monotonic time before which a claim is pointless (the last one came up short)
    try:
        while True:
            if finished:
                done, finished[:] = list(finished), []
                await record(done, engine=engine)
            want = 2 * conc - ready.qsize() - busy
            now = time.monotonic()
            if want >= batch and now >= next_claim:
                claimed = await claim(want, engine=engine)
                attempts += len(claimed)
                for c in claimed:
                    ready.put_nowait(c)
                next_claim = 0.0 if len(claimed) == want else now + CLAIM_PAUSE
                if claimed:
                    continue
            if ready.empty() and busy == 0 and not finished:
                if next_claim == 0.0:
                    continue
                if await settle(engine=engine):
                    return attempts
                next_claim = 0.0
                continue
            wake.clear()
            pause = next_claim - time.monotonic()
            if finished:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause if pause > 0 else None):
                    await wake.wait()
    except Exception as exc:
        if outages.db_unavailable(exc):
            # The database went away: let the sends in flight end, so that their answers are
            # recorded below once it is back (cancelled, they would wait out their lease).
            handed_back += [c for c in (ready.get_nowait() for _ in range(ready.qsize())) if c is not None]
            for _ in senders:
                ready.put_nowait(None)
            await asyncio.wait(senders, timeout=MAX_TIMEOUT + 5)
        raise
    finally:
        for t in senders:
            t.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        unsent = handed_back + [c for c in (ready.get_nowait() for _ in range(ready.qsize())) if c is not None]
        wait = outages.DbBackoff(where="webhook-delivery")
        while True:
            try:  # leave no claimed-but-unsent attempt counted, and no answer unrecorded
                await release(unsent, engine=engine)
                await record(list(finished), engine=engine)
                break
            except Exception as exc:
                # The database is away: keep the answers until it is back (bounded), rather than
                # leave sent deliveries leased, to be sent again when the lease runs out.
                if outages.db_unavailable(exc) and wait.failures < 8:
                    await wait.wait(exc)
                    continue
                log.exception("could not hand back %s unsent deliveries", len(unsent))
                break
        wait.ok()
