"""The WebSocket hub: committed domain events → the sockets of the event's organisation.

`arrears.wiring.wire()` subscribes `publish_event` with `arrears.events.on_commit`, which hands the hub every event once its transaction has
committed (a rolled-back change is never announced). Without `REDIS_URL` the hub delivers to the
sockets of this process. With `REDIS_URL` it publishes the message on a Redis channel and every
process's hub (each one subscribed while it holds sockets) delivers it to its own sockets, so an
event raised by one server process or worker reaches the sockets held by another; the limit of
concurrent connections per organisation is then counted in Redis across processes too.

Sockets may live on several event loops (a test client runs the app on its own loop): each
connection remembers its loop and is fed through `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlparse

from arrears import outages
from arrears.config import get_settings
from arrears.db import isoz
from arrears.state import state

log = logging.getLogger(__name__)

MAX_CONNECTIONS_PER_ORG = 10
# Of a captive's 10, one user holds at most this many: a member's browser tabs cannot lock the
# captive's bank integration (its API key, which has no such share) out.
MAX_CONNECTIONS_PER_HOLDER = 3
QUEUE_SIZE = 1000  # messages waiting for one slow socket before it is dropped
SLOT_TTL = 90  # seconds a Redis connection slot lives without a heartbeat
SUBSCRIBE_WAIT = 5.0
COMPONENT = "realtime"  # its Redis fallback, as /metrics and the logs name it

#: domain event type → WebSocket message type
MESSAGE_TYPES = {
    "collection.updated": "collection_updated",
    "policy.created": "policy_updated",
    "policy.updated": "policy_updated",
    "policy.activated": "policy_updated",
    "policy.cancelled": "policy_updated",
}

# Members are "<holder>|<connection id>": 0 = the captive is full, -1 = the holder is.
_CLAIM = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
if #members >= tonumber(ARGV[2]) then return 0 end
local prefix = ARGV[5] .. '|'
local held = 0
for _, m in ipairs(members) do
  if string.sub(m, 1, #prefix) == prefix then held = held + 1 end
end
if held >= tonumber(ARGV[6]) then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
"""


def message_for(ev: Any) -> dict[str, Any] | None:
    """The spec's WebSocket message for a domain event, or None when sockets do not show it."""
    kind = MESSAGE_TYPES.get(ev.type)
    if kind is None or ev.org_id is None:
        return None
    return {"type": kind, "data": ev.data, "timestamp": isoz(ev.created_at)}


def channel_for(url: str) -> str:
    """Pub/sub channels are shared by all Redis databases; name the database in the channel."""
    return f"arrears:realtime:{urlparse(url).path.strip('/') or '0'}"


class HolderFull(Exception):
    """This user already holds MAX_CONNECTIONS_PER_HOLDER of the captive's sockets."""


