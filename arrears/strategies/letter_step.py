"""The letter step's calls into the letters domain (arrears.letters, below this one): whether a
letter template is one the organisation may use (a built-in or its own), one stored letter per
account from the step's template, made with the strategy owner's rights (`letter.created` each),
each e-mailed as a PDF attachment through the outbox to the accounts with an e-mail address, each
noted on its step execution, and one PDF of the step's letters of a day that were not e-mailed,
to print (`arrears letters print --step`).

Delivery (the step's `letter_delivery`): `email`, the default — a letter goes by e-mail when the
customer (else the book account) has an e-mail address and the outbox takes it (not opted out,
under the daily cap; outside the contact hours it waits in the outbox), and to the print batch
otherwise: no address, refused by the contact rules, no e-mail provider configured, or its e-mail
failed later; `print` — every letter to the print batch (a notice the law wants posted). The
e-mail carries the step's idempotency key `strategy:<step>:<account>:<day>`, as the SMS and
e-mail steps' messages do, so a repeated run sends nothing twice. `deliveries` says beforehand (the preview) which way each
account's letter goes, with the outbox's checks as the run's `check_drafts` applies them."""

from __future__ import annotations

import io
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import pypdfium2 as pdfium
from sqlalchemy import Table, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from arrears.accounts.models import Account
from arrears.accounts.service import account_scope
from arrears.errors import NotFound, ValidationFailed
from arrears.identity.caller import Caller
from arrears.letters import service as letters
from arrears.letters.models import Letter
from arrears.letters.templates import get_template
from arrears.messaging import rules
from arrears.messaging.models import Message
from arrears.messaging.providers import ProviderNotConfigured, resolve
from arrears.messaging.service import Draft
from arrears.messaging.settings import MessagingSettings, messaging_settings
from arrears.strategies.models import StrategyStep, StrategyStepExecution, message_key

EMAIL = "email"
PRINT = "print"
# Why a letter goes to the print batch (the outbox's refusals named as the step executions and the
# preview name them; no provider; a failed e-mail).
PRINT_REASONS = {rules.NO_RECIPIENT: "no_contact", rules.INVALID_RECIPIENT: "invalid_contact",
                 rules.OPTED_OUT: "opted_out", rules.CAP_REACHED: "cap_reached",
                 rules.ACCOUNT_ON_HOLD: "on_hold"}
NO_PROVIDER = "no_provider"
PRINT_ONLY = "print_only"
# What the letters list says of a letter the step did not try to e-mail (the letters domain says
# it of a customer with no address).
NOT_EMAILED = {PRINT_ONLY: "Not e-mailed: the strategy's step sends its letters by post.",
               NO_PROVIDER: "Not e-mailed: no e-mail provider is configured."}
Check = Callable[[list[Draft]], Awaitable[dict[int, str]]]


async def template_ok(session: AsyncSession, org_id: int, template_id: uuid.UUID) -> bool:
    """A built-in letter template or one of the organisation's own."""
    try:
        await get_template(session, Caller(kind="user", org_id=org_id), template_id)
    except NotFound:
        return False
    return True


def email_ready(org: Any, settings: MessagingSettings | None = None) -> bool:
    """Whether the organisation has an e-mail provider (the simulation counts); else letters print."""
    try:
        resolve(org, "email", settings or messaging_settings())
    except ProviderNotConfigured:
        return False
    return True


def email_address(row: Any) -> str | None:
    """The address a due account's letter goes to (a row of arrears.strategies.selection): the
    customer's, else the book account's — the letters domain's and the e-mail step's choice."""
    return row.customer_email or row.book_email or None


async def deliveries(org: Any, step: StrategyStep, rows: Sequence[Any], day: date, check: Check,
                     settings: MessagingSettings | None = None) -> dict[uuid.UUID, str]:
    """Which way each due account's letter goes today, writing nothing: `email`, or
    `print:<reason>` (print_only, no_provider, no_contact, invalid_contact, opted_out,
    cap_reached). `check` is the outbox's checks without writing (the runner's `check_drafts` with
    its cap tally and settings): the e-mails count towards the cap as the run's will."""
    why = _not_emailing(org, step, settings)
    if why:
        return {r.account_id: f"{PRINT}:{why}" for r in rows}
    drafts = [Draft("email", email_address(r), "", customer_id=r.customer_id, debtor_account_id=r.debtor_account_id,
                    idempotency_key=message_key(step.id, r.account_id, day)) for r in rows]
    refused = await check(drafts)
    return {r.account_id: f"{PRINT}:{PRINT_REASONS.get(refused[i], refused[i].lower())}" if i in refused else EMAIL
            for i, r in enumerate(rows)}


def letter_counts(routes: dict[uuid.UUID, str]) -> dict[str, Any]:
    """The preview's letter counts from `deliveries` (of the accounts the step fires on): e-mailed,
    printed, and why printed."""
    printed = [r.split(":", 1)[1] for r in routes.values() if r != EMAIL]
    why: dict[str, int] = {}
    for reason in printed:
        why[reason] = why.get(reason, 0) + 1
    return {"lettersEmailed": len(routes) - len(printed), "lettersPrinted": len(printed),
            "lettersPrintedWhy": dict(sorted(why.items()))}


