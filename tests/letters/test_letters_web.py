"""The web UI's letters: Settings → Letterhead (with the logo upload, checked), preview a letter's
PDF before making it, make one, download it; templates copied from a built-in and edited, with
unknown placeholders refused beside the field; who may do what."""

from __future__ import annotations

import re

from tests.faces.repaysync.conftest import Tenant
from tests.letters.helpers import REMINDER, loan_account, pdf_text, png
from tests.web.conftest import people  # noqa: F401


async def test_letterhead_preview_make_and_download(people, world, client):  # noqa: F811
    org = await world.org("Acme Web")
    t = Tenant(world, client, org)
    loan, _ = await loan_account(t, name="Zanele Mokoena")
    number = loan["loan_account_number"]
    ui, _ = await people(org.id, role="manager")
    r = await ui.get("/app/settings/letterhead")
    assert r.status_code == 200 and 'value="Acme Web"' in r.text
    form = {"csrf_token": ui.token, "name": "Acme Letters Ltd", "address": "1 Loop Street\nCape Town",
            "registration_number": "2020/000001/07", "vat_number": "4000000001"}
    r = await ui.c.post("/app/settings/letterhead", data=form,
                        files={"logo": ("logo.png", b"\x89PNG\r\n\x1a\n" + b"junk" * 50, "image/png")})
    assert r.status_code == 400 and "could not be read as a PNG" in r.text
    r = await ui.c.post("/app/settings/letterhead", data=form, files={"logo": ("logo.png", png(), "image/png")})
    assert r.status_code == 303, r.text
    assert (await ui.get("/app/settings/letterhead/logo")).content == png()
    r = await ui.c.post("/app/settings/letterhead", data=form | {"csrf_token": "forged"},
                        files={"logo": ("logo.png", png(), "image/png")})
    assert r.status_code == 403

    r = await ui.get("/app/letters")
    assert r.status_code == 200 and "Preview PDF" in r.text and "No letters yet." in r.text
    preview = await ui.get("/app/letters/preview.pdf", params={"account": number, "template": str(REMINDER.id)})
    assert preview.status_code == 200 and preview.headers["content-type"] == "application/pdf"
    text = pdf_text(preview.content)
    assert "Zanele Mokoena" in text and "Acme Letters Ltd" in text and "Reg. No: 2020/000001/07" in text
    r = await ui.post("/app/letters", {"account": "nope", "template": str(REMINDER.id), "reply_by": ""})
    assert r.status_code == 404 and "No account" in r.text
    r = await ui.post("/app/letters", {"account": number, "template": str(REMINDER.id), "reply_by": "",
                                       "send_email": "0"})
    assert r.status_code == 303, r.text
    assert "Letter made." in ui.followed.text and "Zanele Mokoena" in ui.followed.text
    [href] = re.findall(r'href="(/app/letters/[0-9a-f-]+/pdf)"', ui.followed.text)
    got = await ui.get(href)
    assert got.status_code == 200 and "attachment;" in got.headers["content-disposition"]
    assert "Zanele Mokoena" in pdf_text(got.content)


async def test_templates_in_the_ui_and_who_may(people, world, client):  # noqa: F811
    org = await world.org("Acme Web")
    manager, _ = await people(org.id, role="manager")
    r = await manager.get("/app/letters/templates")
    assert r.status_code == 200 and "Letter of demand" in r.text and "New template" in r.text
    r = await manager.post(f"/app/letters/templates/{REMINDER.id}/copy")
    assert r.status_code == 303 and "Payment reminder (copy)" in manager.followed.text
    edit = r.headers["location"]
    r = await manager.post(edit, {"name": "Mine", "kind": "reminder", "subject": "Re [AccountCode]",
                                  "body": "Dear [CustomerName], pay [Balance]."})
    assert r.status_code == 400 and 'id="body-error"' in r.text and "Unknown placeholder [Balance]" in r.text
    r = await manager.post(edit, {"name": "Mine", "kind": "reminder", "subject": "Re [AccountCode]",
                                  "body": "Dear [CustomerName], pay R[TotalBalance].\n\n[AgeingTable]"})
    assert r.status_code == 303 and "Template “Mine” saved." in manager.followed.text
    agent, _ = await people(org.id, role="calling_agent")
    r = await agent.get("/app/letters/templates")
    assert r.status_code == 200 and "New template" not in r.text
    r = await agent.post(edit, {"name": "Hijack", "kind": "other", "subject": "x", "body": "y"})
    assert r.status_code == 403
    assert (await agent.get("/app/settings/letterhead")).status_code == 200
    reader, _ = await people(org.id, role="manager", access="read")
    r = await reader.post("/app/letters", {"account": "x", "template": str(REMINDER.id)})
    assert r.status_code == 403
