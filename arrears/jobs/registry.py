"""Job handlers by kind. Every handler is idempotent: a worker can die at any line."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from arrears.jobs.models import Job


@dataclass
class JobContext:
    job_id: int
    kind: str
    payload: dict[str, Any]
    org_id: int | None
    attempt: int
    max_attempts: int

    @classmethod
    def of(cls, job: Job) -> JobContext:
        return cls(job.id, job.kind, dict(job.payload or {}), job.org_id, job.attempts, job.max_attempts)


class Retry(Exception):
    """Raise to run the job again after `delay_seconds` (e.g. honouring a Retry-After)."""

    def __init__(self, message: str, delay_seconds: float | None = None) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds


class Permanent(Exception):
    """Raise when trying again cannot help: the job goes straight to `dead`."""


Handler = Callable[[JobContext], Awaitable[None]]
_handlers: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        return fn

    return register


def get_handler(kind: str) -> Handler | None:
    return _handlers.get(kind)


def load_all_handlers() -> None:
    """Import every domain's jobs module so that its handlers register themselves."""
    import importlib
    import pkgutil

    import arrears

    for mod in pkgutil.walk_packages(arrears.__path__, "arrears."):
        if mod.name.endswith(".jobs") or mod.name.endswith("_jobs"):
            if mod.name == "arrears.jobs":
                continue
            importlib.import_module(mod.name)
