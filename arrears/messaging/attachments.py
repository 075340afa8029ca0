"""Files that travel with an e-mail (a letter's PDF), without a column of their own in the message
log: another domain that owns such files registers a source (through arrears.wiring), and the
outbox asks the sources for the files of the e-mails it is about to send. The message row stays
the one record of the e-mail; the file stays where its owner keeps it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from arrears.db import transaction


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes


# {message id: its attachments} for the message ids asked about (others left out).
AttachmentSource = Callable[[AsyncSession, Sequence[int]], Awaitable[Mapping[int, Sequence[Attachment]]]]
_sources: list[AttachmentSource] = []


def register_attachment_source(source: AttachmentSource) -> None:
    if source not in _sources:
        _sources.append(source)


def unregister_attachment_source(source: AttachmentSource) -> None:
    if source in _sources:
        _sources.remove(source)


def registered() -> tuple[AttachmentSource, ...]:
    return tuple(_sources)


async def attachments_for(message_ids: Sequence[int], *, engine: AsyncEngine | None = None
                          ) -> dict[int, tuple[Attachment, ...]]:
    """Every registered source's files for these messages (one short read; nothing when no
    source is registered)."""
    if not _sources or not message_ids:
        return {}
    out: dict[int, list[Attachment]] = {}
    async with transaction(readonly=True, engine=engine) as s:
        for source in _sources:
            for message_id, files in (await source(s, list(message_ids))).items():
                out.setdefault(message_id, []).extend(files)
    return {k: tuple(v) for k, v in out.items()}
