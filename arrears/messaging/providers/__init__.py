"""Which provider sends an organisation's messages on a channel.

With MESSAGING_SIMULATION=true (the default) it is always the simulation: nothing leaves the
machine, whatever credentials an organisation holds. Otherwise, per channel:

- SMS: the organisation's `sms_provider` setting or MESSAGING_SMS_PROVIDER when not `auto`;
  else SMSPortal with the organisation's `smsportal_client_id` + `smsportal_api_secret`, else
  SMSPortal with SMSPORTAL_CLIENT_ID + SMSPORTAL_API_SECRET, else the generic gateway at the
  organisation's `messaging_api_url` or MESSAGING_API_URL.
- E-mail: the organisation's `email_provider` or MESSAGING_EMAIL_PROVIDER when not `auto`; else
  SendGrid with the organisation's `sendgrid_api_key` (+ `sendgrid_from_email`), else SendGrid
  with SENDGRID_API_KEY (+ SENDGRID_FROM_EMAIL), else SMTP at the organisation's `smtp_host` or
  SMTP_HOST.

An organisation's own credentials mean its own provider account, with its own rate limit
(`messaging_rate_limit` setting, else MESSAGING_RATE_LIMIT).
"""

from __future__ import annotations

from typing import Any

from arrears.errors import DomainError
from arrears.identity.models import Organisation
from arrears.identity.service import org_setting
from arrears.messaging.errors import MessagingErrorCode
from arrears.messaging.providers import registry
from arrears.messaging.providers.base import Outbound, Provider, SendResult, account_key
from arrears.messaging.providers.http_gateway import HttpGatewayProvider
from arrears.messaging.providers.sendgrid import SendGridProvider
from arrears.messaging.providers.simulation import SimulationProvider
from arrears.messaging.providers.smsportal import SMSPortalProvider
from arrears.messaging.providers.smtp import SmtpProvider
from arrears.messaging.settings import MessagingSettings, messaging_settings

__all__ = ["Outbound", "Provider", "ProviderNotConfigured", "SendResult", "rate_for", "resolve"]

SMS_PROVIDERS = registry.names("sms")
EMAIL_PROVIDERS = registry.names("email")


class ProviderNotConfigured(DomainError):
    code = MessagingErrorCode.PROVIDER_NOT_CONFIGURED
    status = 400


def _s(org: Organisation | None, key: str) -> Any:
    if org is None:
        return None
    value = org_setting(org, key)
    return value.strip() if isinstance(value, str) else value


def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def rate_for(org: Organisation | None, provider: Provider, settings: MessagingSettings | None = None) -> float:
    """Messages per second for the provider's account: the organisation's `messaging_rate_limit`
    for an account of its own, else MESSAGING_RATE_LIMIT (shared accounts share one limit)."""
    s = settings or messaging_settings()
    own = _s(org, "messaging_rate_limit") if provider.own_account else None
    if own:
        try:
            value = float(own)
        except (TypeError, ValueError):
            value = 0.0
        if value > 0:
            return value
    return s.messaging_rate_limit


def resolve(org: Organisation | None, channel: str, settings: MessagingSettings | None = None) -> Provider:
    """The provider for this organisation and channel; ProviderNotConfigured (400) when none."""
    s = settings or messaging_settings()
    if s.messaging_simulation:
        return SimulationProvider(channel, latency=s.simulation_latency, receipt_delay=s.simulation_receipt_delay)
    if channel == "sms":
        return _sms(org, s)
    if channel == "email":
        return _email(org, s)
    raise ProviderNotConfigured(f"Unknown channel {channel!r}: use sms or email", code=MessagingErrorCode.INVALID_CHANNEL)


def _own(provider: Provider) -> Provider:
    provider.own_account = True
    return provider


