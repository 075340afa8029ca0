"""The simulation provider (the default: MESSAGING_SIMULATION=true). Nothing leaves the machine,
whatever credentials an organisation holds. Each call takes a small, realistic time, and the
outcome depends only on the recipient, so tests and demonstrations can produce every case.

SMS test numbers (as stored: digits, no +):

| number        | outcome                                                                   |
|---------------|---------------------------------------------------------------------------|
| 27820000001   | refused at once: invalid destination (permanent failure)                  |
| 27820000002   | provider busy on every attempt (transient; retried, then failed)          |
| 27820000003   | sent, then the network reports it undeliverable (UNDELIV → failed)        |
| 27820000004   | sent, and no delivery report ever comes (stays sent)                      |
| 27820000006   | provider busy on the first attempt only, then sent and delivered          |
| any other     | sent, then delivered                                                      |

E-mail test addresses, by local part (any domain): `fail@` refused (permanent), `busy@` busy on
every attempt, `busy-once@` busy on the first attempt only, `bounce@` sent then bounced
(failed), `noreport@` sent with no event, `read@` sent, delivered, then opened (read); any other
address is sent, then delivered.

Reports come back through the same receipts code the real providers' webhooks use, after
MESSAGING_SIMULATION_RECEIPT_DELAY (default 2s).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Sequence

from arrears.messaging.providers.base import Outbound, Provider, Recovery, SendResult

SMS_INVALID = "27820000001"
SMS_BUSY = "27820000002"
SMS_UNDELIVERABLE = "27820000003"
SMS_NO_REPORT = "27820000004"
SMS_BUSY_ONCE = "27820000006"


class SimulationProvider(Provider):
    name = "simulation"
    max_batch = 100
    recovery: Recovery = "resend"  # nothing left the machine: sending again cannot duplicate

    def __init__(self, channel: str, *, latency: float = 0.04, receipt_delay: float = 2.0) -> None:
        super().__init__("simulation")
        self.channel = channel
        self.latency = latency
        self.receipt_delay = receipt_delay

    async def send(self, batch: Sequence[Outbound]) -> list[SendResult]:
        if self.latency > 0:
            await asyncio.sleep(self.latency * random.uniform(0.5, 1.5))
        return [self.outcome(m) for m in batch]

    def outcome(self, m: Outbound) -> SendResult:
        ext = "sim_" + hashlib.sha256(m.ref.encode()).hexdigest()[:16]
        later = self.receipt_delay
        if m.channel == "email":
            local = m.recipient.split("@", 1)[0].lower()
            if local == "fail":
                return SendResult(m.id, "permanent", response="550 Mailbox does not exist (simulated)")
            if local == "busy" or (local == "busy-once" and m.attempt < 2):
                return SendResult(m.id, "transient", response="503 Service unavailable (simulated)")
            ok = f"Accepted for delivery (simulated, {ext})"
            if m.attachments:  # what would have been attached, in the log's response
                ok = f"Accepted for delivery with {_files(m)} (simulated, {ext})"
            if local == "bounce":
                return SendResult(m.id, "sent", ext, ok, later=[("failed:bounce: 550 mailbox unavailable "
                                                                  "(simulated)", later)])
            if local == "noreport":
                return SendResult(m.id, "sent", ext, ok)
            if local == "read":
                return SendResult(m.id, "sent", ext, ok, later=[("delivered", later), ("read", later * 1.5)])
            return SendResult(m.id, "sent", ext, ok, later=[("delivered", later)])
        number = m.recipient
        if number == SMS_INVALID:
            return SendResult(m.id, "permanent", response="Invalid destination number (simulated)")
        if number == SMS_BUSY or (number == SMS_BUSY_ONCE and m.attempt < 2):
            return SendResult(m.id, "transient", response="503 Service unavailable (simulated)")
        ok = f"Message sent successfully (simulated, {ext})"
        if number == SMS_UNDELIVERABLE:
            return SendResult(m.id, "sent", ext, ok, later=[("failed:UNDELIV: undeliverable (simulated)", later)])
        if number == SMS_NO_REPORT:
            return SendResult(m.id, "sent", ext, ok)
        return SendResult(m.id, "sent", ext, ok, later=[("delivered", later)])


def _files(m: Outbound) -> str:
    names = ", ".join(f"{a.filename} {len(a.data):,} B" for a in m.attachments[:3])
    more = f" and {len(m.attachments) - 3} more" if len(m.attachments) > 3 else ""
    return f"{len(m.attachments)} attachment{'s' if len(m.attachments) != 1 else ''} ({names}{more})"
