# ruff: noqa: F811  (pytest fixtures imported from tests.faces.messaging.helpers)
"""Issue 19, point 5: every outbound address an organisation can set (its SMS gateway URL, its SMTP
host and port) gets the webhooks' address checks when saved (service, web page, CLI) and when
used (the gateway's guarded client, the SMTP client's checked socket); provider answers are
stored trimmed."""

from __future__ import annotations

import os

import pytest

from arrears.errors import ValidationFailed
from arrears.worker import run_until_idle
from tests.faces.messaging.helpers import (  # noqa: F401
    caller_for,
    email,
    gateway,
    live,
    messages,
    queue,
    quick,
    set_org,
    sms,
    smtp_server,
)
from tests.faces.messaging.standins import Reply
from tests.inprocess_cli import arrears_async
from tests.web.conftest import UI

HOSTILE_URLS = [
    "http://127.0.0.1:8080/send",
    "http://localhost/send",
    "http://[::1]/send",
    "http://[::ffff:127.0.0.1]/send",  # IPv4-mapped
    "http://[::10.0.0.1]/send",  # IPv4-compatible
    "http://[64:ff9b::a9fe:a9fe]/send",  # NAT64 of 169.254.169.254
    "http://[2002:a00:1::]/send",  # 6to4 of 10.0.0.1
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/",
    "http://10.1.2.3/send",
    "file:///etc/passwd",
]


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE", raising=False)


@pytest.mark.parametrize("url", HOSTILE_URLS)
async def test_gateway_url_is_refused_when_saved(env, world, strict, url):
    org = await world.org()
    with pytest.raises(ValidationFailed) as caught:
        await set_org(org, messaging_api_url=url)
    assert caught.value.field_errors and "messaging_api_url" in caught.value.field_errors


@pytest.mark.parametrize(("values", "field"), [
    ({"smtp_host": "127.0.0.1"}, "smtp_host"),
    ({"smtp_host": "localhost", "smtp_port": "25"}, "smtp_host"),
    ({"smtp_host": "::ffff:10.0.0.5"}, "smtp_host"),
    ({"smtp_host": "169.254.169.254"}, "smtp_host"),
    ({"smtp_host": "mail.example.com:25"}, "smtp_host"),
    ({"smtp_host": "93.184.216.34", "smtp_port": "0"}, "smtp_port"),
    ({"smtp_port": "70000"}, "smtp_port"),
])
async def test_smtp_host_and_port_are_refused_when_saved(env, world, strict, values, field):
    org = await world.org()
    with pytest.raises(ValidationFailed) as caught:
        await set_org(org, **values)
    assert caught.value.field_errors and field in caught.value.field_errors


async def test_public_addresses_are_saved(env, world, strict):
    org = await world.org()
    await set_org(org, messaging_api_url="https://93.184.216.34/send", smtp_host="93.184.216.34",
                  smtp_port="587")
    await set_org(org, smtp_port="2525")  # the stored host is checked with the new port


async def test_loopback_is_allowed_in_development(env, world, monkeypatch):
    monkeypatch.setenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE", "true")
    org = await world.org()
    await set_org(org, messaging_api_url="http://127.0.0.1:9/send", smtp_host="127.0.0.1")


async def test_web_settings_page_answers_400_with_the_reason(env, world, strict, client):
    org = await world.org()
    user = await world.user(org.id, role="admin")
    ui = UI(client)
    await ui.login(user.username)
    page = await ui.get("/app/settings")
    assert page.status_code == 200
    r = await ui.post("/app/settings", {"name": org.name, "cred_messaging_api_url": "http://169.254.169.254/x"})
    assert r.status_code == 400
    assert "messaging_api_url" in r.text and "169.254.169.254" in r.text
    r = await ui.post("/app/settings", {"name": org.name, "cred_smtp_host": "localhost"})
    assert r.status_code == 400 and "internal host name" in r.text


async def test_cli_orgs_set_refuses(env, world, strict):
    org = await world.org()
    environ = {k: v for k, v in os.environ.items() if k != "ARREARS_WEBHOOKS_ALLOW_PRIVATE"}
    p = await arrears_async("orgs", "set", str(org.id), "messaging_api_url=http://[::ffff:7f00:1]/x", env=environ)
    assert p.returncode != 0
    assert "messaging_api_url" in p.stdout + p.stderr


# ------------------------------------------------------------------ at send time


async def _org_with(world, monkeypatch, **values):
    """Saved while loopback is allowed (as a stand-in for a name that later resolves inward)."""
    monkeypatch.setenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE", "true")
    org = await world.org()
    await set_org(org, **values)
    user = await world.user(org.id)
    return org, await caller_for(user)


async def test_gateway_send_time_check_blocks_the_connection(env, world, live, gateway, monkeypatch):
    org, c = await _org_with(world, monkeypatch, sms_provider="gateway", messaging_api_url=gateway.url,
                             messaging_api_key="gw-key")
    monkeypatch.delenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE")
    await queue(org, c, [sms("27821234567")])
    await run_until_idle()
    [m] = await messages()
    assert gateway.http.requests == []
    assert m.status == "failed" and m.attempts == 1  # permanent: trying again cannot help
    assert "127.0.0.1" in m.response and len(m.response) <= 200


async def test_gateway_through_the_guarded_client_when_allowed(env, world, live, gateway, monkeypatch):
    org, c = await _org_with(world, monkeypatch, sms_provider="gateway", messaging_api_url=gateway.url,
                             messaging_api_key="gw-key")
    await queue(org, c, [sms("27821234567")])
    await run_until_idle()
    [m] = await messages()
    assert m.status == "sent", m.response
    assert len(gateway.http.requests) == 1


async def test_gateway_answer_is_stored_trimmed(env, world, live, gateway, monkeypatch):
    org, c = await _org_with(world, monkeypatch, sms_provider="gateway", messaging_api_url=gateway.url,
                             messaging_api_key="gw-key")
    hostile = "<script>alert(1)</script>\r\n\x1b[31m" + "A" * 50_000
    gateway.script.append(Reply(422, {"error": hostile}))
    await queue(org, c, [sms("27821234567")])
    await run_until_idle()
    [m] = await messages()
    assert m.status == "failed"
    assert m.response.startswith("Gateway HTTP 422: ")
    assert len(m.response) <= 200
    assert "\n" not in m.response and "\r" not in m.response and "\x1b" not in m.response


async def test_smtp_send_time_check_blocks_the_connection(env, world, live, smtp_server, monkeypatch):
    org, c = await _org_with(world, monkeypatch, email_provider="smtp", smtp_host="127.0.0.1",
                             smtp_port=str(smtp_server.port), smtp_from="a@acme.co.za", smtp_starttls="false")
    monkeypatch.delenv("ARREARS_WEBHOOKS_ALLOW_PRIVATE")
    await queue(org, c, [email("john@example.com")])
    await run_until_idle()
    [m] = await messages()
    assert smtp_server.messages == []
    assert m.status == "failed" and m.attempts == 1
    assert "127.0.0.1" in m.response and len(m.response) <= 200


async def test_smtp_connects_to_the_checked_address_when_allowed(env, world, live, smtp_server, monkeypatch):
    org, c = await _org_with(world, monkeypatch, email_provider="smtp", smtp_host="localhost",
                             smtp_port=str(smtp_server.port), smtp_from="a@acme.co.za", smtp_starttls="false")
    await queue(org, c, [email("john@example.com")])
    await run_until_idle()
    [m] = await messages()
    assert m.status == "sent", m.response
    assert len(smtp_server.messages) == 1
