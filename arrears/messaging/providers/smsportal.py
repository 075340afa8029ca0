"""SMSPortal REST (https://docs.smsportal.com): `POST {SMSPORTAL_API_URL}/bulkmessages` with HTTP
basic auth (client id, API secret), up to 100 messages per call.

Each message carries our reference (the message's UUID) as `CustomerId`, which SMSPortal hands
back as `UserReference` in its delivery reports and replies; the answer's `EventId` is kept as the
external id. Destinations are digits with the country code and no `+` (27821234567). Two messages
to one number never share a call (SMSPortal would drop one as a duplicate).

SMSPortal has no API to ask whether it took a message, so an interrupted call is settled by its
delivery reports (recovery "receipt", see outbox.reconcile).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from arrears.messaging.providers.base import (
    Outbound,
    Provider,
    Recovery,
    SendResult,
    classify_status,
    clip,
    error_text,
    http_client,
    parse_retry_after,
    transport_error,
)


class SMSPortalProvider(Provider):
    name = "smsportal"
    channel = "sms"
    max_batch = 100
    recovery: Recovery = "receipt"

    def __init__(self, account: str, *, url: str, client_id: str, secret: str, timeout: float,
                 sender_id: str | None = None) -> None:
        super().__init__(account)
        self.url = url.rstrip("/")
        self.client_id = client_id
        self.secret = secret
        self.timeout = timeout
        self.sender_id = sender_id

    async def send(self, batch: Sequence[Outbound]) -> list[SendResult]:
        results: list[SendResult] = []
        for group in _unique_destinations(batch):
            results.extend(await self._send(group))
        return results

    async def _send(self, batch: Sequence[Outbound]) -> list[SendResult]:
        body: dict[str, Any] = {"Messages": [{"Content": m.content, "Destination": m.recipient,
                                              "CustomerId": m.ref} for m in batch]}
        if self.sender_id:
            body["SendOptions"] = {"SenderId": self.sender_id}
        try:
            resp = await http_client().post(f"{self.url}/bulkmessages", json=body,
                                            auth=httpx.BasicAuth(self.client_id, self.secret),
                                            headers={"accept": "application/json"}, timeout=self.timeout)
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            reason = transport_error(exc, self.timeout)
            return [SendResult(m.id, "transient", response=reason) for m in batch]
        outcome = classify_status(resp.status_code)
        if outcome == "transient":
            reason = f"SMSPortal HTTP {resp.status_code}: {error_text(resp)}"
            retry = parse_retry_after(resp.headers.get("retry-after"))
            return [SendResult(m.id, "transient", response=reason, retry_after=retry) for m in batch]
        if outcome == "permanent":
            if resp.status_code in (400, 422) and len(batch) > 1:
                # The call was refused as a whole (nothing was sent): find the bad message(s).
                split: list[SendResult] = []
                for m in batch:
                    split.extend(await self._send([m]))
                return split
            reason = f"SMSPortal HTTP {resp.status_code}: {error_text(resp)}"
            return [SendResult(m.id, "permanent", response=reason) for m in batch]
        return _accepted(batch, resp)


def _unique_destinations(batch: Sequence[Outbound]) -> list[list[Outbound]]:
    groups: list[list[Outbound]] = []
    seen: list[set[str]] = []
    for m in batch:
        for group, numbers in zip(groups, seen, strict=True):
            if m.recipient not in numbers:
                group.append(m)
                numbers.add(m.recipient)
                break
        else:
            groups.append([m])
            seen.append({m.recipient})
    return groups


def _accepted(batch: Sequence[Outbound], resp: httpx.Response) -> list[SendResult]:
    try:
        data = resp.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    event_id = data.get("EventId", data.get("eventId"))
    external = str(event_id) if event_id is not None else None
    faults = _faults(data)
    by_ref = {m.ref: m for m in batch}
    by_number: dict[str, Outbound] = {m.recipient: m for m in batch}
    failed: dict[int, str] = {}
    for fault in faults:
        ref = str(fault.get("CustomerId") or fault.get("UserReference") or fault.get("customerId") or "")
        number = str(fault.get("Destination") or fault.get("Msisdn") or fault.get("PhoneNumber") or "")
        target = by_ref.get(ref) or by_number.get(number.lstrip("+"))
        if target is not None:
            reason = (fault.get("Reason") or fault.get("ErrorMessage") or fault.get("Description")
                      or fault.get("Error") or "rejected")
            failed[target.id] = f"SMSPortal refused the message: {clip(str(reason), 500)}"
    ok = "Message sent successfully" + (f" (SMSPortal event {external})" if external else "")
    return [SendResult(m.id, "permanent", response=failed[m.id]) if m.id in failed
            else SendResult(m.id, "sent", external, ok) for m in batch]


def _faults(data: dict[str, Any]) -> list[dict[str, Any]]:
    report = data.get("ErrorReport") or data.get("errorReport") or {}
    if not isinstance(report, dict):
        return []
    faults = report.get("Faults") or report.get("faults") or []
    if not isinstance(faults, list):
        return []
    return [f for f in faults if isinstance(f, dict)]
