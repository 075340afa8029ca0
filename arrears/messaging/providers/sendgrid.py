"""SendGrid v3: `POST {SENDGRID_API_URL}/mail/send` with the API key as a bearer token; one
message per call (a subject, a plain and an HTML part). SendGrid answers 202 with the message's
id in `X-Message-Id`; our reference travels in `custom_args` and comes back on every event of the
Event Webhook, which settles an interrupted call (recovery "receipt").
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import httpx

from arrears.messaging.providers.base import (
    Outbound,
    Provider,
    Recovery,
    SendResult,
    classify_status,
    error_text,
    http_client,
    parse_retry_after,
    transport_error,
)

REFERENCE_ARG = "arrears_message_id"


class SendGridProvider(Provider):
    name = "sendgrid"
    channel = "email"
    max_batch = 1
    recovery: Recovery = "receipt"

    def __init__(self, account: str, *, url: str, api_key: str, from_email: str, from_name: str | None,
                 timeout: float) -> None:
        super().__init__(account)
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.from_email = from_email
        self.from_name = from_name
        self.timeout = timeout

    async def send(self, batch: Sequence[Outbound]) -> list[SendResult]:
        return [await self._one(m) for m in batch]

    def body(self, m: Outbound) -> dict[str, Any]:
        sender: dict[str, str] = {"email": self.from_email}
        if self.from_name:
            sender["name"] = self.from_name
        content = [{"type": "text/plain", "value": m.content}]
        if m.html:
            content.append({"type": "text/html", "value": m.html})
        body: dict[str, Any] = {"personalizations": [{"to": [{"email": m.recipient}]}], "from": sender,
                                "subject": m.subject or "", "content": content,
                                "custom_args": {REFERENCE_ARG: m.ref, "arrears_org": str(m.org_id)}}
        if m.attachments:  # v3 mail/send: each file base64-encoded, as an attachment
            body["attachments"] = [{"content": base64.b64encode(a.data).decode("ascii"), "type": a.content_type,
                                    "filename": a.filename, "disposition": "attachment"} for a in m.attachments]
        return body

    async def _one(self, m: Outbound) -> SendResult:
        try:
            resp = await http_client().post(f"{self.url}/mail/send", json=self.body(m), timeout=self.timeout,
                                            headers={"authorization": f"Bearer {self.api_key}"})
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            return SendResult(m.id, "transient", response=transport_error(exc, self.timeout))
        outcome = classify_status(resp.status_code)
        if outcome != "sent":
            return SendResult(m.id, outcome, response=f"SendGrid API error: {error_text(resp)}",
                              retry_after=parse_retry_after(resp.headers.get("retry-after")))
        external = resp.headers.get("x-message-id") or None
        return SendResult(m.id, "sent", external, "Accepted by SendGrid" + (f" ({external})" if external else ""))
