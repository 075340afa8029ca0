"""The bit of HTTP/1.1 our loopback stand-ins speak (SMSPortal, SendGrid, webhook receivers):
read one request from a keep-alive connection, write one response."""

from __future__ import annotations

import asyncio

REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 302: "Found", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 410: "Gone",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    """(method, path, lower-cased headers, body), or None when the client closed the connection."""
    line = await reader.readline()
    if not line:
        return None
    method, path, _ = line.decode().split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return method, path, headers, body


async def write_response(writer: asyncio.StreamWriter, status: int, body: bytes, content_type: str,
                         headers: dict[str, str]) -> None:
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
            f"content-length: {len(body)}", f"content-type: {content_type}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
