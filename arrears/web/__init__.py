"""The web UI: server-rendered pages (Jinja2 + htmx) under `/app/…`, assets under `/static/…`.

`mount(app)` is called by `arrears.app.create_app`. Pages call the domain services with the same
`Caller` the API faces use; no business rule lives here. See `arrears/web/app.py`."""

from __future__ import annotations

from typing import Any


def mount(app: Any) -> None:
    from arrears.web.app import install

    install(app)
