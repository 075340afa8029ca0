"""Arrears processes on a database and Redis of our own: `arrears serve --no-worker` servers and
`arrears worker` workers as real subprocesses on loopback. Shared by tests/resilience and
bench/soak.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.resilience.services import free_port, wait_port

SECRET = "resilience-secret-" + "y" * 40


class Fleet:
    def __init__(self, db_url: str, redis_url: str | None, workdir: Path, *,
                 extra_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("DB_", "REDIS_", "DATABASE_", "ARREARS_", "MESSAGING_"))}
        self.env.update({"DATABASE_URL": db_url, "SECRET_KEY": SECRET, "MESSAGING_SIMULATION": "true",
                         "ARREARS_DATA_DIR": str(workdir / "data"), "PYTHONUNBUFFERED": "1"})
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.env.update(extra_env or {})
        self.servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        workdir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------ the CLI

    def cli(self, *args: str, timeout: float = 120) -> str:
        r = subprocess.run([sys.executable, "-m", "arrears", *args], env=self.env, cwd=self.workdir,
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"arrears {' '.join(args)} failed: {r.stderr[-2000:]}")
        return r.stdout

    def cli_json(self, *args: str) -> dict[str, Any]:
        return json.loads(self.cli(*args, "--json").strip().splitlines()[-1])

    def upgrade(self) -> None:
        self.cli("db", "upgrade", timeout=300)

    def captive_key(self, name: str = "Soak Captive", kind: str = "cell_captive") -> tuple[int, str]:
        org = self.cli_json("orgs", "create", "--name", name, "--kind", kind)
        org_id = int(org["id"])
        key = self.cli_json("api-keys", "create", "--org", str(org_id), "--scopes", "*")
        return org_id, key["key"]

    # ------------------------------------------------------------ processes

    def _log(self, name: str) -> Any:
        return open(self.workdir / f"{name}.log", "ab")

    def start_server(self, name: str, port: int | None = None, *, wait: bool = True) -> int:
        port = port or free_port()
        proc = subprocess.Popen([sys.executable, "-m", "arrears", "serve", "--no-worker", "--port",
                                 str(port)], env=self.env, cwd=self.workdir,
                                stdout=self._log(name), stderr=subprocess.STDOUT)
        self.servers[name] = (proc, port)
        if wait:
            self.wait_server(name)
        return port

    def supervise(self, name: str, within: float = 300.0) -> None:
        """Start the server again until it is up, as systemd's Restart=always would (a server
        that starts while the database is away exits: it checks the schema first)."""
        proc, port = self.servers[name]
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                wait_port(port, within=1.0)
                return
            except TimeoutError:
                pass
            if proc.poll() is not None:
                time.sleep(1.0)
                self.start_server(name, port, wait=False)
                proc = self.servers[name][0]
        raise TimeoutError(f"server {name} did not come up within {within}s")

    def wait_server(self, name: str) -> None:
        wait_port(self.servers[name][1], within=120)

    def start_worker(self, name: str, *, lease_seconds: float = 30.0, concurrency: int = 4) -> None:
        self.workers[name] = subprocess.Popen(
            [sys.executable, "-m", "arrears", "worker", "--concurrency", str(concurrency),
             "--lease-seconds", str(lease_seconds)], env=self.env, cwd=self.workdir,
            stdout=self._log(name), stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        """SIGKILL: no clean-up, as a crash or the OOM killer would."""
        proc = self.servers[name][0] if name in self.servers else self.workers[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def restart_server(self, name: str) -> None:
        port = self.servers[name][1]
        self.start_server(name, port)

    def base_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.servers[name][1]}"

    def log_text(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def alive(self, name: str) -> bool:
        proc = self.servers[name][0] if name in self.servers else self.workers[name]
        return proc.poll() is None

    def stop_all(self) -> None:
        procs = [p for p, _ in self.servers.values()] + list(self.workers.values())
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 15
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def client(base_url: str, key: str | None = None, timeout: float = 15.0) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout)
