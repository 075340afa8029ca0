"""The UI in a real browser: Debian's Chromium driven by Playwright against a real `arrears serve`
(uvicorn and its in-process worker) on 127.0.0.1, with the test's own database.

Skipped with a message only where no Chromium is found and `CI` is unset. With
ARREARS_SCREENSHOTS=1 the tests also save the screenshots in docs/screenshots/.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from arrears.identity.caller import Caller
from tests.web.conftest import PASSWORD, workbook_bytes

# A live server and Chromium start within 180 s on a loaded machine (the fixture's deadline).
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

CHROMIUM = os.environ.get("ARREARS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ROOT = Path(__file__).resolve().parents[2]


def _chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}, and CI needs it (apt-get install -y chromium)")
    pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install -y chromium) "
                "to run the browser tests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(env: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    """`arrears serve` in a subprocess, on the test's database (the env fixture's variables)."""
    _chromium_or_skip()
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    environ = dict(os.environ) | {"ARREARS_LOG_LEVEL": "WARNING", "MESSAGING_SIMULATION_RECEIPT_DELAY": "200ms"}
    proc = subprocess.Popen([sys.executable, "-m", "arrears", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    # Generous: on a loaded CI machine importing the app alone can take most of a minute.
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail("the server did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
async def module_chromium() -> AsyncIterator[Any]:
    """One Chromium for the module (a launch costs seconds on a loaded machine); each test has
    contexts of its own (`new_page`), closed at its end."""
    from playwright.async_api import async_playwright

    path = _chromium_or_skip()
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def chromium_browser(module_chromium: Any) -> AsyncIterator[Any]:
    yield module_chromium
    for ctx in list(module_chromium.contexts):  # no page, cookie or storage outlives its test
        await ctx.close()


async def new_page(browser: Any, base: str, *, phone: bool = False) -> Any:
    if phone:
        ctx = await browser.new_context(base_url=base, viewport={"width": 390, "height": 844},
                                        device_scale_factor=2, is_mobile=True, has_touch=True)
    else:
        ctx = await browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    page.set_default_timeout(15_000)
    return page


async def shot(page: Any, name: str, *, full: bool = True) -> None:
    if os.environ.get("ARREARS_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full)


async def sign_in(page: Any, username: str) -> None:
    await page.goto("/app/")
    assert "/app/login" in page.url
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/app/$"))


async def _setup(world: Any, *, name: str = "Sunrise Pharmacy", kind: str = "pharmacy") -> Any:
    from arrears.db import transaction
    from arrears.identity import service as identity

    org = await world.org(name, kind=kind)
    async with transaction() as s:
        o = await identity.get_org(s, org.id)
        await identity.set_org_settings(s, Caller.system(o.id), o, {"contact_hours": "off", "contact_cap": "0"})
    return org


# ------------------------------------------------------------------ tests


async def test_sign_in_generate_and_revoke_an_api_key(live_server, chromium_browser, world, env):
    org = await _setup(world, name="Mutual Cell Captive", kind="cell_captive")
    await world.user(org.id, username="alice", role="admin")
    page = await new_page(chromium_browser, live_server)
    await page.goto("/app/login")
    await shot(page, "login")
    await page.get_by_label("Username").fill("alice")
    await page.get_by_label("Password").fill("wrong-password")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("No active account found with the given credentials").wait_for()
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/app/$"))
    cookie = next(c for c in await page.context.cookies() if c["name"] == "arrears_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    await page.get_by_role("link", name="Settings").click()
    await page.get_by_role("link", name="API keys").click()
    await page.get_by_label("Name").fill("Bank integration")
    await page.get_by_label("Create and update collections").check()
    await page.get_by_label("Create and update policies").check()
    await page.get_by_role("button", name="Generate API key").click()
    key = await page.get_by_test_id("new-key").input_value()
    assert re.fullmatch(r"pct_[0-9a-f]{64}", key)
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.get_by_role("button", name="Copy").click()
    await page.get_by_role("button", name="Copied").wait_for()
    await shot(page, "api-keys")
    async with httpx.AsyncClient(base_url=live_server) as c:
        r = await c.post("/api/webhooks/policies/update", headers={"Authorization": f"Bearer {key}"},
                         json={"policy_number": "POL-1", "client_name": "Ayanda Zulu", "premium_amount": 250,
                               "frequency": "monthly"})
        assert r.status_code in (200, 201), r.text
    await page.reload()
    assert key not in await page.content()  # shown once
    assert await page.get_by_role("button", name="Revoke Bank integration").count() == 1  # no second key
    page.once("dialog", lambda d: asyncio.ensure_future(d.accept()))
    await page.get_by_role("button", name="Revoke Bank integration").click()
    await page.get_by_text("revoked; it stops working now").wait_for()
    async with httpx.AsyncClient(base_url=live_server) as c:
        r = await c.post("/api/webhooks/policies/update", headers={"Authorization": f"Bearer {key}"},
                         json={"policy_number": "POL-1", "client_name": "Ayanda Zulu"})
        assert r.status_code == 401
    await page.goto("/app/premiums/policies")
    await page.get_by_role("link", name="POL-1").wait_for()
    await shot(page, "premiums")
    # Keyboard: the skip link is the first stop and is visible when focused.
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert "Skip to content" in focused
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(re.compile(r"/app/login"))


async def test_upload_select_and_send_in_simulation(live_server, chromium_browser, world, env, tmp_path):
    org = await _setup(world)
    await world.user(org.id, username="mandla", role="manager")
    page = await new_page(chromium_browser, live_server)
    await sign_in(page, "mandla")
    await shot(page, "home-empty")
    await page.get_by_role("link", name="Debtor books").click()
    book = tmp_path / "age-analysis.xlsx"
    book.write_bytes(workbook_bytes())
    await page.get_by_label("Drop a spreadsheet or PDF report here").set_input_files(str(book))
    await page.get_by_role("button", name="Upload and import").click()
    await page.get_by_role("button", name="Import with these columns").click()  # the preview, as read
    await page.wait_for_url(re.compile(r"/app/books/[0-9a-f-]{36}$"))
    upload_id = page.url.rsplit("/", 1)[1]
    # The progress panel polls until the job is done, then the page shows the summary by itself.
    await page.get_by_role("heading", name="Largest overdue accounts").wait_for(timeout=30_000)
    assert await page.get_by_test_id("stage").inner_text() == "Completed"
    await shot(page, "book-summary")

    await page.get_by_role("link", name="Accounts", exact=True).click()
    await page.get_by_label("Select Alpha Ltd").check()
    await page.get_by_test_id("selected-count").filter(has_text="1").wait_for()
    await page.get_by_label("Select Delta").check()
    await page.get_by_test_id("selected-count").filter(has_text="2").wait_for()
    await page.get_by_label("Select Beta CC").check()
    await page.get_by_test_id("selected-count").filter(has_text="3").wait_for()
    await shot(page, "book-accounts")
    await page.get_by_role("link", name="Message the selected accounts").click()
    await page.wait_for_url(re.compile(r"/app/messaging/send"))
    body = page.locator("#f-body")
    await body.fill("Hi [CustomerName], account [AccountCode] is R[TotalBalance] overdue. 🙂")
    await page.get_by_test_id("preview-count").filter(has_text="UCS-2").wait_for()
    await body.fill("Hi [CustomerName], account [AccountCode] owes R[TotalBalance]. Please call us.")
    await page.get_by_test_id("preview-count").filter(has_text="GSM-7").wait_for()
    assert "characters" in await page.locator("#live-count").inner_text()
    await shot(page, "message-editor")
    await page.get_by_role("button", name="Review and send").click()
    confirm = page.get_by_test_id("confirm-count")
    await confirm.wait_for()
    assert (await confirm.inner_text()).startswith("3 selected accounts")
    assert "3 SMS segments" in await page.get_by_test_id("confirm-segments").inner_text()
    await shot(page, "send-confirmation")
    await page.get_by_role("button", name="Send 3 messages").click()
    await page.wait_for_url(re.compile(rf"/app/messaging/log\?upload={upload_id}"))
    # The log refreshes itself until every message has left the queue.
    statuses = page.get_by_test_id("message-status")
    for _ in range(100):
        texts = await statuses.all_inner_texts()
        if texts and all(t in ("Sent", "Delivered") for t in texts):
            break
        await page.wait_for_timeout(300)
    texts = await statuses.all_inner_texts()
    assert len(texts) == 3 and all(t in ("Sent", "Delivered") for t in texts), texts
    await shot(page, "message-log")
    await page.goto("/app/")
    await page.get_by_role("heading", name="Messages this week").wait_for()
    await shot(page, "home")


async def test_read_only_member_cannot_send(live_server, chromium_browser, world, env):
    org = await _setup(world)
    await world.user(org.id, username="reader", role="manager", access="read")
    page = await new_page(chromium_browser, live_server)
    await sign_in(page, "reader")
    await page.get_by_text("read only", exact=False).first.wait_for()
    await page.goto("/app/messaging/send")
    await page.get_by_text("you cannot send messages").wait_for()
    assert await page.get_by_role("button", name="Review and send").count() == 0
    assert await page.get_by_role("link", name="Send to a selection").count() == 0
    await page.goto("/app/books")
    assert await page.locator("input[type=file]").count() == 0
    # Even a hand-made request is refused by the server.
    token = await page.locator("input[name=csrf_token]").first.input_value()
    response = await page.request.post(live_server + "/app/messaging/send/confirm",
                                       form={"csrf_token": token, "upload": "x", "body": "x"})
    assert response.status == 403


async def test_record_an_interaction_from_the_work_queue_on_a_phone(live_server, chromium_browser, world, env):
    from datetime import date, timedelta

    from arrears.customers import interactions as customer_interactions
    from arrears.customers import loans as customer_loans
    from arrears.customers import service as customers
    from arrears.db import transaction
    from arrears.identity import service as identity

    org = await _setup(world, name="Kasi Lenders", kind="lender")
    agent = await world.user(org.id, username="zodwa", role="calling_agent")
    async with transaction() as s:
        caller = await identity.caller_for_user(s, agent.id, org.id)
        c = await customers.create_customer(s, caller, {"name": "Thandi Mokoena", "phone": "082 123 4567"})
        loan = await customer_loans.create_loan(s, caller, {
            "customer_id": c.id, "loan_account_number": "LN-1001", "principal_amount": "15000",
            "interest_rate": "18", "loan_type": "personal", "tenure_months": 12, "loan_date": "2025-03-01"})
        await customer_interactions.create_interaction(s, caller, "calling", {
            "loan_id": loan.id, "disposition": "no_answer", "comment": "Phone off",
            "next_call_date": (date.today() - timedelta(days=1)).isoformat()})
    page = await new_page(chromium_browser, live_server, phone=True)
    await sign_in(page, "zodwa")
    await page.get_by_text("Menu").click()
    await page.get_by_role("link", name="Work queue").click()
    await page.get_by_role("heading", name="Thandi Mokoena").wait_for()
    await shot(page, "work-queue-phone")
    await page.get_by_label("Outcome").select_option("promise_to_pay")
    await page.get_by_label("Next contact").fill((date.today() + timedelta(days=7)).isoformat())
    await page.get_by_label("Note", exact=True).fill("Will pay on Friday")
    await page.get_by_role("button", name="Record outcome").click()
    await page.get_by_text("Recorded: Call — Promise to pay").wait_for()
    await page.get_by_role("link", name="Thandi Mokoena").click()
    await page.get_by_text("Call on loan LN-1001: promise to pay").wait_for()
    await shot(page, "customer-timeline-phone")


async def test_pharmacy_pdf_upload_reminders_and_downloads(live_server, chromium_browser, world, env, tmp_path):
    from decimal import Decimal as D

    from arrears.db import transaction
    from arrears.identity import service as identity
    from tests.debtors.pdf.make_pdfs import Debtor, build_report

    org = await _setup(world)
    async with transaction() as s:
        o = await identity.get_org(s, org.id)
        await identity.set_org_settings(s, Caller.system(o.id), o, {"sendgrid_api_key": "SG.test", "sendgrid_from_email": "shop@example.com"})
    await world.user(org.id, username="pharmacist", role="manager")
    report = tmp_path / "debtors-age-analysis.pdf"
    report.write_bytes(build_report([
        Debtor("P100", "Thandi Nkosi", {"current": D("100.00"), "d60": D("250.50")}, email="thandi@example.com",
               phone="082 123 4567"),
        Debtor("P200", "Pieter Botha", {"d90": D("1200.00"), "d180": D("80.00")}, phone="0831234567"),
    ]))
    page = await new_page(chromium_browser, live_server)
    await sign_in(page, "pharmacist")
    await page.get_by_role("link", name="Debtor books").click()
    await page.get_by_label("Drop a spreadsheet or PDF report here").set_input_files(str(report))
    await page.get_by_role("button", name="Upload and import").click()
    await page.get_by_role("button", name="Store this report").click()  # after its preview
    await page.get_by_text("2 accounts read from debtors-age-analysis.pdf.").wait_for()
    await page.get_by_role("link", name="Pharmacy").click()
    await page.get_by_role("link", name="P200").wait_for()
    await page.get_by_label("Tick Thandi Nkosi").check()
    await page.get_by_label("Tick Pieter Botha").check()
    await shot(page, "pharmacy-debtors")
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download CSV").click()
    saved = await (await download.value).path()
    lines = (await asyncio.to_thread(Path(saved).read_text)).splitlines()
    assert lines[0].startswith("Account No,Name,Current,30 Days") and len(lines) == 3
    await page.get_by_role("button", name="E-mail the ticked debtors").click()
    await page.get_by_test_id("reminder-summary").filter(has_text="1 sent, 1 not sent").wait_for()
    await page.get_by_text("No email address").wait_for()
    await shot(page, "pharmacy-reminders")
    await page.get_by_role("link", name="Thandi Nkosi").click()
    await page.get_by_role("heading", name="Communication history").wait_for()
    assert await page.get_by_test_id("comm-status").count() == 1
