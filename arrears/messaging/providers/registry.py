"""The messaging providers, written once: each one's name, channel and the organisation settings
it reads. The resolver's choices (`sms_provider`, `email_provider`) and the settings page's list of
provider credentials are both read from here, so a new provider is added in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    secret: bool = False  # write-only on the settings page, encrypted at rest


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    channel: str  # "sms" or "email"
    label: str
    settings: tuple[Setting, ...] = ()


SIMULATION = "simulation"  # either channel: nothing leaves the machine

PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec("smsportal", "sms", "SMSPortal", (
        Setting("smsportal_client_id", "SMSPortal client id"),
        Setting("smsportal_api_secret", "SMSPortal API secret", secret=True),
        Setting("smsportal_sender_id", "SMSPortal sender id"))),
    ProviderSpec("gateway", "sms", "HTTP SMS gateway", (
        Setting("messaging_api_url", "HTTP SMS gateway URL"),
        Setting("messaging_api_key", "HTTP SMS gateway API key", secret=True),
        Setting("messaging_from", "HTTP SMS gateway sender"))),
    ProviderSpec("sendgrid", "email", "SendGrid", (
        Setting("sendgrid_api_key", "SendGrid API key", secret=True),
        Setting("sendgrid_from_email", "SendGrid sender address"),
        Setting("sendgrid_from_name", "SendGrid sender name"),
        Setting("sendgrid_webhook_public_key", "SendGrid event webhook verification key"))),
    ProviderSpec("smtp", "email", "SMTP", (
        Setting("smtp_host", "SMTP host"),
        Setting("smtp_port", "SMTP port"),
        Setting("smtp_username", "SMTP username"),
        Setting("smtp_password", "SMTP password", secret=True),
        Setting("smtp_from", "SMTP sender address"))),
)

# The organisation setting that picks a channel's provider ("auto": by which credentials are set).
CHOICE_SETTINGS = {"sms": "sms_provider", "email": "email_provider"}
CHANNEL_LABELS = {"sms": "SMS", "email": "E-mail"}
RATE_SETTING = Setting("messaging_rate_limit", "Messages per second on your own account")


def names(channel: str) -> tuple[str, ...]:
    """The providers that may be chosen for a channel, the simulation last."""
    return tuple(p.name for p in PROVIDERS if p.channel == channel) + (SIMULATION,)


def organisation_settings() -> list[Setting]:
    """Every provider setting an organisation may hold, per channel: the choice, then each
    provider's own settings (SMS also its own account's rate)."""
    out: list[Setting] = []
    for channel, choice in CHOICE_SETTINGS.items():
        allowed = names(channel)
        out.append(Setting(choice, f"{CHANNEL_LABELS[channel]} provider (auto, {', '.join(allowed[:-1])} "
                                   f"or {allowed[-1]})"))
        for spec in PROVIDERS:
            if spec.channel == channel:
                out.extend(spec.settings)
        if channel == "sms":
            out.append(RATE_SETTING)
    return out
