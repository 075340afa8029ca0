"""Reconciliation of the bank's answers: an ACB-style unpaids file, or a CSV with reference,
amount, status and reason.

Each line is matched to its collection by reference first — a collection reference (`COL_…`), or
the ACB reference of a debit (the mandate reference) on the line's action date — then by policy
(policy number or mandate reference), amount and date. What became of each line is one
`reconciliation_records` row: `matched`, `unmatched` (kept for a person), `amount_mismatch`,
`duplicate` (a second line for a collection in the same file; a line that names a policy and
its date but not its amount is an amount mismatch), `conflict` (the collection is
already final with another status, or was never submitted) or `invalid` (unreadable line).
Status changes go through `premiums.service.transition_collection`: the state machine and the
same `collection.updated` event as an inbound webhook. Importing the same file again is the same
import (matched on its SHA-256): nothing is applied twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import csvfiles, events
from arrears.db import isoz, utcnow
from arrears.errors import Conflict, NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.premiums import service as premiums
from arrears.premiums.acb import AcbFormatError, parse_answers_csv, parse_unpaids_file
from arrears.premiums.debit_orders.authority import may_move_money
from arrears.premiums.debit_orders.files import _digest, file_out, new_file
from arrears.premiums.debit_orders.models import DebitOrderFile, DebitOrderItem, ReconciliationRecord
from arrears.premiums.errors import PremiumErrorCode
from arrears.premiums.models import Collection, Policy
from arrears.premiums.schemas import money
from arrears.premiums.state import InvalidTransition
from arrears.premiums.unpaid_codes import lookup_unpaid_reason

OUTCOMES = ("matched", "unmatched", "amount_mismatch", "duplicate", "conflict", "invalid")
OPEN_OUTCOMES = ("unmatched", "amount_mismatch", "conflict")
FORMATS = ("unpaids", "csv")
MAX_FILE_BYTES = 20 * 1024 * 1024


class RecordNotFound(NotFound):
    code = PremiumErrorCode.RECONCILIATION_RECORD_NOT_FOUND


@dataclass
class AnswerLine:
    line: int
    reference: str | None
    status: str | None
    amount: Decimal | None = None
    action_date: date | None = None
    reason_code: str | None = None
    reason_text: str | None = None
    returned_on: date | None = None
    error: str | None = None

    @property
    def failure_reason(self) -> str | None:
        if self.status != "failed":
            return None
        if self.reason_code:
            return f"{self.reason_code} {self.reason_text or lookup_unpaid_reason(self.reason_code).text}"[:255]
        return (self.reason_text or "Unpaid")[:255]


@dataclass
class ImportResult:
    file: DebitOrderFile
    records: list[ReconciliationRecord]
    replayed: bool

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(OUTCOMES, 0)
        for r in self.records:
            out[r.outcome] += 1
        return out


def detect_format(text: str) -> str:
    """`unpaids` when the first line is an ACB installation header (180 characters from `02`)."""
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    return "unpaids" if first.startswith("02") and len(first) > 100 and "," not in first[:60] else "csv"


def read_lines(text: str, fmt: str) -> list[AnswerLine]:
    if fmt == "unpaids":
        parsed = parse_unpaids_file(text)
        return [AnswerLine(line=u.line, reference=u.reference, status="failed", amount=u.amount,
                           action_date=u.action_date, reason_code=u.reason_code, reason_text=u.reason.text,
                           returned_on=u.unpaid_date) for u in parsed.unpaids]
    answers = parse_answers_csv(text)
    lines = [AnswerLine(line=a.line, reference=a.reference, status=a.status, amount=a.amount,
                        reason_code=a.reason_code,
                        reason_text=(lookup_unpaid_reason(a.reason_code).text if a.reason_code else a.reason))
             for a in answers.answers]
    lines += [AnswerLine(line=e.line, reference=None, status=None, error=e.message) for e in answers.errors]
    return sorted(lines, key=lambda x: x.line)


class _Matcher:
    """Finds the collection of a line: by reference, then by policy + amount + date."""

    def __init__(self, session: AsyncSession, org_id: int, seen: set[int]) -> None:
        self.s = session
        self.org_id = org_id
        self.seen = seen  # collections answered by earlier lines of the file

    def _one(self, found: list[Collection]) -> Collection | None:
        """The one candidate; among several, the one still waiting for its answer, else the one an
        earlier line answered (a duplicate line)."""
        if len(found) == 1:
            return found[0]
        for pick in ([c for c in found if c.status == "submitted"], [c for c in found if c.id in self.seen]):
            if len(pick) == 1:
                return pick[0]
        return None

    async def by_reference(self, ln: AnswerLine) -> Collection | None:
        ref = ln.reference
        col = await self.s.scalar(select(Collection).where(Collection.org_id == self.org_id,
                                                           Collection.collection_reference == ref))
        if col is not None:
            return col
        q = (select(Collection).join(DebitOrderItem, DebitOrderItem.collection_id == Collection.id)
             .where(DebitOrderItem.org_id == self.org_id, DebitOrderItem.reference == ref))
        if ln.action_date is not None:
            q = q.where(DebitOrderItem.action_date == ln.action_date)
        return self._one(list((await self.s.scalars(q)).all()))

    async def by_policy(self, ln: AnswerLine, *, with_amount: bool = True) -> Collection | None:
        """By policy number or mandate reference, amount (unless not `with_amount`: then the match
        can only become an amount mismatch) and date."""
        if with_amount and ln.amount is None:
            return None
        policies = select(Policy.id).where(Policy.org_id == self.org_id,
                                           or_(Policy.policy_number == ln.reference,
                                               Policy.mandate_reference == ln.reference))
        q = (select(Collection).outerjoin(DebitOrderItem, DebitOrderItem.collection_id == Collection.id)
             .where(Collection.org_id == self.org_id, Collection.policy_id.in_(policies)))
        if with_amount:
            q = q.where(Collection.amount == ln.amount)
        if ln.action_date is not None:
            q = q.where(or_(Collection.collection_date == ln.action_date,
                            DebitOrderItem.action_date == ln.action_date))
        return self._one(list((await self.s.scalars(q)).unique().all()))


async def _apply(session: AsyncSession, caller: Caller, ln: AnswerLine, col: Collection,
                 seen: set[int]) -> tuple[str, str | None]:
    """Outcome and message of a matched line; moves the collection when the answer allows."""
    if col.id in seen:
        return "duplicate", f"an earlier line of this file already answered {col.collection_reference}"
    seen.add(col.id)
    # Locked and read again: a concurrent answer for the same debit waits here and then sees the
    # status that one left (the state machine answers the rest).
    await session.refresh(col, with_for_update={"key_share": True})
    if ln.amount is not None and ln.amount != col.amount:
        return "amount_mismatch", (f"the bank's amount {ln.amount:.2f} differs from the collection's "
                                   f"{col.amount:.2f}; nothing was changed")
    assert ln.status is not None
    if col.status == ln.status:
        return "matched", f"{col.collection_reference} was already {col.status}"
    if col.status == "pending":
        return "conflict", f"{col.collection_reference} was never submitted to the bank (still pending)"
    fields: dict[str, Any] = {}
    if ln.status == "failed":
        fields["failure_reason"] = ln.failure_reason
    if ln.returned_on is not None:
        fields["transaction_date"] = ln.returned_on
    try:
        await premiums.transition_collection(session, caller, col, ln.status, **fields)
    except InvalidTransition as exc:
        return "conflict", exc.message
    return "matched", None


async def _replay(session: AsyncSession, org_id: int, kind: str, text: str) -> ImportResult | None:
    """The earlier import of the same file (matched on its SHA-256), if there is one."""
    existing = await session.scalar(select(DebitOrderFile).where(
        DebitOrderFile.org_id == org_id, DebitOrderFile.kind == kind, DebitOrderFile.sha256 == _digest(text)))
    if existing is None:
        return None
    records = (await session.scalars(select(ReconciliationRecord).where(
        ReconciliationRecord.file_id == existing.id).order_by(ReconciliationRecord.line))).all()
    return ImportResult(existing, list(records), True)


async def import_answer(session: AsyncSession, caller: Caller, content: bytes | str, *, filename: str = "answer",
                        fmt: str | None = None) -> ImportResult:
    """Store the answer file in the caller's captive, match and apply every line, keep one record
    per line. Who may: see `authority.may_move_money`."""
    may_move_money(caller)
    org_id, created_by = caller.org_id, caller.actor
    raw = content.encode() if isinstance(content, str) else content
    if not raw.strip():
        raise ValidationFailed("The answer file is empty", field_errors={"file": ["The file is empty."]})
    if len(raw) > MAX_FILE_BYTES:
        raise ValidationFailed("The answer file is larger than 20 MB")
    text = csvfiles.decode(raw)
    if fmt is not None and fmt not in FORMATS:
        raise ValidationFailed(f"format must be one of {', '.join(FORMATS)}",
                               field_errors={"format": [f"Use one of {', '.join(FORMATS)}."]})
    fmt = fmt or detect_format(text)
    kind = "unpaids" if fmt == "unpaids" else "answers_csv"
    replay = await _replay(session, org_id, kind, text)
    if replay is not None:
        return replay
    try:
        lines = read_lines(text, fmt)
    except AcbFormatError as exc:
        raise ValidationFailed(f"The {'unpaids' if fmt == 'unpaids' else 'CSV'} file cannot be read: "
                               f"{exc.message}", code=PremiumErrorCode.INVALID_ANSWER_FILE, details=exc.details) from None
    answered = [ln for ln in lines if ln.error is None]
    stored = new_file(org_id, None, kind, filename[:255] or "answer", "text/plain" if fmt == "unpaids" else "text/csv",
                      text, record_count=len(answered),
                      total=sum((ln.amount or Decimal("0") for ln in answered), Decimal("0")), created_by=created_by)
    try:
        async with premiums.savepoint(session):
            session.add(stored)
            await session.flush()
    except IntegrityError:
        # The same file, imported by a concurrent request that has just committed: its import.
        replay = await _replay(session, org_id, kind, text)
        if replay is None:
            raise
        return replay
    actor = Caller.system(org_id, f"reconciliation:{stored.uuid}")
    seen: set[int] = set()
    matcher = _Matcher(session, org_id, seen)
    records: list[ReconciliationRecord] = []
    for ln in lines:
        rec = ReconciliationRecord(org_id=org_id, file_id=stored.id, line=ln.line, reference=ln.reference,
                                   amount=ln.amount, action_date=ln.action_date, status=ln.status,
                                   reason_code=ln.reason_code, reason_text=(ln.reason_text or None) and ln.reason_text[:255],
                                   created_at=utcnow())
        if ln.error is not None:
            rec.outcome, rec.message = "invalid", ln.error[:500]
        else:
            col = await matcher.by_reference(ln)
            rec.matched_by = "reference" if col is not None else None
            if col is None:
                col = await matcher.by_policy(ln)
                rec.matched_by = "policy_amount_date" if col is not None else None
            if col is None and ln.amount is not None:
                col = await matcher.by_policy(ln, with_amount=False)
                if col is not None and col.amount != ln.amount:
                    rec.matched_by = "policy_date"
                else:
                    col = None
            if col is None:
                rec.outcome, rec.message = "unmatched", "no collection matches this line; kept for a person to resolve"
            else:
                rec.collection_id = col.id
                rec.outcome, rec.message = await _apply(session, actor, ln, col, seen)
        session.add(rec)
        records.append(rec)
    await session.flush()
    result = ImportResult(stored, records, False)
    await events.record(session, org_id=org_id, type="reconciliation.imported", actor=created_by,
                        subject_type="debit_order_file", subject_id=stored.uuid,
                        after={"format": fmt, "lines": len(lines), **result.counts()},
                        data={"file": file_out(stored)})
    return result


def record_out(r: ReconciliationRecord, file: DebitOrderFile | None = None,
               collection_reference: str | None = None) -> dict[str, Any]:
    return {"id": str(r.uuid), "file_id": str(file.uuid) if file is not None else None, "line": r.line,
            "reference": r.reference, "amount": money(r.amount),
            "action_date": r.action_date.isoformat() if r.action_date else None, "status": r.status,
            "reason_code": r.reason_code, "reason": r.reason_text, "outcome": r.outcome,
            "matched_by": r.matched_by, "collection_reference": collection_reference, "message": r.message,
            "resolution": r.resolution, "resolved_by": r.resolved_by, "resolved_at": isoz(r.resolved_at),
            "created_at": isoz(r.created_at)}


async def list_records(session: AsyncSession, org_id: int, *, outcome: str | None = None,
                       file_id: int | None = None, open_only: bool = False, page: int = 1, limit: int = 50
                       ) -> tuple[list[dict[str, Any]], int]:
    from sqlalchemy import func

    conds: list[Any] = [ReconciliationRecord.org_id == org_id]
    if outcome:
        conds.append(ReconciliationRecord.outcome == outcome)
    if file_id is not None:
        conds.append(ReconciliationRecord.file_id == file_id)
    if open_only:
        conds += [ReconciliationRecord.outcome.in_(OPEN_OUTCOMES), ReconciliationRecord.resolution.is_(None)]
    total = int(await session.scalar(select(func.count()).select_from(ReconciliationRecord).where(*conds)) or 0)
    rows = (await session.execute(
        select(ReconciliationRecord, DebitOrderFile, Collection.collection_reference)
        .join(DebitOrderFile, DebitOrderFile.id == ReconciliationRecord.file_id)
        .outerjoin(Collection, Collection.id == ReconciliationRecord.collection_id)
        .where(*conds).order_by(ReconciliationRecord.id.desc())
        .offset((page - 1) * limit).limit(limit))).all()
    return [record_out(r, f, ref) for r, f, ref in rows], total


async def resolve_record(session: AsyncSession, caller: Caller, record_uuid: Any, *,
                         collection_reference: str | None = None, dismiss: bool = False) -> dict[str, Any]:
    """A person resolves an open record of their captive (another's is not found): apply its
    answer to a collection they name (or, for an amount mismatch, to the collection it matched),
    or dismiss it. Who may: see `authority.may_move_money`."""
    may_move_money(caller)
    org_id, actor = caller.org_id, caller.actor
    row = (await session.execute(
        select(ReconciliationRecord, DebitOrderFile).join(DebitOrderFile, DebitOrderFile.id == ReconciliationRecord.file_id)
        .where(ReconciliationRecord.org_id == org_id, ReconciliationRecord.uuid == record_uuid)
        .with_for_update(of=ReconciliationRecord))).first()
    if row is None:
        raise RecordNotFound(f"Reconciliation record {record_uuid} not found")
    rec, file = row
    if rec.outcome not in OPEN_OUTCOMES or rec.resolution is not None:
        raise Conflict(f"This record is {rec.resolution or rec.outcome}; only unresolved unmatched, amount "
                       "mismatch and conflict records can be resolved", code=PremiumErrorCode.RECORD_NOT_OPEN)
    ref = None
    before = {"resolution": None, "outcome": rec.outcome}
    if dismiss:
        rec.resolution = "dismissed"
    else:
        if collection_reference:
            col, _ = await premiums.get_collection(session, org_id, collection_reference, for_update=True)
        elif rec.collection_id is not None:
            found = await session.get(Collection, rec.collection_id)
            assert found is not None
            col = found
        else:
            raise ValidationFailed("Name the collection_reference this line answers, or dismiss it",
                                   field_errors={"collection_reference": ["This field is required."]})
        ln = AnswerLine(line=rec.line, reference=rec.reference, status=rec.status, reason_code=rec.reason_code,
                        reason_text=rec.reason_text)
        fields: dict[str, Any] = {"failure_reason": ln.failure_reason} if ln.status == "failed" else {}
        assert ln.status is not None
        # The bank's answer moves it (`updated_by` system), in the person's name.
        await premiums.transition_collection(session, Caller.system(org_id, actor), col,
                                             ln.status, **fields)
        rec.collection_id = col.id
        rec.resolution = "applied"
        ref = col.collection_reference
    rec.resolved_by = actor
    rec.resolved_at = utcnow()
    await session.flush()
    out = record_out(rec, file, ref)
    await events.record(session, org_id=org_id, type="reconciliation.resolved", actor=actor,
                        subject_type="reconciliation_record", subject_id=rec.uuid,
                        before=before, after={"resolution": rec.resolution, "collection_reference": ref},
                        data={"record": out})
    return out


async def collection_refs(session: AsyncSession, ids: list[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(Collection.id, Collection.collection_reference)
                                 .where(Collection.id.in_(wanted)))
    return {i: ref for i, ref in rows.all()}
