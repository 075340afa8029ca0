"""Jinja2 environment, filters and the response helpers every page uses."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from arrears.web import nav
from arrears.web.session import get_session

if TYPE_CHECKING:
    from arrears.web.context import Ctx

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
DEFAULT_TZ = "Africa/Johannesburg"


# ------------------------------------------------------------------ filters


def money(value: Any, symbol: str = "R") -> str:
    """R 1 234 567.89 (South African style: spaces between thousands)."""
    if value is None or value == "":
        return "—"
    try:
        d = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(value)
    sign = "-" if d < 0 else ""
    whole, _, cents = f"{abs(d):.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    text = "\u00a0".join(groups) + "." + cents
    return f"{sign}{symbol}\u00a0{text}" if symbol else f"{sign}{text}"


def number(value: Any) -> str:
    if value is None:
        return "—"
    try:
        n = int(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{n:,}".replace(",", "\u00a0")


def percent(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{float(value):.{digits}f}%"


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def local_dt(value: Any, tz: str = DEFAULT_TZ, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(zone(tz)).strftime(fmt)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def key_of(obj: Any) -> Any:
    """The id a page puts in its URLs for a row that has both an integer id and a UUID (debtor
    reports and their accounts: the UUID, as the AAMA face shows it); the id otherwise."""
    value = getattr(obj, "uuid", None)
    return value if value is not None else obj.id


def humanise(value: Any) -> str:
    return str(value or "").replace("_", " ").strip().capitalize()


@lru_cache(maxsize=128)
def _static_version(name: str) -> str:
    path = STATIC / name
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def static_url(name: str) -> str:
    return f"/static/{name}?v={_static_version(name)}"


def query(request: Request, **changes: Any) -> str:
    """The current query string with some parameters changed (None removes one). Repeated
    parameters (ticked checkboxes) are kept; a changed one takes the place of its first value."""
    params: list[tuple[str, str]] = []
    done: set[str] = set()
    for key, value in request.query_params.multi_items():
        if key not in changes:
            params.append((key, value))
        elif key not in done:
            done.add(key)
            if changes[key] is not None and changes[key] != "":
                params.append((key, str(changes[key])))
    params += [(k, str(v)) for k, v in changes.items() if k not in done and v is not None and v != ""]
    return "?" + urlencode(params) if params else "?"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(["html", "svg", "xml"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      auto_reload=False)
    env.filters.update(money=money, number=number, percent=percent, local_dt=local_dt, iso=iso,
                       humanise=humanise, tojson_attr=lambda v: json.dumps(v), key=key_of)
    env.globals.update(static=static_url, nav_enabled=nav.enabled)
    return env


# ------------------------------------------------------------------ responses


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render_html(request: Request, template: str, context: dict[str, Any], *,
                ctx: Ctx | None = None, status: int = 200,
                headers: dict[str, str] | None = None) -> HTMLResponse:
    session = get_session(request)
    base: dict[str, Any] = {
        "request": request, "ctx": ctx, "caller": ctx.caller if ctx else None,
        "csrf_token": session.csrf, "htmx": is_htmx(request),
        "tz": ctx.tz if ctx else DEFAULT_TZ, "currency": ctx.currency if ctx else "R",
        "flashes": [] if is_htmx(request) else session.pop_flashes(),
        "q": lambda **kw: query(request, **kw), "path": request.url.path,
        "ctx_nav": nav.items_for(ctx.caller) if ctx else [],
    }
    html = environment().get_template(template).render(base | context)
    return HTMLResponse(html, status_code=status, headers=headers)


def page(ctx: Ctx, template_name: str, /, status: int = 200, headers: dict[str, str] | None = None,
         **context: Any) -> HTMLResponse:
    """A full page. `status` and `headers` are the response's; every other keyword is for the template."""
    return render_html(ctx.request, template_name, context, ctx=ctx, status=status, headers=headers)


def redirect(request: Request, url: str, *, flash: str | None = None, kind: str = "success") -> Response:
    """303 to `url` (htmx: HX-Redirect, so the whole page moves)."""
    if flash:
        get_session(request).flash(flash, kind)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def svg(markup: str) -> Markup:
    """Mark markup built by `arrears.web.charts` (which escapes every text it places) as safe."""
    return Markup(markup)
