"""The partner platform's fixed vocabulary: rate-limit tiers, statuses and webhook event types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    per_minute: int
    per_hour: int
    per_day: int

    def as_dict(self) -> dict[str, int]:
        return {"requestsPerMinute": self.per_minute, "requestsPerHour": self.per_hour,
                "requestsPerDay": self.per_day}


# partner-api-ecosystem.md, "Get Rate Limit Tiers".
TIERS: dict[str, Tier] = {
    "basic": Tier(60, 1_000, 10_000),
    "standard": Tier(120, 5_000, 50_000),
    "premium": Tier(300, 15_000, 150_000),
    "enterprise": Tier(600, 50_000, 500_000),
}
DEFAULT_TIER = "basic"
# Organisation admins calling with their JWT are counted per user at this tier.
USER_TIER = "enterprise"

CLIENT_STATUSES = ("ACTIVE", "INACTIVE", "SUSPENDED")
KEY_STATUSES = ("ACTIVE", "REVOKED", "EXPIRED")
SUBSCRIPTION_STATUSES = ("ACTIVE", "PAUSED")
DELIVERY_STATUSES = ("PENDING", "DELIVERED", "FAILED")

# The spec's event types, then the ones Arrears adds.
SPEC_EVENTS = (
    "lead.created", "lead.updated", "lead.qualified", "lead.converted", "lead.rejected",
    "assignment.created", "assignment.accepted", "assignment.rejected",
    "policy.created", "policy.updated", "policy.activated", "policy.cancelled",
    "quote.created", "quote.sent", "quote.accepted", "quote.rejected",
    "proposal.created", "proposal.sent", "proposal.accepted", "proposal.rejected",
)
ARREARS_EVENTS = ("collection.updated", "upload.completed", "message.delivered", "message.failed",
                  "account.status_changed", "task.created", "payment.recorded", "payment.reversed",
                  "promise.created", "promise.kept", "promise.broken", "strategy.step_executed",
                  "letter.created")
WEBHOOK_EVENTS: tuple[str, ...] = SPEC_EVENTS + ARREARS_EVENTS
WEBHOOK_EVENT_SET = frozenset(WEBHOOK_EVENTS)

# Retry configuration of a subscription: defaults and bounds.
RETRY_DEFAULTS = {"maxRetries": 3, "retryDelay": 60, "backoffMultiplier": 2.0, "timeout": 30}
MAX_RETRIES = 10
MAX_RETRY_DELAY = 86_400
MAX_BACKOFF_MULTIPLIER = 10.0
MAX_TIMEOUT = 30
