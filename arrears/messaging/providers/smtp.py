"""SMTP through aiosmtplib (SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, SMTP_STARTTLS,
SMTP_FROM): one multipart/alternative message (plain + HTML) per message, with a Message-ID
made from our reference. 5xx answers fail at once with the server's words; 4xx answers,
timeouts and lost connections are retried.

SMTP gives no receipts and no way to ask, so an interrupted session is settled by
MESSAGING_UNKNOWN_OUTCOME at once (recovery "policy").

An organisation's own SMTP host (`guarded`) gets the outbound address checks of arrears.netguard:
the host is resolved and checked, and the client connects to a checked address.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr, formatdate

import aiosmtplib

from arrears import netguard
from arrears.messaging.providers.base import Outbound, Provider, Recovery, SendResult, clip, transport_error


class SmtpProvider(Provider):
    name = "smtp"
    channel = "email"
    max_batch = 1
    recovery: Recovery = "policy"

    def __init__(self, account: str, *, host: str, port: int | None, username: str | None,
                 password: str | None, starttls: bool, use_tls: bool, sender: str,
                 sender_name: str | None, timeout: float, guarded: bool = False) -> None:
        super().__init__(account)
        self.host = host
        self.port = port or (465 if use_tls else 587 if starttls else 25)
        self.username = username
        self.password = password
        self.starttls = starttls and not use_tls
        self.use_tls = use_tls
        self.sender = sender
        self.sender_name = sender_name
        self.timeout = timeout
        self.guarded = guarded

    def message_id(self, m: Outbound) -> str:
        domain = self.sender.rsplit("@", 1)[-1] if "@" in self.sender else "arrears.local"
        return f"<{m.ref}@{domain}>"

    def build(self, m: Outbound) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = formataddr((self.sender_name, self.sender)) if self.sender_name else self.sender
        msg["To"] = m.recipient
        msg["Subject"] = m.subject or ""
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = self.message_id(m)
        msg["X-Arrears-Message-Id"] = m.ref
        msg.set_content(m.content)
        if m.html:
            msg.add_alternative(f"<!doctype html>\n<html><body>\n{m.html}\n</body></html>\n", subtype="html")
        for a in m.attachments:  # the alternative parts become the first part of multipart/mixed
            maintype, _, subtype = a.content_type.partition("/")
            msg.add_attachment(a.data, maintype=maintype, subtype=subtype or "octet-stream", filename=a.filename)
        return msg

    async def send(self, batch: Sequence[Outbound]) -> list[SendResult]:
        return [await self._one(m) for m in batch]

    async def _one(self, m: Outbound) -> SendResult:
        where: dict[str, object] = {"hostname": self.host, "port": self.port}
        if self.guarded:
            try:
                # The hostname stays for TLS verification; the socket is to a checked address.
                where = {"hostname": self.host, "port": None,
                         "sock": await netguard.connect_checked(self.host, self.port, self.timeout)}
            except netguard.UnsafeDestination as exc:
                return SendResult(m.id, "permanent", response=clip(str(exc), 200))
            except (OSError, TimeoutError) as exc:
                return SendResult(m.id, "transient", response=transport_error(exc, self.timeout))
        try:
            errors, answer = await aiosmtplib.send(
                self.build(m), **where, username=self.username or None,  # type: ignore[arg-type]
                password=self.password or None, start_tls=self.starttls, use_tls=self.use_tls,
                timeout=self.timeout, validate_certs=True)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0] if exc.recipients else None
            code = refused.code if refused is not None else 550
            reason = f"SMTP {code}: {clip(refused.message if refused else str(exc), 200)}"
            return SendResult(m.id, "permanent" if code >= 500 else "transient", response=reason)
        except aiosmtplib.SMTPResponseException as exc:
            reason = f"SMTP {exc.code}: {clip(exc.message, 200)}"
            return SendResult(m.id, "permanent" if exc.code >= 500 else "transient", response=reason)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return SendResult(m.id, "transient", response=transport_error(exc, self.timeout))
        if errors:
            addr, (code, text) = next(iter(errors.items()))
            return SendResult(m.id, "permanent" if code >= 500 else "transient",
                              response=f"SMTP {code} for {addr}: {clip(text, 200)}")
        return SendResult(m.id, "sent", self.message_id(m), clip(f"SMTP: {answer}", 200) or "Accepted by SMTP server")
