"""`Idempotency-Key` on the premium face's POSTs: the first successful answer (status and body) is
kept for 24 hours per (organisation, key) and replayed to a retry; the same key with another
request is refused with 422.

Only answers that changed something (2xx) are kept: an error changed nothing, so a retry simply
runs again. The answer is stored in the transaction of the change it describes, so it exists
exactly when the change does; two concurrent requests with one key meet on the unique
(org, key) index, and the second gets 409 `IDEMPOTENCY_IN_PROGRESS` and can retry for the replay.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.db import utcnow
from arrears.errors import Conflict, DomainError, ValidationFailed
from arrears.premiums.models import IdempotencyRecord

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422


@dataclass(frozen=True)
class Replay:
    status: int
    body: bytes


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationFailed(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII "
                               "characters", code="INVALID_IDEMPOTENCY_KEY")
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
    if row.expires_at <= utcnow():
        await session.delete(row)
        await session.flush()
        return None
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request; use a new key")
    return Replay(row.response_status, row.response_body.encode())


async def store(session: AsyncSession, org_id: int, key: str, endpoint: str, request_hash: str,
                status: int, body: bytes) -> None:
    now = utcnow()
    if random.random() < 0.01:  # now and then, forget this organisation's expired answers
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.org_id == org_id,
                                                              IdempotencyRecord.expires_at <= now))
    session.add(IdempotencyRecord(org_id=org_id, key=key, endpoint=endpoint[:200],
                                  request_hash=request_hash, response_status=status,
                                  response_body=body.decode(), created_at=now, expires_at=now + TTL))
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("A request with this Idempotency-Key is still being processed; retry it "
                       "shortly to get its answer", code="IDEMPOTENCY_IN_PROGRESS") from None
