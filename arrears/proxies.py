"""Who is on the other end: the peer's address, or — only when the peer is one of
ARREARS_TRUSTED_PROXIES (comma-separated IPs or CIDRs; none by default) — the client that proxy
names in X-Forwarded-For, and whether that proxy says the client spoke HTTPS. A header from any
other peer is ignored: anyone can write one."""

from __future__ import annotations

from ipaddress import ip_address

from starlette.requests import HTTPConnection

from arrears.config import get_settings


def _trusted(host: str) -> bool:
    networks = get_settings().limits.trusted_proxies
    if not networks:
        return False
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in networks)


def _from_proxy(conn: HTTPConnection) -> bool:
    return conn.client is not None and _trusted(conn.client.host)


def client_ip(conn: HTTPConnection) -> str:
    """The client's address. Behind trusted proxies, X-Forwarded-For is read from the right (the
    entry our own proxy wrote) past every trusted hop: entries further left were written by the
    client and prove nothing."""
    peer = conn.client.host if conn.client else "unknown"
    if not _from_proxy(conn):
        return peer
    hops = [h.strip() for h in ",".join(conn.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ip_address(hop)
        except ValueError:
            return peer  # a mangled chain: believe only the peer
        if not _trusted(hop):
            return hop
    return hops[0] if hops else peer


def is_https(conn: HTTPConnection) -> bool:
    if conn.url.scheme in ("https", "wss"):
        return True
    if not _from_proxy(conn):
        return False
    proto = conn.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
    return proto == "https"
