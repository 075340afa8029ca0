"""Plain values the customers domain hands to faces and to other domains."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from arrears.customers.models import Customer
    from arrears.identity.caller import Caller


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened with a customer. `at` is an aware UTC datetime; `data` holds
    plain values (faces serialise Decimals and dates in their own way)."""

    type: str
    at: datetime
    summary: str
    data: dict[str, Any] = field(default_factory=dict)


# async fn(session, caller, customer) -> entries; the caller decides what the source may show.
TimelineSource = Callable[["AsyncSession", "Caller", "Customer"], Awaitable[Iterable[TimelineEntry]]]


@dataclass
class RowError:
    """A row of an upload that was not imported: its line in the file (the header is line 1)
    and why, per column."""

    line: int
    errors: dict[str, list[str]]

    @property
    def message(self) -> str:
        return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in self.errors.items())

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "message": self.message, "errors": self.errors}


@dataclass
class ImportResult:
    records_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class CustomerSeed:
    """What a debtor-book import knows about a customer (see service.get_or_create_many)."""

    code: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    contact: str | None = None
