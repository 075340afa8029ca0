"""Webhook URLs must not reach loopback, private, link-local or metadata addresses.

Checked twice: when a subscription (or a client's webhookUrl) is saved, and when each connection
is opened. The second check lives in the HTTP client's network backend: the host name is resolved,
every address is checked, and the socket connects to a checked address, so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot slip through.
ARREARS_WEBHOOKS_ALLOW_PRIVATE=true turns both checks off (development and tests)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
from httpcore import AnyIOBackend, AsyncNetworkBackend, AsyncNetworkStream

from arrears.partners.settings import allow_private_webhooks

# Names that are internal wherever they resolve.
BLOCKED_NAMES = {"localhost", "metadata", "metadata.google.internal", "instance-data",
                 "metadata.azure.com"}
RESOLVE_TIMEOUT = 3.0
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class UnsafeDestination(Exception):
    """The URL points (or resolves) to an address webhooks may not reach."""


class BlockedConnection(httpcore.ConnectError):
    """Raised by the guarded backend; httpx reports it as a ConnectError with this message."""


def address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL:
            return False  # RFC 8215 local-use translation: never a public destination
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    # is_global is False for loopback, RFC 1918, link-local (169.254.169.254 metadata),
    # shared address space (100.64/10), unique-local IPv6 (fd00:ec2::254), reserved, unspecified.
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries, so that it is judged as that address: mapped
    (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4 (2002::/16), Teredo."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 stay IPv6 (unspecified, loopback)
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def _name_blocked(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host in BLOCKED_NAMES or host.endswith(".localhost") or host.endswith(".internal")


async def _resolve(host: str, port: int, seconds: float | None) -> list[str]:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(seconds or RESOLVE_TIMEOUT):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in seen:
            seen.append(addr)
    return seen


def _refuse(addresses: Iterable[str]) -> str | None:
    bad = [a for a in addresses if not address_allowed(a)]
    return bad[0] if bad else None


async def check_url(url: str) -> None:
    """Raise UnsafeDestination when `url` targets a forbidden address. A name that does not
    resolve now is accepted (DNS may not be live yet); the connection-time check still applies."""
    if allow_private_webhooks():
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise UnsafeDestination("The URL has no host.")
    if _name_blocked(host):
        raise UnsafeDestination(f"{host} is an internal host name; webhooks must reach a public address.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await _resolve(host, port, RESOLVE_TIMEOUT)
    except (OSError, TimeoutError, UnicodeError):
        return
    bad = _refuse(addresses)
    if bad is not None:
        raise UnsafeDestination(
            f"{host} resolves to {bad}, a loopback, private, link-local or reserved address; "
            "webhooks must reach a public address.")


class GuardedBackend(AsyncNetworkBackend):
    """httpcore network backend that resolves, checks, and connects to a checked address."""

    def __init__(self) -> None:
        self._inner = AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: Iterable[object] | None = None) -> AsyncNetworkStream:
        if allow_private_webhooks():
            return await self._inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                                 socket_options=socket_options)  # type: ignore[arg-type]
        if _name_blocked(host):
            raise BlockedConnection(f"refused to connect to internal host {host}")
        try:
            addresses = await _resolve(host, port, timeout)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        bad = _refuse(addresses)
        if bad is not None:
            raise BlockedConnection(f"refused to connect to {host}: it resolves to {bad}, "
                                    "a private or reserved address")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)  # type: ignore[arg-type]
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[object] | None = None) -> AsyncNetworkStream:
        raise BlockedConnection("webhooks never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
