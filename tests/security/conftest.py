"""A real server in a subprocess (`python -m arrears serve`, its in-process worker included), so that
a parser that dies, or a server that does, is seen as it would be in production, and the server's
own peak memory (VmHWM) is measured apart from the test process."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PARSE_MEMORY_MB = 256
# The server's own peak memory may not pass this, whatever the file (the parser's child is apart).
SERVER_PEAK_LIMIT = (300 + PARSE_MEMORY_MB) << 20
PASSWORD = "Sup3r-secret-pw"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    headers: dict[str, str] = field(default_factory=dict)

    def client(self, timeout: float = 120) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, timeout=timeout)

    def peak_rss(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")

    async def healthy(self) -> None:
        """The server is alive, answers /healthz, and stayed under its memory bound."""
        assert self.process.poll() is None, f"the server died:\n{self.log.read_text()[-3000:]}"
        async with self.client(10) as c:
            r = await c.get("/healthz")
        assert r.status_code == 200, r.text
        peak = self.peak_rss()
        assert peak < SERVER_PEAK_LIMIT, f"server peak RSS {peak >> 20} MiB"

    async def wait_upload(self, upload_id: str, seconds: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        async with self.client() as c:
            while time.monotonic() < deadline:
                r = await c.get(f"/api/uploads/{upload_id}", headers=self.headers)
                assert r.status_code == 200, r.text
                body = r.json()
                if body["status"] in ("completed", "failed"):
                    return dict(body)
                await asyncio.sleep(0.3)
        raise AssertionError(f"upload {upload_id} did not finish: {body}")


StartServer = Callable[..., Awaitable[Server]]


async def launch(log_dir: Path, **extra: str) -> Server:
    """A server on a free loopback port, on the database of the environment at this moment."""
    port = _free_port()
    environ = os.environ.copy()
    environ.update({"ARREARS_PARSE_MEMORY_MB": str(PARSE_MEMORY_MB), "ARREARS_PARSE_CPU_SECONDS": "30",
                    "ARREARS_PARSE_WALL_SECONDS": "60", "ARREARS_PARSE_WORKERS": "1",
                    "UPLOAD_MAX_SIZE": str(64 << 20), **extra})
    log = log_dir / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "arrears", "serve", "--port", str(port)],  # noqa: ASYNC220
                                   env=environ, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 90
    try:
        async with server.client(5) as c:
            while True:
                assert process.poll() is None, f"the server did not start:\n{log.read_text()[-3000:]}"
                try:
                    if (await c.get("/healthz")).status_code == 200:
                        return server
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not answer in 90 s"
                await asyncio.sleep(0.2)
    except BaseException:
        stop(server)
        raise


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)


@pytest.fixture
async def start_server(env: dict[str, Any], tmp_path: Path) -> AsyncIterator[StartServer]:
    """start_server(**extra_env) -> a Server on a free loopback port, on this test's database."""
    started: list[Server] = []

    async def start(**extra: str) -> Server:
        server = await launch(tmp_path, **extra)
        started.append(server)
        return server

    yield start
    for server in started:
        stop(server)


async def sign_in(server: Server, world: Any, org_id: int, role: str = "manager") -> dict[str, str]:
    user = await world.user(org_id, role=role, password=PASSWORD)
    async with server.client(30) as c:
        r = await c.post("/api/auth/token/", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    server.headers = {"Authorization": f"Bearer {r.json()['access']}"}
    return server.headers
