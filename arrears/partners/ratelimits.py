"""Per-key rate limits: the tier's minute, hour and day windows (moving windows through
arrears.ratelimit, so Redis-backed when REDIS_URL is set). A key's rateLimitOverride replaces
its per-minute limit, and the hour and day limits scale with it."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute

from arrears import ratelimit
from arrears.partners.catalogue import DEFAULT_TIER, TIERS, Tier

# Callers the partner face cannot identify (no, bad or refused credentials, or a path no route
# serves) are counted per client address at the lowest tier.
UNIDENTIFIED_TIER = min(TIERS, key=lambda name: TIERS[name].per_minute)

NAMESPACE = "partner"


@dataclass(frozen=True)
class Window:
    name: str  # minute | hour | day
    item: RateLimitItem


@dataclass(frozen=True)
class Status:
    """The tightest window after a request (or a peek): what the X-RateLimit-* headers show."""

    allowed: bool
    window: str
    limit: int
    remaining: int
    reset_at: float  # epoch seconds
    retry_after: int

    def reset_epoch(self) -> int:
        return math.ceil(self.reset_at)


def tier_of(name: str | None) -> Tier:
    return TIERS.get((name or DEFAULT_TIER).lower(), TIERS[DEFAULT_TIER])


def limits_for(tier_name: str | None, override: int | None = None) -> Tier:
    tier = tier_of(tier_name)
    if not override:
        return tier
    ratio = override / tier.per_minute
    return Tier(override, max(1, math.ceil(tier.per_hour * ratio)), max(1, math.ceil(tier.per_day * ratio)))


def windows(limits: Tier) -> list[Window]:
    return [Window("minute", RateLimitItemPerMinute(limits.per_minute)),
            Window("hour", RateLimitItemPerHour(limits.per_hour)),
            Window("day", RateLimitItemPerDay(limits.per_day))]


def _tightest(verdicts: Iterable[tuple[Window, ratelimit.Verdict]]) -> Status:
    best: tuple[Window, ratelimit.Verdict] | None = None
    for w, v in verdicts:
        if best is None or v.remaining < best[1].remaining:
            best = (w, v)
    assert best is not None
    w, v = best
    return Status(v.allowed, w.name, v.limit, v.remaining, v.reset_at, v.retry_after)


async def hit(subject: str, limits: Tier) -> Status:
    """Count one request for `subject` (e.g. "key:<uuid>"). Windows are hit shortest first and the
    first refusal stops the count, so a refused request never uses up a longer window."""
    seen: list[tuple[Window, ratelimit.Verdict]] = []
    for w in windows(limits):
        v = await ratelimit.hit(w.item, NAMESPACE, subject)
        if not v.allowed:
            retry = max(1, math.ceil(v.reset_at - time.time()))
            return Status(False, w.name, v.limit, 0, v.reset_at, retry)
        seen.append((w, v))
    return _tightest(seen)


async def peek(subject: str, limits: Tier) -> Status:
    seen = [(w, await ratelimit.peek(w.item, NAMESPACE, subject)) for w in windows(limits)]
    return _tightest(seen)


def key_subject(api_key_id: object) -> str:
    return f"key:{api_key_id}"


def user_subject(user_id: int) -> str:
    return f"user:{user_id}"


def address_subject(address: str) -> str:
    return f"addr:{address}"


async def hit_unidentified(address: str) -> Status:
    """Count one request of a caller known only by its address."""
    return await hit(address_subject(address), limits_for(UNIDENTIFIED_TIER))