async def send_letters(session: AsyncSession, org: Any, owner: Caller, step: StrategyStep,
                       account_ids: Sequence[uuid.UUID], day: date) -> list[Any]:
    """The step's letters for these (claimed) accounts: made with the owner's rights, e-mailed
    where the outbox takes them, each noted on its execution with the way it went."""
    assert step.letter_template_id is not None
    why = _not_emailing(org, step)
    made: list[Any] = []
    ids = list(account_ids)
    for start in range(0, len(ids), letters.MAX_ACCOUNTS):  # the letters domain's bound per call
        part = ids[start:start + letters.MAX_ACCOUNTS]
        made.extend(await letters.create_letters(
            session, owner, part, step.letter_template_id, source="strategy", today=day, send_email=not why,
            email_keys={i: message_key(step.id, i, day) for i in part}))
    if why:
        for x in made:
            x.email_reason = NOT_EMAILED[why]
    await _note(session, step.id, day, made, why)
    return made


def _not_emailing(org: Any, step: StrategyStep, settings: MessagingSettings | None = None) -> str | None:
    """Why none of the step's letters is e-mailed today (print_only, no_provider), if so."""
    if step.letter_delivery == PRINT:
        return PRINT_ONLY
    return None if email_ready(org, settings) else NO_PROVIDER


async def _note(session: AsyncSession, step_id: uuid.UUID, day: date, made: Sequence[Any], why: str | None
                ) -> None:
    """Each letter's id on the execution that made it (`detail.letterId`), and which way it went
    (`detail.delivery`: email, or print with `detail.reason`): a print run of the step finds
    exactly these letters, whatever else was made for the accounts that day."""
    if not made:
        return
    refused: dict[int, str | None] = {}
    sent = [x.message_id for x in made if x.message_id is not None and not why]
    for start in range(0, len(sent), 500):
        refused.update({i: code for i, code in await session.execute(select(Message.id, Message.error_code).where(
            Message.id.in_(sent[start:start + 500]), Message.status == "failed"))})
    noted = []
    for x in made:
        if why:
            how = {"delivery": PRINT, "reason": why}
        elif x.message_id is None:
            how = {"delivery": PRINT, "reason": PRINT_REASONS[rules.NO_RECIPIENT]}
        elif x.message_id in refused:
            code = refused[x.message_id] or ""
            how = {"delivery": PRINT, "reason": PRINT_REASONS.get(code, code.lower() or "failed")}
        else:
            how = {"delivery": EMAIL}
        noted.append({"account": x.account_id, "noted": {"letterId": str(x.id), **how}})
    table = cast(Table, StrategyStepExecution.__table__)
    await session.execute(
        table.update().where(table.c.step_id == step_id, table.c.run_on == day,
                             table.c.account_id == bindparam("account"))
        .values(detail=bindparam("noted")), noted)


@dataclass(frozen=True)
class StepPrint:
    pdf: bytes  # the step's letters of the day to print, each from a new page, in the accounts' order
    letters: int
    pages: int
    emailed: int  # the step's letters of the day that went by e-mail (not printed)


def _join(pdfs: Sequence[bytes]) -> tuple[bytes, int]:
    joined = pdfium.PdfDocument.new()
    try:
        for data in pdfs:
            one = pdfium.PdfDocument(data)
            try:
                joined.import_pages(one)
            finally:
                one.close()
        out = io.BytesIO()
        joined.save(out)
        return out.getvalue(), len(joined)
    finally:
        joined.close()


async def step_letters(session: AsyncSession, caller: Caller, step_id: Any, day: date) -> StepPrint:
    """One PDF of the letters a letter step made on `day` (stored when it fired: nothing is made
    again) that were not e-mailed — no address, refused by the contact rules, or the e-mail failed
    — for the accounts the caller sees. Another organisation's step is a 404; a step that is not a
    letter step, made no letter that day, or e-mailed every one, a 400 saying so."""
    try:
        key = uuid.UUID(str(step_id).strip())
    except ValueError:
        key = None
    step = None
    if key is not None:
        step = await session.scalar(select(StrategyStep).where(StrategyStep.id == key,
                                                               StrategyStep.org_id == caller.org_id))
    if step is None:
        raise NotFound(f"Strategy step {str(step_id)[:64]} not found.")
    if step.action != "letter":
        raise ValidationFailed(f"Step {step.position} is a {step.action} step, not a letter step.",
                               field_errors={"step": ["Not a letter step."]})
    rows = (await session.execute(
        select(StrategyStepExecution.detail).join(Account, Account.id == StrategyStepExecution.account_id)
        .where(StrategyStepExecution.step_id == step.id, StrategyStepExecution.run_on == day, account_scope(caller))
        .order_by(StrategyStepExecution.position, StrategyStepExecution.id))).scalars().all()
    ids = [uuid.UUID(d["letterId"]) for d in rows if isinstance(d, dict) and d.get("letterId")]
    if not ids:
        raise ValidationFailed(f"Step {step.position} made no letter on {day.isoformat()}.",
                               field_errors={"step": [f"No letter on {day.isoformat()}."]})
    found: dict[uuid.UUID, bytes] = {}
    for start in range(0, len(ids), 500):
        found.update({i: pdf for i, pdf in await session.execute(
            select(Letter.id, Letter.pdf).outerjoin(Message, Message.id == Letter.message_id)
            .where(Letter.id.in_(ids[start:start + 500]), Letter.org_id == caller.org_id,
                   or_(Letter.message_id.is_(None), Message.status == "failed")))})
    if not found:
        raise ValidationFailed(f"Step {step.position}'s {len(ids)} letter(s) of {day.isoformat()} were all e-mailed: "
                               "none to print.", field_errors={"step": ["Every letter was e-mailed."]})
    pdf, pages = _join([found[i] for i in ids if i in found])
    return StepPrint(pdf, len(found), pages, len(ids) - len(found))
