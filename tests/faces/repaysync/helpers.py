"""Helpers for the upload tests."""

from __future__ import annotations

import httpx


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", newline: str = "\r\n") -> bytes:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(rows)
    return buf.getvalue().encode(encoding)


async def upload(client: httpx.AsyncClient, path: str, content: bytes, headers: dict[str, str],
                 filename: str = "upload.csv") -> httpx.Response:
    return await client.post(path, files={"file": (filename, content, "text/csv")}, headers=headers)
