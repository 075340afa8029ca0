"""The outbound addresses an organisation can set (its SMS gateway URL, its SMTP host and port)
get the same address checks as webhook URLs when they are saved (arrears.netguard); the
providers check them again at each connection. One place for every save path: the web settings
page, `arrears orgs set` and the API all go through identity.service.set_org_settings."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from arrears import netguard
from arrears.errors import ValidationFailed

URL_SETTINGS = ("messaging_api_url",)
# Every setting above, for forms that show their errors at the top.
OUTBOUND_KEYS = ("messaging_api_url", "smtp_host", "smtp_port")  # settings holding a URL the platform will call
HOST_SETTINGS = (("smtp_host", "smtp_port", 587),)  # (host, its port, the port when unset)


def _port(value: Any, key: str) -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValidationFailed(f"{key} must be a port number from 1 to 65535.",
                               field_errors={key: [f"{key} must be a port number from 1 to 65535."]})
    return port


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def check_outbound_settings(values: Mapping[str, str], current: Mapping[str, Any]) -> None:
    """Raise ValidationFailed (400, with the field named) when a new outbound address in `values`
    is malformed or reaches a loopback, private, link-local or reserved address. `current` holds
    the stored settings, for a port saved without its host or a host without its port."""
    for key in URL_SETTINGS:
        url = (values.get(key) or "").strip()
        if url:
            try:
                await netguard.check_url(url, what="the SMS gateway URL")
            except netguard.UnsafeDestination as exc:
                raise ValidationFailed(f"{key}: {exc}", field_errors={key: [f"{key}: {exc}"]}) from exc
    for host_key, port_key, default_port in HOST_SETTINGS:
        if host_key not in values and port_key not in values:
            continue
        host = str(values.get(host_key, current.get(host_key)) or "").strip()
        port_value = values.get(port_key, current.get(port_key))
        port = _port(port_value, port_key) if str(port_value or "").strip() else default_port
        if host:
            if any(c in host for c in "/:@ ") and not _is_address(host.strip("[]")):
                raise ValidationFailed(f"{host_key} must be a host name or address, without a scheme or port.",
                                       field_errors={host_key: [f"{host_key}: use a host name or address only."]})
            try:
                await netguard.check_host(host.strip("[]"), port, what="the SMTP host")
            except netguard.UnsafeDestination as exc:
                raise ValidationFailed(f"{host_key}: {exc}", field_errors={host_key: [f"{host_key}: {exc}"]}) from exc
