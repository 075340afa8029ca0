"""Helpers for the UI tests: sign in through the login form, read the CSRF token from a page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

PASSWORD = "Sup3r-secret-pw"


TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = TOKEN_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


class UI:
    """A browser-like client: keeps the session cookie and the current CSRF token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.c = client
        self.token = ""
        self.followed: httpx.Response | None = None

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        r = await self.c.get(path, **kw)
        if r.status_code == 200 and "csrf_token" in r.text:
            self.token = csrf_of(r.text)
        return r

    async def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True,
                   **kw: Any) -> httpx.Response:
        if not self.token:
            await self.get("/app/login")
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.token)
        r = await self.c.post(path, data=body, **kw)
        if r.status_code in (200, 400) and "csrf_token" in r.text:
            self.token = csrf_of(r.text)
        elif r.status_code == 303 and r.headers.get("location", "").startswith("/app"):
            # As a browser follows it (picking up the new token and the flash message).
            self.followed = await self.get(r.headers["location"])
        return r

    async def htmx_post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        headers = {"HX-Request": "true", "X-CSRF-Token": self.token} | kw.pop("headers", {})
        return await self.c.post(path, data=data or {}, headers=headers, **kw)

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/app/login")
        r = await self.post("/app/login", {"username": username, "password": password})
        assert r.status_code == 303, r.text
        return r


@pytest.fixture
def ui(client: httpx.AsyncClient) -> UI:
    return UI(client)


@pytest.fixture
async def people(app: Any, world: Any) -> AsyncIterator[Any]:
    """`await people(org_id, role=…, access=…)` → (UI signed in as a new user, the user); each
    person has a cookie jar of their own."""
    clients: list[httpx.AsyncClient] = []

    async def make(org_id: int, role: str = "admin", access: str = "write",
                   username: str | None = None) -> tuple[UI, Any]:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50001)),
                              base_url="http://testserver")
        clients.append(c)
        user = await world.user(org_id, username=username, role=role, access=access)
        u = UI(c)
        await u.login(user.username)
        return u, user

    yield make
    for c in clients:
        await c.aclose()


# ------------------------------------------------------------------ debtor books

BOOK_HEADER = ["Account", "Name", "Contact", "Telephone", "Current", "30 Days", "60 Days", "90 Days",
               "120 Days", "Total Balance"]
BOOK_ROWS: list[list[Any]] = [
    ["A1", "Alpha Ltd", "Ann", "082 123 4567", 100, 50, 0, 0, 0, 150],
    ["A2", "Beta CC", None, "0831234567", 0, 0, 200, 0, 0, 200],
    ["A3", "Gamma", "Gus", "011 555 1234", 300, 0, 0, 0, 0, 300],
    ["A4", "Delta", "Dee", "+27 84 765 4321", 0, 0, 0, 400, 600, 1000],
    ["A5", "Epsilon", None, "n/a", 25.5, 0, 0, 0, 0, 25.5],
    ["A6", "Zeta", None, "0821112222", "abc", 0, 0, 0, 0, 10],  # a failed row: not a number
]


def workbook_bytes(rows: list[list[Any]] | None = None) -> bytes:
    """A real .xlsx file, written with openpyxl."""
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Debtors"
    for row in [BOOK_HEADER, *(rows if rows is not None else BOOK_ROWS)]:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


SELECT_RE = re.compile(r'<select id="col-(\d+)" name="col_\d+">(.*?)</select>', re.S)
SELECTED_RE = re.compile(r'<option value="([^"]*)" selected>')


def preview_form(html: str) -> dict[str, str]:
    """The preview's confirmation form as a browser would send it: the hidden fields and each
    column's selected field."""
    form = {name: value for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html)}
    # The report date as shown (editable there), and the partial box when ticked.
    form |= dict(re.findall(r'<input id="[\w-]+" type="date" name="(\w+)" value="([^"]*)"', html))
    form |= dict(re.findall(r'<input type="checkbox" name="(\w+)" value="([^"]*)" checked>', html))
    for index, options in SELECT_RE.findall(html):
        chosen = SELECTED_RE.search(options)
        form[f"col_{index}"] = chosen.group(1) if chosen else ""
    return form


CONFIRM_RE = re.compile(r'<form method="post" action="(/app/books/(?:pdf/)?confirm)"')


async def confirm_preview(ui: UI, html: str, changes: dict[str, str] | None = None) -> httpx.Response:
    """Confirm the preview on the page (a spreadsheet's or a PDF report's) as shown, or changed."""
    form = preview_form(html) | (changes or {})
    action = CONFIRM_RE.search(html)
    assert action, "no preview to confirm on the page"
    return await ui.c.post(action.group(1), data=form)


async def upload_book(ui: UI, content: bytes | None = None, name: str = "book.xlsx", *,
                      run_jobs: bool = True) -> str:
    """Upload through the UI's form and (by default) let the worker import it; returns the id."""
    r = await ui.c.post("/app/books", data={"csrf_token": ui.token},
                        files={"file": (name, content if content is not None else workbook_bytes())})
    if r.status_code == 200 and CONFIRM_RE.search(r.text):
        r = await confirm_preview(ui, r.text)  # previewed first (a spreadsheet or a PDF): confirm it as shown
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert location.startswith("/app/books/")
    if run_jobs:
        from arrears.worker import run_until_idle

        await run_until_idle()
    await ui.get(location)
    return location.rsplit("/", 1)[1]
