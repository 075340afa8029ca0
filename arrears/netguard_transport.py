"""The guarded outbound transport (webhooks, the SMS gateway): httpx's custom-transport interface
over httpcore connection pools whose network backend is netguard.GuardedBackend. Public APIs only (httpx.AsyncBaseTransport,
httpcore.AsyncConnectionPool(network_backend=...)).

- Why not httpx.AsyncHTTPTransport: it takes no network backend, and the address check must happen
  where the socket is opened (against DNS rebinding), so the httpcore pool is built here.
- Why several pools: httpcore's pool re-examines every connection for every queued request each
  time a request starts or ends, so its CPU grows with connections × requests; at 64 connections
  that costs more than the requests themselves. Pools of at most SHARD connections keep it flat,
  and each request goes to the pool with the most free connections.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable, Iterator
from functools import lru_cache
from typing import Any

import httpcore
import httpx

from arrears.netguard import GuardedBackend

SHARD = 8
KEEPALIVE_SECONDS = 30.0

# httpcore's errors as httpx's (most specific first), so callers catch httpx.HTTPError only.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError), (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError), (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError), (httpcore.ProxyError, httpx.ProxyError),
)


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, mapped in _ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc), request=request) from exc
        raise


@lru_cache(maxsize=1)
def ssl_context() -> Any:
    return httpx.create_ssl_context(trust_env=False)


class _Body(httpx.AsyncByteStream):
    """The response body; closing it tells the transport the request is over."""

    def __init__(self, stream: Any, request: httpx.Request, done: Callable[[], None]) -> None:
        self._stream = stream
        self._request = request
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        try:
            with _as_httpx_errors(self._request):
                await self._stream.aclose()
        finally:
            if self._done is not None:
                self._done()
                self._done = None


class GuardedTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 to the address GuardedBackend checked, over `connections` connections in all."""

    def __init__(self, connections: int) -> None:
        n = max(1, math.ceil(connections / SHARD))
        sizes = [connections // n + (i < connections % n) for i in range(n)]  # even: 10 → 5 + 5
        self._pools = [httpcore.AsyncConnectionPool(
            ssl_context=ssl_context(), max_connections=size, max_keepalive_connections=size,
            keepalive_expiry=KEEPALIVE_SECONDS, http1=True, http2=False, retries=0,
            network_backend=GuardedBackend()) for size in sizes]
        self._sizes = sizes
        self._busy = [0] * len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        i = max(range(len(self._pools)), key=lambda j: self._sizes[j] - self._busy[j])  # most free
        self._busy[i] += 1

        def done() -> None:
            self._busy[i] -= 1

        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        try:
            with _as_httpx_errors(request):
                resp = await self._pools[i].handle_async_request(core)
        except BaseException:
            done()
            raise
        return httpx.Response(status_code=resp.status, headers=resp.headers,
                              stream=_Body(resp.stream, request, done), extensions=resp.extensions)

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()
