"""Helpers shared by tests/messaging and tests/faces/messaging."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from arrears.db import transaction
from arrears.identity.caller import Caller
from arrears.messaging.models import Message, MessageReceipt, OptOut


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast simulation, no contact hours (tests that need them turn them on), short retries."""
    monkeypatch.setenv("MESSAGING_SIMULATION_LATENCY", "0s")
    monkeypatch.setenv("MESSAGING_SIMULATION_RECEIPT_DELAY", "0s")
    monkeypatch.setenv("MESSAGING_CONTACT_HOURS", "false")
    monkeypatch.setenv("MESSAGING_RETRY_DELAY", "0s")
    monkeypatch.setenv("MESSAGING_RATE_LIMIT", "1000")


async def caller_for(user: Any, org_id: int | None = None) -> Any:
    from arrears.identity import service as identity

    async with transaction() as s:
        return await identity.caller_for_user(s, user.id, org_id)


async def messages(**where: Any) -> list[Message]:
    async with transaction(readonly=True) as s:
        q = select(Message).order_by(Message.id)
        for k, v in where.items():
            q = q.where(getattr(Message, k) == v)
        return list((await s.scalars(q)).all())


async def receipts() -> list[MessageReceipt]:
    async with transaction(readonly=True) as s:
        return list((await s.scalars(select(MessageReceipt).order_by(MessageReceipt.id))).all())


async def opt_outs() -> list[OptOut]:
    async with transaction(readonly=True) as s:
        return list((await s.scalars(select(OptOut).order_by(OptOut.id))).all())


async def queue(org: Any, caller: Any, drafts: list[Any], **kw: Any) -> Any:
    from arrears.identity.service import get_org
    from arrears.messaging.service import queue_messages

    async with transaction() as s:
        o = await get_org(s, org.id)
        return await queue_messages(s, caller, o, drafts, source=kw.pop("source", "api"), **kw)


def sms(recipient: str, text: str = "Hello", **kw: Any) -> Any:
    from arrears.messaging.service import Draft

    return Draft("sms", recipient, text, **kw)


def email(recipient: str, subject: str = "Reminder", text: str = "Hello", html: str = "<p>Hello</p>",
          **kw: Any) -> Any:
    from arrears.messaging.service import Draft

    return Draft("email", recipient, text, subject=subject, html=html, **kw)


# ------------------------------------------------------------------ stand-ins as fixtures


@pytest.fixture
async def smsportal() -> Any:
    from arrears.messaging.providers.base import close_http_client
    from tests.faces.messaging.standins import SMSPortalStandIn

    s = await SMSPortalStandIn().start()
    yield s
    await close_http_client()
    await s.stop()


@pytest.fixture
async def sendgrid() -> Any:
    from arrears.messaging.providers.base import close_http_client
    from tests.faces.messaging.standins import SendGridStandIn

    s = await SendGridStandIn().start()
    yield s
    await close_http_client()
    await s.stop()


@pytest.fixture
async def gateway() -> Any:
    from arrears.messaging.providers.base import close_http_client
    from tests.faces.messaging.standins import GatewayStandIn

    s = await GatewayStandIn().start()
    yield s
    await close_http_client()
    await s.stop()


@pytest.fixture
async def smtp_server() -> Any:
    from tests.faces.messaging.standins import SMTPStandIn

    s = await SMTPStandIn().start()
    yield s
    await s.stop()


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, quick: None) -> None:
    """Real providers (stand-ins on loopback) instead of the simulation."""
    monkeypatch.setenv("MESSAGING_SIMULATION", "false")
    monkeypatch.setenv("MESSAGING_TIMEOUT", "5s")


async def set_org(org: Any, **values: str) -> None:
    from arrears.identity import service as identity

    async with transaction() as s:
        o = await identity.get_org(s, org.id)
        await identity.set_org_settings(s, Caller.system(o.id), o, values)


async def customer(org: Any, code: str = "C1", name: str = "John Smith", phone: str | None = "0821234567",
                   email_address: str | None = None) -> Any:
    from arrears.customers.service import get_or_create_by_code

    async with transaction() as s:
        return await get_or_create_by_code(s, Caller.system(org.id), code, name=name, phone=phone, email=email_address)


async def domain_events(type_: str | None = None) -> list[Any]:
    from arrears.events import DomainEvent

    async with transaction(readonly=True) as s:
        q = select(DomainEvent).order_by(DomainEvent.id)
        if type_:
            q = q.where(DomainEvent.type == type_)
        return list((await s.scalars(q)).all())