class Connection:
    """One authenticated socket's inbox."""

    def __init__(self, org_id: int, loop: asyncio.AbstractEventLoop, holder: str = "") -> None:
        self.id = uuid.uuid4().hex
        self.org_id = org_id
        self.holder = holder  # "user:<id>", or "" (an API key: no share of its own)
        self.member = f"{holder}|{self.id}"  # its Redis slot
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = asyncio.Event()

    def offer(self, message: dict[str, Any]) -> None:
        """Runs on the connection's loop."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed.set()


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: dict[int, set[Connection]] = {}
        self._clients: dict[tuple[asyncio.AbstractEventLoop, str], Any] = {}
        self._pumps: dict[tuple[asyncio.AbstractEventLoop, str], tuple[asyncio.Queue[Any], asyncio.Task[None]]] = {}
        self._subs: dict[tuple[asyncio.AbstractEventLoop, str], tuple[asyncio.Event, asyncio.Task[None]]] = {}

    # ------------------------------------------------------------ settings, clients

    @staticmethod
    def redis_url() -> str | None:
        return get_settings().redis_url

    def _client(self, url: str) -> Any:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        with self._lock:
            self._forget_closed_loops()
            client = self._clients.get((loop, url))
            if client is None:
                client = aioredis.from_url(url, socket_connect_timeout=2, health_check_interval=30)
                self._clients[(loop, url)] = client
            return client

    def _forget_closed_loops(self) -> None:
        for table in (self._clients, self._pumps, self._subs):
            for key in [k for k in table if k[0].is_closed()]:
                del table[key]

    # ------------------------------------------------------------ connections

    def count(self, org_id: int) -> int:
        with self._lock:
            return len(self._conns.get(org_id, ()))

    async def connect(self, org_id: int, holder: str = "") -> Connection | None:
        """A new inbox for the organisation, or None when it already has the most connections;
        HolderFull when `holder` (a user or key) already holds its share of them."""
        conn = Connection(org_id, asyncio.get_running_loop(), holder)
        url = self.redis_url()
        counted_in_redis = False
        if url:
            try:
                now = time.time()
                ok = int(await self._client(url).eval(
                    _CLAIM, 1, self._slot_key(url, org_id), now, MAX_CONNECTIONS_PER_ORG, SLOT_TTL,
                    conn.member, holder,
                    MAX_CONNECTIONS_PER_HOLDER if holder else MAX_CONNECTIONS_PER_ORG))
                if ok == -1:
                    raise HolderFull(holder)
                if not ok:
                    return None
                counted_in_redis = True
                await self._ensure_subscriber(url)
                outages.recovered(COMPONENT)
            except HolderFull:
                raise
            except Exception as exc:  # Redis is down: count and deliver in this process only
                outages.fallback(COMPONENT, exc)
        with self._lock:
            conns = self._conns.setdefault(org_id, set())
            if not counted_in_redis:
                if len(conns) >= MAX_CONNECTIONS_PER_ORG:
                    return None
                if holder and sum(c.holder == holder for c in conns) >= MAX_CONNECTIONS_PER_HOLDER:
                    raise HolderFull(holder)
            conns.add(conn)
        return conn

    async def disconnect(self, conn: Connection) -> None:
        with self._lock:
            conns = self._conns.get(conn.org_id)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del self._conns[conn.org_id]
        url = self.redis_url()
        if url:
            with contextlib.suppress(Exception):
                await self._client(url).zrem(self._slot_key(url, conn.org_id), conn.member)

    async def heartbeat(self, conn: Connection) -> None:
        """Keep the connection's Redis slot alive (called with every ping)."""
        url = self.redis_url()
        if url:
            with contextlib.suppress(Exception):
                await self._client(url).zadd(self._slot_key(url, conn.org_id),
                                             {conn.member: time.time() + SLOT_TTL}, xx=True)

    @staticmethod
    def _slot_key(url: str, org_id: int) -> str:
        return f"arrears:ws:org:{org_id}"

    # ------------------------------------------------------------ fan-out

    def publish(self, org_id: int, message: dict[str, Any]) -> None:
        """Send a message to every socket of the organisation, in every process (sync: safe to
        call from an after-commit hook)."""
        url = self.redis_url()
        if url:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                self._pump(loop, url).put_nowait((org_id, message))
                return
        self.deliver_local(org_id, message)

    def deliver_local(self, org_id: int, message: dict[str, Any],
                      only_loop: asyncio.AbstractEventLoop | None = None) -> None:
        with self._lock:
            targets = list(self._conns.get(org_id, ()))
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for conn in targets:
            if only_loop is not None and conn.loop is not only_loop:
                continue
            if conn.loop is here:
                conn.offer(message)
            elif not conn.loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    conn.loop.call_soon_threadsafe(conn.offer, message)

    def _pump(self, loop: asyncio.AbstractEventLoop, url: str) -> asyncio.Queue[Any]:
        with self._lock:
            entry = self._pumps.get((loop, url))
            if entry is None or entry[1].done():
                queue: asyncio.Queue[Any] = asyncio.Queue()
                task = loop.create_task(self._run_pump(url, queue), name="realtime-publish")
                entry = (queue, task)
                self._pumps[(loop, url)] = entry
            return entry[0]

    async def _run_pump(self, url: str, queue: asyncio.Queue[Any]) -> None:
        """Publish in commit order, one message at a time."""
        channel = channel_for(url)
        while True:
            org_id, message = await queue.get()
            try:
                await self._client(url).publish(channel, json.dumps({"org_id": org_id,
                                                                     "message": message}))
            except Exception as exc:
                outages.fallback(COMPONENT, exc)  # logged once per outage
                self.deliver_local(org_id, message)
            else:
                outages.recovered(COMPONENT)
                if not self._subscribed(url):  # Redis is back but our subscriber is not yet
                    self.deliver_local(org_id, message, only_loop=asyncio.get_running_loop())
            finally:
                queue.task_done()

    async def _ensure_subscriber(self, url: str) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._subs.get((loop, url))
            if entry is None or entry[1].done():
                ready = asyncio.Event()
                task = loop.create_task(self._run_subscriber(url, ready, loop), name="realtime-subscribe")
                entry = (ready, task)
                self._subs[(loop, url)] = entry
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(entry[0].wait(), SUBSCRIBE_WAIT)

    def _subscribed(self, url: str) -> bool:
        """Whether this loop's subscriber listens (no subscriber: no local sockets to feed)."""
        with self._lock:
            entry = self._subs.get((asyncio.get_running_loop(), url))
        return entry is None or entry[0].is_set()

    async def _run_subscriber(self, url: str, ready: asyncio.Event,
                              loop: asyncio.AbstractEventLoop) -> None:
        import redis.asyncio as aioredis

        channel = channel_for(url)
        backoff = 0.5
        while True:
            client = aioredis.from_url(url, socket_connect_timeout=2)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(channel)
                ready.set()
                outages.recovered(COMPONENT)
                backoff = 0.5
                async for item in pubsub.listen():
                    if item.get("type") != "message":
                        continue
                    try:
                        payload = json.loads(item["data"])
                        self.deliver_local(int(payload["org_id"]), payload["message"], only_loop=loop)
                    except (ValueError, KeyError, TypeError):
                        log.warning("realtime: ignored a malformed message on %s", channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                ready.clear()  # until subscribed again, publishes are also delivered here
                outages.fallback(COMPONENT, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, outages.REDIS_RETRY_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def drain(self, within: float = 5.0) -> None:
        """Publish what this loop has queued, then stop its Redis tasks. A short-lived program
        (the CLI) calls it before its loop closes: cancelling a publish that is in flight can
        leave redis-py waiting forever, and asyncio.run() would wait with it."""
        loop = asyncio.get_running_loop()
        with self._lock:
            queues = [e[0] for k, e in self._pumps.items() if k[0] is loop and not e[1].done()]
        for queue in queues:
            try:
                await asyncio.wait_for(queue.join(), within)
            except TimeoutError:
                log.warning("realtime: %d messages not published to Redis before exit", queue.qsize())
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop this loop's Redis tasks and clients (tests; a server simply exits)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            tasks = [e[1] for k, e in list(self._pumps.items()) + list(self._subs.items())
                     if k[0] is loop]
            clients = [c for k, c in self._clients.items() if k[0] is loop]
            for table in (self._clients, self._pumps, self._subs):
                for key in [k for k in table if k[0] is loop]:
                    del table[key]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()


def hub() -> Hub:
    """The process's hub, kept by the application state; its close publishes what this loop
    still has queued (within a few seconds) and stops the loop's Redis tasks."""
    return state.obtain("realtime.hub", Hub, close=Hub.drain)


def shows(types: frozenset[str]) -> bool:
    """Whether sockets show any of these event types (events written in bulk reach
    `publish_event` only then)."""
    return bool(types & MESSAGE_TYPES.keys())


def publish_event(ev: Any) -> None:
    message = message_for(ev)
    if message is not None:
        hub().publish(ev.org_id, message)

