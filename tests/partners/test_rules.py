"""Partner platform rules without HTTP: signatures, address checks, retry schedule, rate tiers."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import httpcore
import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from arrears.partners import ratelimits, signing, ssrf
from arrears.partners.delivery import Claimed, parse_retry_after, retry_delay


def test_signatures_verify_with_the_standardwebhooks_package():
    secret = signing.new_secret()
    body = b'{"type":"policy.updated","timestamp":"2024-01-15T10:00:00Z","data":{}}'
    ts = int(datetime.now(UTC).timestamp())
    headers = signing.headers(secret, "msg_abc", ts, body)
    assert Webhook(secret).verify(body, headers) == {"type": "policy.updated",
                                                     "timestamp": "2024-01-15T10:00:00Z", "data": {}}
    assert signing.verify(secret, "msg_abc", ts, body, headers["webhook-signature"])
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)
    # The library's own signature matches ours byte for byte.
    assert Webhook(secret).sign("msg_abc", datetime.fromtimestamp(ts, UTC), body.decode()) == \
        headers["webhook-signature"]


@given(st.binary(max_size=300), st.text(min_size=1, max_size=40, alphabet="abcdef0123456789_"))
def test_signature_property(body, msg_id):
    secret = signing.new_secret()
    sig = signing.sign(secret, msg_id, 1_700_000_000, body)
    assert signing.verify(secret, msg_id, 1_700_000_000, body, "v1,bogus " + sig)
    assert not signing.verify(secret, msg_id, 1_700_000_001, body, sig)


@pytest.mark.parametrize("address, ok", [
    ("93.184.216.34", True), ("8.8.8.8", True), ("2606:4700:4700::1111", True),
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.100.100.200", False), ("0.0.0.0", False), ("::1", False),
    ("fd00:ec2::254", False), ("fe80::1%eth0", False), ("::ffff:127.0.0.1", False),
    ("2002:7f00:1::", False), ("224.0.0.1", False), ("255.255.255.255", False), ("bogus", False),
    # IPv6 forms that carry an IPv4 address are judged as that address (issue 19 §5).
    ("::127.0.0.1", False), ("::10.0.0.1", False), ("::8.8.8.8", True), ("::", False),
    ("64:ff9b::7f00:1", False), ("64:ff9b::169.254.169.254", False), ("64:ff9b::8.8.8.8", True),
    ("64:ff9b:1::a00:1", False), ("::ffff:8.8.8.8", True), ("2002:808:808::", True),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
])
def test_address_allowed(address, ok):
    assert ssrf.address_allowed(address) is ok


async def test_dns_rebinding_is_caught_when_connecting(monkeypatch):
    monkeypatch.delenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE", raising=False)
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def resolve(host, port, seconds):
        return next(answers)

    monkeypatch.setattr(ssrf, "_resolve", resolve)
    await ssrf.check_url("https://rebind.attacker.example/hook")  # public when subscribing
    with pytest.raises(ssrf.BlockedConnection, match="127.0.0.1"):
        await ssrf.GuardedBackend().connect_tcp("rebind.attacker.example", 443, timeout=1)
    assert issubclass(ssrf.BlockedConnection, httpcore.ConnectError)


async def test_unresolvable_names_are_accepted_when_subscribing(monkeypatch):
    monkeypatch.delenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE", raising=False)

    async def fail(host, port, seconds):
        raise OSError("no DNS")

    monkeypatch.setattr(ssrf, "_resolve", fail)
    await ssrf.check_url("https://not-live-yet.partner.example/hook")
    with pytest.raises(httpcore.ConnectError, match="cannot resolve"):
        await ssrf.GuardedBackend().connect_tcp("not-live-yet.partner.example", 443, timeout=1)


def _claimed(attempt: int, delay: int = 60, mult: float = 2.0) -> Claimed:
    return Claimed(uuid.uuid4(), uuid.uuid4(), attempt, 4, {}, datetime.now(UTC), "http://x", "", 30,
                   delay, mult)


@pytest.mark.parametrize("attempt, base", [(1, 60), (2, 120), (3, 240)])
def test_retry_delay_is_exponential_with_jitter(attempt, base):
    rng = random.Random(7)
    for _ in range(50):
        d = retry_delay(_claimed(attempt), None, rng)
        assert base <= d <= base * 1.2


def test_retry_after_wins_when_later_and_is_capped():
    assert retry_delay(_claimed(1, delay=5, mult=1), 300) == 300
    assert 5 <= retry_delay(_claimed(1, delay=5, mult=1), 2) <= 6
    assert retry_delay(_claimed(1, delay=1, mult=1), 10**9) == 86_400
    assert retry_delay(_claimed(10, delay=86_400, mult=10), None) == 7 * 86_400


def test_parse_retry_after():
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = (datetime.now(UTC) + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 80 <= parse_retry_after(later) <= 91


def test_override_scales_the_tier():
    assert ratelimits.limits_for("standard") == ratelimits.Tier(120, 5000, 50000)
    assert ratelimits.limits_for("STANDARD", 240) == ratelimits.Tier(240, 10000, 100000)
    assert ratelimits.limits_for("basic", 3) == ratelimits.Tier(3, 50, 500)
    assert ratelimits.limits_for(None) == ratelimits.Tier(60, 1000, 10000)
