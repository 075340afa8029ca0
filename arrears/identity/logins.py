"""The sign-in throttle, which an attacker cannot turn against a user: failures are counted per
(username, address) pair (10 in 15 minutes) and per address (100 in 15 minutes), so another
address's failures never refuse a user's right password. A refusal is a 429 with Retry-After;
nothing sleeps server-side.

Each attempt takes a slot of its pair's allowance before the password is checked (an atomic
hit, not a look then a later hit): concurrent guesses cannot all pass the check before any of
them is counted. A success clears its pair. Keys hold a digest of the username, never the name,
and names past ARREARS_USERNAME_MAX_LENGTH are refused before any counter is touched: the
counters' memory is bounded by the addresses that failed, not by what they sent."""

from __future__ import annotations

import hashlib

from arrears import ratelimit
from arrears.config import get_settings
from arrears.errors import RateLimited, ValidationFailed

REFUSED = "Too many failed sign-in attempts; try again later"


def check_lengths(username: str, password: str) -> None:
    limits = get_settings().limits
    problems: dict[str, list[str]] = {}
    if len(username) > limits.arrears_username_max_length:
        problems["username"] = [f"At most {limits.arrears_username_max_length} characters."]
    if len(password) > limits.arrears_password_max_length:
        problems["password"] = [f"At most {limits.arrears_password_max_length} characters."]
    if problems:
        raise ValidationFailed("The username or password is too long", field_errors=problems,
                               details=problems)


def _pair_key(username: str, ip: str) -> str:
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"login-pair:{digest}:{ip}"


def _address_key(ip: str) -> str:
    return f"login-ip:{ip}"


async def admit(username: str, ip: str) -> None:
    """Take this attempt's slot, or refuse with 429 when this address failed too often."""
    limits = get_settings().limits
    v = await ratelimit.peek(limits.arrears_login_fails_per_address, _address_key(ip))
    if v.allowed:
        v = await ratelimit.hit(limits.arrears_login_fails_per_user, _pair_key(username, ip))
    if not v.allowed:
        raise RateLimited(REFUSED, retry_after=max(1, v.retry_after))


async def failed(username: str, ip: str) -> None:
    await ratelimit.hit(get_settings().limits.arrears_login_fails_per_address, _address_key(ip))


async def succeeded(username: str, ip: str) -> None:
    await ratelimit.clear(get_settings().limits.arrears_login_fails_per_user, _pair_key(username, ip))
