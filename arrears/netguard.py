"""Outbound addresses an organisation or partner sets (webhook URLs, an SMS gateway URL, an SMTP
host) must not reach loopback, private, link-local or metadata addresses.

Checked twice: when the address is saved, and when each connection is opened. The second check lives in the HTTP client's network backend: the host name is resolved,
every address is checked, and the socket connects to a checked address, so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot slip through.
ARREARS_WEBHOOKS_ALLOW_PRIVATE=true turns both checks off (development and tests).
A core module: partners, messaging and identity all use it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
from httpcore import AnyIOBackend, AsyncNetworkBackend, AsyncNetworkStream

from arrears.config import get_settings

# Names that are internal wherever they resolve.
BLOCKED_NAMES = {"localhost", "metadata", "metadata.google.internal", "instance-data",
                 "metadata.azure.com"}
RESOLVE_TIMEOUT = 3.0
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


def allow_private_webhooks() -> bool:
    """ARREARS_WEBHOOKS_ALLOW_PRIVATE=true: loopback and private networks are allowed."""
    return get_settings().webhooks.allow_private


class UnsafeDestination(Exception):
    """The URL or host points (or resolves) to an address Arrears may not reach."""


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


async def check_url(url: str, *, what: str = "webhooks") -> None:
    """Raise UnsafeDestination when `url` targets a forbidden address (or is not http/https).
    A name that does not resolve now is accepted (DNS may not be live yet); the connection-time
    check still applies."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeDestination("The URL must start with http:// or https://.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeDestination("The URL's port is not a number from 1 to 65535.") from exc
    await check_host(parts.hostname or "", port, what=what)


async def check_host(host: str, port: int, *, what: str = "webhooks") -> None:
    """Raise UnsafeDestination when `host` is an internal name or resolves to a forbidden
    address; `what` names the setting's users in the message ("webhooks", "the SMTP host")."""
    if allow_private_webhooks():
        return
    if not host:
        raise UnsafeDestination("The address has no host.")
    if _name_blocked(host):
        raise UnsafeDestination(f"{host} is an internal host name; {what} must reach a public address.")
    try:
        addresses = await _resolve(host, port, RESOLVE_TIMEOUT)
    except (OSError, TimeoutError, UnicodeError):
        return
    bad = _refuse(addresses)
    if bad is not None:
        raise UnsafeDestination(
            f"{host} resolves to {bad}, a loopback, private, link-local or reserved address; "
            f"{what} must reach a public address.")


async def checked_addresses(host: str, port: int, timeout: float | None = None) -> list[str]:  # noqa: ASYNC109
    """Connection time: resolve `host` and return its addresses, every one checked (unchecked
    when private addresses are allowed). Raises UnsafeDestination, or OSError/TimeoutError when
    the name does not resolve."""
    if not allow_private_webhooks() and _name_blocked(host):
        raise UnsafeDestination(f"refused to connect to internal host {host}")
    addresses = await _resolve(host, port, timeout)
    if not allow_private_webhooks():
        bad = _refuse(addresses)
        if bad is not None:
            raise UnsafeDestination(f"refused to connect to {host}: it resolves to {bad}, "
                                    "a private or reserved address")
    return addresses


async def connect_checked(host: str, port: int, timeout: float) -> socket.socket:  # noqa: ASYNC109
    """A connected TCP socket to a checked address of `host`, for clients that take a socket
    (the SMTP client): the name is resolved once, here, so DNS rebinding cannot slip through."""
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    async with asyncio.timeout(timeout):
        for address in await checked_addresses(host, port, timeout):
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (address, port))
            except OSError as exc:
                sock.close()
                last = exc
                continue
            except BaseException:
                sock.close()
                raise
            return sock
    raise last or OSError(f"cannot connect to {host}:{port}")


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
        raise BlockedConnection("outbound connections never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
