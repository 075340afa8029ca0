"""The rules of letters: making them for accounts (one PDF each, stored with its row), e-mailing
them as attachments through the messaging outbox, listing and downloading them, previews, and one
PDF of many letters to print.

Who may: anyone with write access who sees the account makes letters for it (a user sees the
accounts of the customers they see; a key its organisation's); read access reads only. Another
organisation's account, template or letter is a 404.

`create_letters` is the one way letters are made — the API, the web UI, the CLI and collection
strategies (a strategy's letter step) all call it, set-based: one read of the accounts' facts,
one insert of the rows, one batch of e-mails and events, whatever the number of accounts.
Rendering is deterministic: the same account, template, letterhead and dates give the same PDF.
"""

from __future__ import annotations

import asyncio
import html
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears import events
from arrears.accounts.models import Account
from arrears.accounts.service import account_scope, parse_account_id
from arrears.customers.models import Customer, Loan
from arrears.db import isoz, utcnow
from arrears.debtors.models import DebtorAccount
from arrears.downloads import safe_filename
from arrears.errors import NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation
from arrears.letters import facts as facts_
from arrears.letters import placeholders
from arrears.letters.letterhead import head_for
from arrears.letters.models import SOURCES, Letter
from arrears.letters.render import Head, LetterContent, PdfWriter, render, render_each
from arrears.letters.templates import TemplateView, get_template
from arrears.messaging.attachments import Attachment
from arrears.messaging.models import Message
from arrears.messaging.service import Draft, queue_messages

EVENT = "letter.created"
MAX_ACCOUNTS = 500  # per call of create_letters (the CLI prints more, in calls of this size)
DEFAULT_REPLY_DAYS = 14
MAX_REPLY_DAYS = 366
MESSAGE_SOURCE = "letter"
NO_EMAIL = "Not e-mailed: the customer has no e-mail address on file."


