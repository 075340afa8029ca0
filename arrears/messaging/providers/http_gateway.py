"""The generic HTTP gateway (the AAMA spec's MESSAGING_API_URL / MESSAGING_API_KEY /
MESSAGING_FROM / MESSAGING_TIMEOUT): one JSON POST per message.

    POST {MESSAGING_API_URL}
    Authorization: Bearer {MESSAGING_API_KEY}
    Idempotency-Key: {our message reference}
    {"to": "27821234567", "from": "DebtCollection", "message": "…", "reference": "<uuid>"}

A 2xx answer is success; its JSON `id` (or `message_id`, `messageId`, `reference`) is kept as the
external id (the gateway's answer is stored as its status and a short reason, at most 200
characters). An organisation's own URL goes through the guarded client (arrears.netguard).
408/429/5xx and network errors are retried (honouring Retry-After); other 4xx fail
with the gateway's reason. An interrupted call is sent again with the same Idempotency-Key
(recovery "resend"): exactly once with a gateway that honours the key, at least once otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from arrears import netguard
from arrears.messaging.providers.base import (
    Outbound,
    Provider,
    Recovery,
    SendResult,
    classify_status,
    clip,
    error_text,
    guarded_http_client,
    http_client,
    parse_retry_after,
    transport_error,
)


class HttpGatewayProvider(Provider):
    name = "gateway"
    channel = "sms"
    max_batch = 1
    recovery: Recovery = "resend"

    def __init__(self, account: str, *, url: str, api_key: str | None, sender: str, timeout: float,
                 guarded: bool = False) -> None:
        super().__init__(account)
        self.guarded = guarded  # an organisation's own URL: connections go to checked addresses only
        self.url = url
        self.api_key = api_key
        self.sender = sender
        self.timeout = timeout

    async def send(self, batch: Sequence[Outbound]) -> list[SendResult]:
        return [await self._one(m) for m in batch]

    async def _one(self, m: Outbound) -> SendResult:
        headers = {"idempotency-key": m.ref, "accept": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        body = {"to": m.recipient, "from": self.sender, "message": m.content, "reference": m.ref}
        if m.subject is not None:
            body["subject"] = m.subject
        try:
            client = guarded_http_client() if self.guarded else http_client()
            resp = await client.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except httpx.ConnectError as exc:
            if isinstance(exc.__cause__, netguard.BlockedConnection):  # trying again cannot help
                return SendResult(m.id, "permanent", response=clip(str(exc.__cause__)))
            return SendResult(m.id, "transient", response=transport_error(exc, self.timeout))
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            return SendResult(m.id, "transient", response=transport_error(exc, self.timeout))
        outcome = classify_status(resp.status_code)
        if outcome != "sent":
            return SendResult(m.id, outcome, response=clip(f"Gateway HTTP {resp.status_code}: {error_text(resp)}"),
                              retry_after=parse_retry_after(resp.headers.get("retry-after")))
        external = None
        try:
            data = resp.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("id", "message_id", "messageId", "external_id", "reference"):
                if data.get(key):
                    external = str(data[key])
                    break
            message = data.get("message") or data.get("status")
        else:
            message = None
        return SendResult(m.id, "sent", clip(external, 128) if external else m.ref,
                          clip(str(message)) if message else "Message sent successfully")