def _choice(org: Organisation | None, key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (_s(org, key) or default or "auto").lower()
    if value != "auto" and value not in allowed:
        raise ProviderNotConfigured(f"{key} is {value!r}; use auto or one of {', '.join(allowed)}")
    return value


def _sms(org: Organisation | None, s: MessagingSettings) -> Provider:
    choice = _choice(org, registry.CHOICE_SETTINGS["sms"], s.messaging_sms_provider, SMS_PROVIDERS)
    if choice == "simulation":
        return SimulationProvider("sms", latency=s.simulation_latency, receipt_delay=s.simulation_receipt_delay)
    sender = _s(org, "smsportal_sender_id") or None
    if choice in ("auto", "smsportal"):
        cid, secret = _s(org, "smsportal_client_id"), _s(org, "smsportal_api_secret")
        if cid and secret:
            return _own(SMSPortalProvider(account_key("smsportal", s.smsportal_api_url, cid),
                                          url=s.smsportal_api_url, client_id=cid, secret=secret,
                                          timeout=s.timeout, sender_id=sender))
        if s.smsportal_client_id and s.smsportal_api_secret:
            return SMSPortalProvider(account_key("smsportal", s.smsportal_api_url, s.smsportal_client_id),
                                     url=s.smsportal_api_url, client_id=s.smsportal_client_id,
                                     secret=s.smsportal_api_secret, timeout=s.timeout, sender_id=sender)
        if choice == "smsportal":
            raise ProviderNotConfigured("SMS Portal credentials not configured: set smsportal_client_id and "
                                        "smsportal_api_secret for the organisation (or SMSPORTAL_CLIENT_ID "
                                        "and SMSPORTAL_API_SECRET)")
    url = _s(org, "messaging_api_url") or s.messaging_api_url
    if url:
        own = bool(_s(org, "messaging_api_url"))
        key = _s(org, "messaging_api_key") if own else s.messaging_api_key
        sender = _s(org, "messaging_from") or s.messaging_from
        gateway = HttpGatewayProvider(account_key("gateway", url, key), url=url, api_key=key, sender=sender,
                                      timeout=s.timeout, guarded=own)
        return _own(gateway) if own else gateway
    raise ProviderNotConfigured(
        "No SMS provider is configured: set smsportal_client_id and smsportal_api_secret for the "
        "organisation, SMSPORTAL_CLIENT_ID/SMSPORTAL_API_SECRET or MESSAGING_API_URL, or run with "
        "MESSAGING_SIMULATION=true")


def _email(org: Organisation | None, s: MessagingSettings) -> Provider:
    choice = _choice(org, registry.CHOICE_SETTINGS["email"], s.messaging_email_provider, EMAIL_PROVIDERS)
    if choice == "simulation":
        return SimulationProvider("email", latency=s.simulation_latency, receipt_delay=s.simulation_receipt_delay)
    if choice in ("auto", "sendgrid"):
        key = _s(org, "sendgrid_api_key")
        own = bool(key)
        sender = _s(org, "sendgrid_from_email")
        name = _s(org, "sendgrid_from_name") or (org.name if org is not None else None)
        if not key:
            key, sender = s.sendgrid_api_key, sender or s.sendgrid_from_email
            name = _s(org, "sendgrid_from_name") or s.sendgrid_from_name or name
        if key:
            if not sender:
                raise ProviderNotConfigured("SendGrid sender not configured: set sendgrid_from_email for the "
                                            "organisation (or SENDGRID_FROM_EMAIL)")
            grid = SendGridProvider(account_key("sendgrid", s.sendgrid_api_url, key), url=s.sendgrid_api_url,
                                    api_key=key, from_email=sender, from_name=name, timeout=s.timeout)
            return _own(grid) if own else grid
        if choice == "sendgrid":
            raise ProviderNotConfigured("SendGrid API key not configured: set sendgrid_api_key for the "
                                        "organisation (or SENDGRID_API_KEY)")
    own = bool(_s(org, "smtp_host"))
    host = _s(org, "smtp_host") if own else s.smtp_host
    if host:
        def pick(key: str, default: Any) -> Any:
            return _s(org, key) if own and _s(org, key) not in (None, "") else default

        port = pick("smtp_port", s.smtp_port)
        username = pick("smtp_username", s.smtp_username)
        password = pick("smtp_password", s.smtp_password)
        sender = pick("smtp_from", s.smtp_from) or (username if username and "@" in str(username) else None)
        if not sender:
            raise ProviderNotConfigured("SMTP sender not configured: set smtp_from for the organisation "
                                        "(or SMTP_FROM)")
        smtp = SmtpProvider(account_key("smtp", host, str(port or ""), username),
                            host=host, port=int(port) if port else None, username=username, password=password,
                            starttls=_bool(pick("smtp_starttls", None), s.smtp_starttls),
                            use_tls=_bool(pick("smtp_use_tls", None), s.smtp_use_tls), sender=sender,
                            sender_name=_s(org, "sendgrid_from_name") or (org.name if org is not None else None),
                            timeout=s.timeout, guarded=own)
        return _own(smtp) if own else smtp
    raise ProviderNotConfigured(
        "No e-mail provider is configured: set sendgrid_api_key and sendgrid_from_email for the "
        "organisation, SENDGRID_API_KEY/SENDGRID_FROM_EMAIL or SMTP_HOST, or run with "
        "MESSAGING_SIMULATION=true")
