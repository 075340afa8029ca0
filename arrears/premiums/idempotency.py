"""`Idempotency-Key` on the premium face's POSTs: the first successful answer (status and body) is
kept for 24 hours per (organisation, key) and replayed to a retry; the same key with another
request is refused with 422.

Only answers that changed something (2xx) are kept: an error changed nothing, so a retry simply
runs again. Before the request does anything, `reserve` inserts the key's row without an answer
in the request's transaction, and `store` writes the answer into it, so the answer exists exactly
when the change does. A concurrent request with the same key waits on the unique (org, key) index
until the first one ends, and then gets what a retry after it would get: the replay (or 422 for
another request), or, when the first rolled back, the key for itself.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import dialect_insert, utcnow
from arrears.errors import Conflict, DomainError, ValidationFailed
from arrears.premiums.errors import PremiumErrorCode
from arrears.premiums.models import IdempotencyRecord

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
#: `response_status` of a reserved key whose request has not answered (yet).
RESERVED = 0


class IdempotencyKeyReused(DomainError):
    code = PremiumErrorCode.IDEMPOTENCY_KEY_REUSED
    status = 422


@dataclass(frozen=True)
class Replay:
    status: int
    body: bytes


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationFailed(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII "
                               "characters", code=PremiumErrorCode.INVALID_IDEMPOTENCY_KEY)
    return key


def fingerprint(endpoint: str, body: bytes) -> str:
    """The request as a hash: the endpoint and the JSON body in canonical form."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    return hashlib.sha256(endpoint.encode() + b"\n" + canonical).hexdigest()


async def lookup(session: AsyncSession, org_id: int, key: str, request_hash: str) -> Replay | None:
    """The stored answer to replay, None when the key is new (or expired); 422 on another request."""
    row = await session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.org_id == org_id,
                                                               IdempotencyRecord.key == key))
    if row is None:
        return None
    if row.expires_at <= utcnow() or row.response_status == RESERVED:
        # Expired, or reserved by a request that committed without an answer to keep. By id and
        # not through the ORM: a concurrent request may delete it first (0 rows is fine here).
        session.expunge(row)
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == row.id)
                              .execution_options(synchronize_session=False))
        return None
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request; use a new key")
    return Replay(row.response_status, row.response_body.encode())


async def reserve(session: AsyncSession, org_id: int, key: str, endpoint: str,
                  request_hash: str) -> Replay | None:
    """The stored answer to replay (422 on another request), or None once the key is reserved
    for this request (its answer then goes in with `store`, in the same transaction).

    The reservation's INSERT … ON CONFLICT DO NOTHING waits for a concurrent request holding the
    key (PostgreSQL); when that one committed, its answer is read and replayed."""
    for _ in range(3):
        stored = await lookup(session, org_id, key, request_hash)
        if stored is not None:
            return stored
        now = utcnow()
        stmt = (dialect_insert(session, IdempotencyRecord)
                .values(org_id=org_id, key=key, endpoint=endpoint[:200], request_hash=request_hash,
                        response_status=RESERVED, response_body="", created_at=now,
                        expires_at=now + TTL)
                .on_conflict_do_nothing(index_elements=["org_id", "key"])
                .returning(IdempotencyRecord.id))
        if (await session.execute(stmt)).first() is not None:
            return None
    raise Conflict("A request with this Idempotency-Key is still being processed; retry it "
                   "shortly to get its answer", code=PremiumErrorCode.IDEMPOTENCY_IN_PROGRESS)


async def store(session: AsyncSession, org_id: int, key: str, endpoint: str, request_hash: str,
                status: int, body: bytes) -> None:
    """The answer of the request that reserved the key (or, without a reservation, a new row)."""
    now = utcnow()
    if random.random() < 0.01:  # now and then, forget this organisation's expired answers
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.org_id == org_id,
                                                              IdempotencyRecord.expires_at <= now))
    # An UPDATE's result is a CursorResult (it has the rowcount); execute() is typed for any statement.
    done = cast("CursorResult[Any]", await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.org_id == org_id, IdempotencyRecord.key == key,
               IdempotencyRecord.request_hash == request_hash,
               IdempotencyRecord.response_status == RESERVED)
        .values(response_status=status, response_body=body.decode())
        .execution_options(synchronize_session=False)))
    if done.rowcount:
        return
    session.add(IdempotencyRecord(org_id=org_id, key=key, endpoint=endpoint[:200],
                                  request_hash=request_hash, response_status=status,
                                  response_body=body.decode(), created_at=now, expires_at=now + TTL))
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("A request with this Idempotency-Key is still being processed; retry it "
                       "shortly to get its answer", code=PremiumErrorCode.IDEMPOTENCY_IN_PROGRESS) from None