def letter_date_text(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def reply_by_for(raw: Any, today: date) -> date:
    """The reply-by date: as given (today … a year ahead), else DEFAULT_REPLY_DAYS from today."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return today + timedelta(days=DEFAULT_REPLY_DAYS)
    if isinstance(raw, datetime):
        raw = raw.date()
    try:
        day = raw if isinstance(raw, date) else date.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValidationFailed("Invalid reply-by date", field_errors={"replyBy": ["Not a valid date (YYYY-MM-DD)."]}
                               ) from None
    if day < today or day > today + timedelta(days=MAX_REPLY_DAYS):
        raise ValidationFailed("Invalid reply-by date", field_errors={
            "replyBy": [f"Must be between today ({today.isoformat()}) and a year from now."]})
    return day


def content_for(template: TemplateView, head: Head, f: facts_.AccountFacts, today: date, reply_by: date
                ) -> LetterContent:
    """One account's letter: the template's blocks with every placeholder filled."""
    values = f.values() | {"ReplyByDate": letter_date_text(reply_by), "LetterDate": letter_date_text(today),
                           "OrganisationName": head.name}
    blocks = tuple(b if isinstance(b, placeholders.TableMark) else placeholders.fill(b, values)
                   for b in placeholders.blocks(template.body))
    subject = " ".join(placeholders.fill(template.subject, values).split())
    return LetterContent(letter_date_text(today), (f.customer_name, *f.address), f"Account: {f.reference}",
                         subject[:255], blocks, f.table)


async def _visible(session: AsyncSession, caller: Caller, account_ids: Sequence[Any]) -> list[uuid.UUID]:
    """The ids as UUIDs, in order, once each — every one an account the caller sees (else 404)."""
    keys: list[uuid.UUID] = []
    for raw in account_ids:
        key = parse_account_id(raw)
        if key is None:
            raise NotFound(f"Account {str(raw)[:64]} not found.")
        keys.append(key)
    keys = list(dict.fromkeys(keys))
    seen: set[uuid.UUID] = set()
    for start in range(0, len(keys), 500):
        seen.update(await session.scalars(select(Account.id).where(Account.id.in_(keys[start:start + 500]),
                                                                   account_scope(caller))))
    for key in keys:
        if key not in seen:
            raise NotFound(f"Account {key} not found.")
    return keys


@dataclass(frozen=True)
class Prepared:
    template: TemplateView
    head: Head
    today: date
    reply_by: date
    ids: list[uuid.UUID]
    facts: dict[uuid.UUID, facts_.AccountFacts]

    def contents(self) -> list[LetterContent]:
        return [content_for(self.template, self.head, self.facts[i], self.today, self.reply_by) for i in self.ids]


async def _prepare(session: AsyncSession, caller: Caller, account_ids: Sequence[Any], template: TemplateView,
                   reply_by: Any, today: date | None) -> Prepared:
    if isinstance(account_ids, str | bytes) or not isinstance(account_ids, Sequence) or not account_ids:
        raise ValidationFailed("Name at least one account", field_errors={"accountIds": ["At least one account id."]})
    if len(account_ids) > MAX_ACCOUNTS:
        raise ValidationFailed("Too many accounts", field_errors={
            "accountIds": [f"At most {MAX_ACCOUNTS} accounts per request."]})
    today = today or utcnow().date()
    when = reply_by_for(reply_by, today)
    ids = await _visible(session, caller, account_ids)
    found = await facts_.load(session, caller.org_id, ids, today)
    return Prepared(template, await head_for(session, caller.org_id), today, when, ids, found)


def _email(f: facts_.AccountFacts, subject: str, head: Head) -> tuple[str, str]:
    text = (f"Dear {f.customer_name}\n\nPlease find attached our letter about your account {f.reference}: "
            f"{subject}.\n\nYours faithfully\n{head.name}")
    paragraphs = [html.escape(p).replace("\n", "<br>\n") for p in text.split("\n\n")]
    return text, "\n".join(f"<p>{p}</p>" for p in paragraphs)


async def create_letters(session: AsyncSession, caller: Caller, account_ids: Sequence[Any], template_id: Any, *,
                         reply_by: Any = None, send_email: bool = False, source: str = "manual",
                         today: date | None = None, email_keys: Mapping[uuid.UUID, str] | None = None
                         ) -> list[Letter]:
    """One letter per account (in the order given, duplicates once), each its own PDF, stored;
    with `send_email` each is e-mailed as an attachment through the outbox (the contact rules
    apply: opt-outs, the cap, accounts on hold), except to customers without an e-mail address —
    their letter stays `created`, with the reason. `email_keys` (by account) are the e-mails'
    idempotency keys when the caller has its own (a strategy's step); else `letter:<letter id>`.
    Raises 404 for an account or template the
    caller may not see, 400 for a bad reply-by date or more than MAX_ACCOUNTS accounts.
    Events: one `letter.created` per letter."""
    caller.require_write()
    template = await get_template(session, caller, template_id)
    p = await _prepare(session, caller, account_ids, template, reply_by, today)
    letters, _ = await _make(session, caller, p, send_email=send_email, source=source, email_keys=email_keys)
    return letters


async def _make(session: AsyncSession, caller: Caller, p: Prepared, *, send_email: bool, source: str,
                email_keys: Mapping[uuid.UUID, str] | None = None) -> tuple[list[Letter], list[LetterContent]]:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    contents = p.contents()
    pdfs = await asyncio.to_thread(render_each, p.head, contents)
    now = utcnow()
    letters = [Letter(id=uuid.uuid4(), org_id=caller.org_id, account_id=i, template_id=p.template.id,
                      template_name=p.template.name, subject=c.subject, reply_by=p.reply_by, pdf=pdf,
                      pdf_size=len(pdf), pages=pages, source=source, created_by=caller.actor, created_at=now)
               for i, c, (pdf, pages) in zip(p.ids, contents, pdfs, strict=True)]
    session.add_all(letters)
    await session.flush()
    if send_email:
        await _email_letters(session, caller, p, letters, email_keys or {})
    statuses = await _statuses(session, [x.message_id for x in letters if x.message_id is not None])
    await events.record_many(session, [
        {"org_id": caller.org_id, "type": EVENT, "actor": caller.actor, "subject_type": "letter",
         "subject_id": x.id, "data": {"letter": event_data(x, statuses.get(x.message_id or 0))}} for x in letters])
    return letters, contents


async def _email_letters(session: AsyncSession, caller: Caller, p: Prepared, letters: list[Letter],
                         keys: Mapping[uuid.UUID, str]) -> None:
    org = await session.get(Organisation, caller.org_id)
    assert org is not None
    drafts: list[Draft] = []
    sent: list[Letter] = []
    for x in letters:
        f = p.facts[x.account_id]
        if not f.email:
            x.email_reason = NO_EMAIL
            continue
        text, body_html = _email(f, x.subject, p.head)
        drafts.append(Draft("email", f.email, text, subject=x.subject, html=body_html, template=x.template_name,
                            customer_id=f.customer_id, debtor_account_id=f.debtor_account_id,
                            idempotency_key=keys.get(x.account_id) or f"letter:{x.id}"))
        sent.append(x)
    if drafts:
        queued = await queue_messages(session, caller, org, drafts, source=MESSAGE_SOURCE)
        for x, message_id in zip(sent, queued.ids, strict=True):
            x.message_id = message_id
    await session.flush()


async def preview(session: AsyncSession, caller: Caller, account_id: Any, template_id: Any, *,
                  reply_by: Any = None, template: TemplateView | None = None, today: date | None = None) -> bytes:
    """The letter as it would be made now, rendered and not stored (read access suffices); a
    `template` not yet saved (the editor's) is checked first."""
    if template is not None:
        placeholders.check(template.subject, template.body)
    else:
        template = await get_template(session, caller, template_id)
    p = await _prepare(session, caller, [account_id], template, reply_by, today)
    pdf, _ = await asyncio.to_thread(render, p.head, p.contents())
    return pdf


@dataclass(frozen=True)
class PrintRun:
    pdf: bytes  # every letter, each from a new page
    letter_ids: list[uuid.UUID]  # the letters stored, in the accounts' order
    pages: int


async def print_letters(session: AsyncSession, caller: Caller, account_ids: Sequence[Any], template_id: Any, *,
                        reply_by: Any = None, source: str = "cli", today: date | None = None) -> PrintRun:
    """Letters for every account (stored, one `letter.created` each, as `create_letters`, in
    calls of MAX_ACCOUNTS) and one PDF of all of them to print, each letter from a new page. The
    rows of each call leave the session once flushed, so a long run holds only its PDF."""
    caller.require_write()
    ids = list(dict.fromkeys(account_ids))
    template = await get_template(session, caller, template_id)
    writer = PdfWriter(await head_for(session, caller.org_id))
    made_ids: list[uuid.UUID] = []
    pages = 0
    for start in range(0, len(ids), MAX_ACCOUNTS):
        p = await _prepare(session, caller, ids[start:start + MAX_ACCOUNTS], template, reply_by, today)
        made, contents = await _make(session, caller, p, send_email=False, source=source)
        for letter, content in zip(made, contents, strict=True):
            pages += writer.add(content)
            made_ids.append(letter.id)
            session.expunge(letter)
    return PrintRun(writer.finish(), made_ids, pages)


async def active_accounts(session: AsyncSession, caller: Caller) -> list[uuid.UUID]:
    """The accounts a print run covers when none are named: those the caller sees that are
    `active`, by reference."""
    rows = await session.execute(
        select(Account.id).outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
        .outerjoin(Loan, Loan.id == Account.loan_id)
        .where(account_scope(caller), Account.status == "active")
        .order_by(func.coalesce(DebtorAccount.account_code, Loan.loan_account_number), Account.id))
    return [r[0] for r in rows]


# ------------------------------------------------------------------ reading


def status_expr() -> Any:
    """A letter's status from its e-mail (the message log), as SQL."""
    return case((Message.status.in_(("sent", "delivered", "read")), "emailed"),
                (Message.status == "failed", "failed"), else_="created")


def status_of(message_status: str | None) -> str:
    if message_status in ("sent", "delivered", "read"):
        return "emailed"
    return "failed" if message_status == "failed" else "created"


async def _statuses(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
    if not message_ids:
        return {}
    rows = await session.execute(select(Message.id, Message.status, Message.response)
                                 .where(Message.id.in_(list(message_ids))))
    return {r[0]: (r[1], r[2]) for r in rows}


def _reason(message: tuple[str, str | None] | None, email_reason: str | None) -> str | None:
    if message is None:
        return email_reason
    status, response = message
    if status == "failed":
        return response
    if status in ("pending", "sending"):
        return "E-mail queued."
    return None


def event_data(x: Letter, message: tuple[str, str | None] | None) -> dict[str, Any]:
    return {"id": str(x.id), "accountId": str(x.account_id), "templateId": str(x.template_id),
            "templateName": x.template_name, "subject": x.subject,
            "replyBy": x.reply_by.isoformat() if x.reply_by else None, "pages": x.pages,
            "status": status_of(message[0] if message else None), "emailed": x.message_id is not None,
            "source": x.source, "createdBy": x.created_by, "createdAt": isoz(x.created_at)}


@dataclass(frozen=True)
class LetterView:
    """A letter as lists show it (never its PDF's bytes)."""

    id: uuid.UUID
    account_id: uuid.UUID
    reference: str
    customer_name: str
    template_id: uuid.UUID
    template_name: str
    subject: str
    reply_by: date | None
    pages: int
    pdf_size: int
    status: str
    reason: str | None
    message_id: uuid.UUID | None  # the message's UUID in the log
    source: str
    created_by: str
    created_at: datetime


def letter_scope(caller: Caller) -> ColumnElement[bool]:
    return and_(Letter.org_id == caller.org_id, Letter.account_id.in_(select(Account.id).where(account_scope(caller))))


def _view_query() -> Any:
    return (select(Letter.id, Letter.account_id, func.coalesce(DebtorAccount.account_code, Loan.loan_account_number),
                   Customer.name, Letter.template_id, Letter.template_name, Letter.subject, Letter.reply_by,
                   Letter.pages, Letter.pdf_size, Message.status, Message.response, Letter.email_reason, Message.uuid,
                   Letter.source, Letter.created_by, Letter.created_at)
            .join(Account, Account.id == Letter.account_id).join(Customer, Customer.id == Account.customer_id)
            .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
            .outerjoin(Loan, Loan.id == Account.loan_id)
            .outerjoin(Message, Message.id == Letter.message_id))


def _view(r: Any) -> LetterView:
    message = (r[10], r[11]) if r[10] is not None else None
    return LetterView(r[0], r[1], r[2] or "", r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                      status_of(r[10]), _reason(message, r[12]), r[13], r[14], r[15], r[16])


@dataclass
class LetterFilter:
    account_id: Any = None
    status: str | None = None
    template_id: Any = None
    source: str | None = None
    created_from: date | None = None
    created_to: date | None = None


async def list_letters(session: AsyncSession, caller: Caller, f: LetterFilter, *, offset: int = 0, limit: int = 20,
                       descending: bool = True) -> tuple[list[LetterView], int]:
    errors: dict[str, list[str]] = {}
    conds: list[Any] = [letter_scope(caller)]
    if f.account_id is not None:
        key = parse_account_id(f.account_id)
        conds.append(Letter.account_id == key) if key else errors.setdefault("accountId", ["Not a valid id."])
    if f.template_id is not None:
        key = parse_account_id(f.template_id)
        conds.append(Letter.template_id == key) if key else errors.setdefault("templateId", ["Not a valid id."])
    if f.status is not None:
        if f.status not in ("created", "emailed", "failed"):
            errors["status"] = ["Must be one of created, emailed, failed."]
        else:
            conds.append(status_expr() == f.status)
    if f.source is not None:
        if f.source not in SOURCES:
            errors["source"] = [f"Must be one of {', '.join(SOURCES)}."]
        else:
            conds.append(Letter.source == f.source)
    if f.created_from is not None:
        conds.append(Letter.created_at >= datetime.combine(f.created_from, datetime.min.time()))
    if f.created_to is not None:
        conds.append(Letter.created_at < datetime.combine(f.created_to + timedelta(days=1), datetime.min.time()))
    if errors:
        raise ValidationFailed("Invalid list parameters: " + ", ".join(errors), field_errors=errors)
    total = await session.scalar(select(func.count()).select_from(Letter)
                                 .outerjoin(Message, Message.id == Letter.message_id).where(*conds)) or 0
    order = (Letter.created_at.desc(), Letter.id.desc()) if descending else (Letter.created_at, Letter.id)
    rows = await session.execute(_view_query().where(*conds).order_by(*order).offset(offset).limit(limit))
    return [_view(r) for r in rows], int(total)


async def get_letter(session: AsyncSession, caller: Caller, letter_id: Any) -> LetterView:
    key = parse_account_id(letter_id)
    row = None
    if key is not None:
        row = (await session.execute(_view_query().where(Letter.id == key, letter_scope(caller)))).first()
    if row is None:
        raise NotFound(f"Letter {str(letter_id)[:64]} not found.")
    return _view(row)


async def views_of(session: AsyncSession, caller: Caller, letters: Sequence[Letter]) -> list[LetterView]:
    """These letters as lists show them, in their order (one query)."""
    out: dict[uuid.UUID, LetterView] = {}
    ids = [x.id for x in letters]
    for start in range(0, len(ids), 500):
        rows = await session.execute(_view_query().where(Letter.id.in_(ids[start:start + 500]), letter_scope(caller)))
        out.update({v.id: v for v in map(_view, rows)})
    return [out[i] for i in ids if i in out]


def pdf_name(view: LetterView) -> str:
    return safe_filename(f"letter-{view.reference or view.account_id}-{view.created_at:%Y%m%d}.pdf", "letter.pdf")


async def letter_pdf(session: AsyncSession, caller: Caller, letter_id: Any) -> tuple[str, bytes]:
    """(a safe file name, the PDF) of a letter the caller may see."""
    view = await get_letter(session, caller, letter_id)
    data = await session.scalar(select(Letter.pdf).where(Letter.id == view.id))
    assert data is not None
    return pdf_name(view), data


# ------------------------------------------------------------------ the messaging seam


async def attachments_for_messages(session: AsyncSession, message_ids: Sequence[int]
                                   ) -> Mapping[int, Sequence[Attachment]]:
    """The letters' PDFs of these e-mails (registered with messaging by arrears.wiring)."""
    rows = await session.execute(
        select(Letter.message_id, Letter.pdf, Letter.created_at,
               func.coalesce(DebtorAccount.account_code, Loan.loan_account_number))
        .join(Account, Account.id == Letter.account_id)
        .outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
        .outerjoin(Loan, Loan.id == Account.loan_id)
        .where(Letter.message_id.in_(list(message_ids))))
    out: dict[int, list[Attachment]] = {}
    for message_id, pdf, created, reference in rows:
        if message_id is None:
            continue
        name = safe_filename(f"letter-{reference or 'account'}-{created:%Y%m%d}.pdf", "letter.pdf")
        out.setdefault(message_id, []).append(Attachment(name, "application/pdf", pdf))
    return out


async def find_account(session: AsyncSession, caller: Caller, text: str) -> uuid.UUID:
    """An account the caller sees, by its id or its reference (a book account's code or a loan's
    number); 404 when none (or more than one) matches."""
    wanted = (text or "").strip()
    key = parse_account_id(wanted)
    if key is not None:
        return (await _visible(session, caller, [key]))[0]
    if wanted:
        rows = list(await session.scalars(
            select(Account.id).outerjoin(DebtorAccount, DebtorAccount.id == Account.debtor_account_id)
            .outerjoin(Loan, Loan.id == Account.loan_id)
            .where(account_scope(caller), func.coalesce(DebtorAccount.account_code, Loan.loan_account_number) == wanted)
            .limit(2)))
        if len(rows) == 1:
            return rows[0]
    raise NotFound(f"No account {wanted[:64]!r} that you can see.")
