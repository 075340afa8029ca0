"""/api/v1/letters, /api/v1/letter-templates and /api/v1/letterhead through HTTP: PDFs read back
(names, amounts, reply-by date, the logo), templates checked at save time, every role, ins_ keys by
scope, and another organisation's ids (404) on every route. Both databases."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from arrears.db import transaction, utcnow
from arrears.events import DomainEvent
from arrears.letters.models import Letter
from arrears.letters.service import letter_date_text
from tests.faces.repaysync.conftest import RS
from tests.letters.helpers import (
    LETTER_OF_DEMAND,
    REMINDER,
    SECTION_129,
    book_account,
    jpeg,
    key,
    loan_account,
    pdf_images,
    pdf_text,
    png,
)

LETTERHEAD = {"name": "Acme Lending (Pty) Ltd", "address": "12 Long Street\nCape Town 8001",
              "registrationNumber": "2019/123456/07", "vatNumber": "4123456789", "phone": "021 555 1234",
              "email": "accounts@acme.example", "website": "acme.example"}


async def _logo(t, data: bytes, role: str = "admin", name: str = "logo.png", ctype: str = "image/png"):
    return await t.client.put("/api/v1/letterhead/logo", files={"file": (name, data, ctype)},
                              headers=await t.h(role))


async def test_letters_for_a_book_account_and_a_loan_read_back(rs: RS, tmp_path):
    t = await rs.tenant()
    admin = await t.h("admin")
    r = await t.client.put("/api/v1/letterhead", json=LETTERHEAD, headers=admin)
    assert r.status_code == 200, r.text
    assert (await _logo(t, png())).status_code == 200
    book = await book_account(t, tmp_path)
    loan, acc = await loan_account(t, name="Lerato Dlamini", address_line_1="5 Oak Avenue", city="Durban",
                                   pincode="4001")
    reply = utcnow().date() + timedelta(days=10)
    r = await t.client.post("/api/v1/letters", headers=await t.h("calling_agent"), json={
        "accountIds": [book, acc], "templateId": str(LETTER_OF_DEMAND.id), "replyBy": reply.isoformat()})
    assert r.status_code == 201, r.text
    made = r.json()["data"]
    assert [x["accountId"] for x in made] == [book, acc]
    assert {x["status"] for x in made} == {"created"} and made[0]["templateName"] == "Letter of demand"
    assert made[0]["replyBy"] == reply.isoformat() and made[0]["account"]["reference"] == "K1"

    pdf = await t.client.get(made[0]["pdfUrl"], headers=admin)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="letter-K1-{utcnow():%Y%m%d}.pdf"'
    text = pdf_text(pdf.content)
    for expected in ("Acme Lending (Pty) Ltd", "Reg. No: 2019/123456/07", "VAT No: 4123456789",
                     "Kappa Traders", "Account: K1", "LETTER OF DEMAND: account K1", "R110.00",
                     letter_date_text(reply), letter_date_text(utcnow().date())):
        assert expected in text, expected
    # The ageing table: current, 30, 60, 90, 120+ and the total, as the book states them.
    assert "Current 30 days 60 days 90 days 120+ days Total" in text
    assert "10.00 40.00 60.00 0.00 0.00 110.00" in text
    assert pdf_images(pdf.content) == 1  # the logo

    text = pdf_text((await t.client.get(made[1]["pdfUrl"], headers=admin)).content)
    for expected in ("Lerato Dlamini", "5 Oak Avenue", "Durban 4001", f"Account: {loan['loan_account_number']}",
                     "R50,000.00", "Principal Paid Balance Days past due", "50,000.00 0.00 50,000.00"):
        assert expected in text, expected

    # One letter.created event per letter (a webhook event), in the request's transaction.
    async with transaction() as s:
        evs = list(await s.scalars(select(DomainEvent).where(DomainEvent.type == "letter.created")
                                   .order_by(DomainEvent.id)))
    assert [e.data["letter"]["accountId"] for e in evs] == [book, acc]
    assert evs[0].actor == f"user:{(await t.member('calling_agent')).id}"

    # Listing and one letter.
    listed = (await t.client.get("/api/v1/letters", params={"accountId": acc}, headers=admin)).json()
    assert [x["id"] for x in listed["data"]] == [made[1]["id"]] and listed["pagination"]["total"] == 1
    one = await t.client.get(f"/api/v1/letters/{made[0]['id']}", headers=admin)
    assert one.status_code == 200 and one.json()["customerName"] == "Kappa Traders"


async def test_rendering_is_deterministic_and_previews_store_nothing(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    body = {"accountId": acc, "templateId": str(SECTION_129.id),
            "replyBy": (utcnow().date() + timedelta(days=12)).isoformat()}
    a = await t.client.post("/api/v1/letters/preview", json=body, headers=await t.h("calling_agent", access="read"))
    b = await t.client.post("/api/v1/letters/preview", json=body, headers=await t.h())
    assert a.status_code == 200 and a.content == b.content  # the same bytes
    assert "SECTION 129(1)(a) OF THE NATIONAL CREDIT ACT" in pdf_text(a.content)
    async with transaction() as s:
        assert (await s.scalars(select(Letter))).all() == []


async def test_logo_checked_by_content(rs: RS):
    t = await rs.tenant()
    r = await _logo(t, png())
    assert r.status_code == 200, r.text
    assert r.json()["logo"]["contentType"] == "image/png" and r.json()["logo"]["width"] == 240
    got = await t.client.get("/api/v1/letterhead/logo", headers=await t.h("calling_agent"))
    assert got.status_code == 200 and got.content == png() and got.headers["content-type"] == "image/png"
    # A JPEG named .png is a JPEG (the content decides).
    r = await _logo(t, jpeg(), name="logo.png")
    assert r.status_code == 200 and r.json()["logo"]["contentType"] == "image/jpeg"
    bad = [
        (b"\x89PNG\r\n\x1a\n" + b"not really a png" * 20, "could not be read as a PNG"),  # magic, then junk
        (png()[:60], "could not be read as a PNG"),  # truncated
        (b"GIF89a" + b"\0" * 100, "must be a PNG or JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "must be a PNG or JPEG"),
        (png() + b"\0" * (1024 * 1024), "at most 1 MB"),  # over 1 MB: refused while it arrives
    ]
    for data, words in bad:
        r = await _logo(t, data)
        # The partner face's 400 is VALIDATION_ERROR (its spec's codes), the reason beside the field.
        assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR", r.text
        assert r.json()["details"]["logo"] == [r.json()["message"]]
        assert words in r.json()["message"], r.json()["message"]
    # Nothing changed: still the JPEG.
    r = await t.client.get("/api/v1/letterhead", headers=await t.h("calling_agent"))
    assert r.json()["logo"]["contentType"] == "image/jpeg" and r.json()["name"] == t.org.name
    # Only admins and managers change the letterhead.
    assert (await _logo(t, png(), role="calling_agent")).status_code == 403
    assert (await _logo(t, png(), role="manager")).status_code == 200
    r = await t.client.put("/api/v1/letterhead", json=LETTERHEAD, headers=await t.h("manager", access="read"))
    assert r.status_code == 403
    r = await t.client.put("/api/v1/letterhead", json=LETTERHEAD | {"phone": "1\n2"}, headers=await t.h())
    assert r.status_code == 400 and "phone" in r.json()["details"]
    assert (await t.client.delete("/api/v1/letterhead/logo", headers=await t.h())).json()["logo"] is None


async def test_templates_checked_at_save_and_built_ins_read_only(rs: RS):
    t = await rs.tenant()
    manager = await t.h("manager")
    listed = (await t.client.get("/api/v1/letter-templates", headers=await t.h("calling_agent"))).json()
    assert [x["name"] for x in listed["data"]] == ["Payment reminder", "Final demand", "Letter of demand",
                                                   "Section 129 notice (National Credit Act)"]
    assert all(x["builtIn"] and x["readOnly"] for x in listed["data"])
    body = {"name": "Gentle", "kind": "reminder", "subject": "About [AccountCode]",
            "body": "Dear [CustomerName]\n\nYou owe R[TotalBalance] [Foo].\n\n[AgeingTable]"}
    r = await t.client.post("/api/v1/letter-templates", json=body, headers=manager)
    assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR"
    [problem] = r.json()["details"]["body"]
    assert problem.startswith("Unknown placeholder [Foo]: remove it or use one of [CustomerName], ")
    assert "[AgeingTable]" in problem and "[ReplyByDate]" in problem
    r = await t.client.post("/api/v1/letter-templates", json=body | {"body": "Hi [Customer Name]"}, headers=manager)
    assert r.status_code == 400 and "did you mean [CustomerName]?" in r.json()["details"]["body"][0]
    r = await t.client.post("/api/v1/letter-templates", json=body | {"body": "See [AgeingTable] here"},
                            headers=manager)
    assert r.status_code == 400 and "line of its own" in r.json()["details"]["body"][0]
    ok = body | {"body": "Dear [CustomerName]\n\nYou owe R[TotalBalance] by [ReplyByDate].\n\n[AgeingTable]"}
    r = await t.client.post("/api/v1/letter-templates", json=ok, headers=manager)
    assert r.status_code == 201, r.text
    own = r.json()
    assert own["builtIn"] is False and own["createdBy"] == f"user:{(await t.member('manager')).id}"
    r = await t.client.post("/api/v1/letter-templates", json=ok, headers=manager)
    assert r.status_code == 409 and r.json()["error"] == "TEMPLATE_NAME_TAKEN"
    # Copying a built-in is how the wording changes.
    r = await t.client.post("/api/v1/letter-templates", json={"copyOf": str(LETTER_OF_DEMAND.id)}, headers=manager)
    assert r.status_code == 201 and r.json()["name"] == "Letter of demand (copy)"
    assert r.json()["body"] == LETTER_OF_DEMAND.body and r.json()["kind"] == "letter_of_demand"
    copy = r.json()["id"]
    r = await t.client.patch(f"/api/v1/letter-templates/{copy}", json={"body": "Pay [TotalBalance] now."},
                             headers=manager)
    assert r.status_code == 200 and r.json()["body"] == "Pay [TotalBalance] now."
    r = await t.client.patch(f"/api/v1/letter-templates/{REMINDER.id}", json={"body": "x"}, headers=manager)
    assert r.status_code == 409 and r.json()["error"] == "BUILTIN_READ_ONLY"
    assert (await t.client.delete(f"/api/v1/letter-templates/{REMINDER.id}", headers=manager)).status_code == 409
    # Agents and read-only managers read templates only.
    for h in (await t.h("calling_agent"), await t.h("manager", access="read")):
        assert (await t.client.post("/api/v1/letter-templates", json=ok | {"name": "x"}, headers=h)).status_code == 403
        assert (await t.client.patch(f"/api/v1/letter-templates/{copy}", json={"name": "y"},
                                     headers=h)).status_code == 403
        assert (await t.client.get(f"/api/v1/letter-templates/{copy}", headers=h)).status_code == 200
    assert (await t.client.delete(f"/api/v1/letter-templates/{copy}", headers=manager)).status_code == 204
    assert (await t.client.get(f"/api/v1/letter-templates/{copy}", headers=manager)).status_code == 404
    r = await t.client.get("/api/v1/letter-templates/placeholders", headers=manager)
    assert {"[AgeingTable]", "[ReplyByDate]", "[CustomerName]", "[TotalBalance]"} <= {
        p["name"] for p in r.json()["data"]}


async def test_who_may_make_letters(rs: RS):
    t = await rs.tenant()
    officer = await t.member("collection_officer")
    mine = await t.loan((await t.customer(assigned_collection_officer=officer.id))["id"])
    _, other = await loan_account(t)
    async with transaction() as s:
        from arrears.accounts.models import Account

        mine_acc = str((await s.scalars(select(Account.id).where(Account.loan_id == mine["id"]))).one())
    body = {"templateId": str(REMINDER.id)}
    for role in ("admin", "manager", "collection_officer", "calling_agent", "field_officer"):
        acc = mine_acc if role == "collection_officer" else other
        r = await t.client.post("/api/v1/letters", json=body | {"accountIds": [acc]}, headers=await t.h(role))
        assert r.status_code == 201, (role, r.text)
        r = await t.client.post("/api/v1/letters", json=body | {"accountIds": [acc]},
                                headers=await t.h(role, access="read"))
        assert r.status_code == 403, role
        assert (await t.client.get("/api/v1/letters", headers=await t.h(role, access="read"))).status_code == 200
    # A collection officer sees only the letters and accounts of assigned customers.
    r = await t.client.post("/api/v1/letters", json=body | {"accountIds": [mine_acc, other]}, headers=officer.headers)
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"
    listed = (await t.client.get("/api/v1/letters", headers=officer.headers)).json()
    assert {x["accountId"] for x in listed["data"]} == {mine_acc}
    # Bad input changes nothing.
    for bad, field in (({"accountIds": [], **body}, "accountIds"),
                       ({"accountIds": [other], **body, "replyBy": "2001-01-01"}, "replyBy"),
                       ({"accountIds": [other], **body, "replyBy": "soon"}, "replyBy")):
        r = await t.client.post("/api/v1/letters", json=bad, headers=await t.h())
        assert r.status_code == 400 and field in r.json()["details"], r.text
    r = await t.client.post("/api/v1/letters", json={"accountIds": [other], "templateId": str(uuid.uuid4())},
                            headers=await t.h())
    assert r.status_code == 404


async def test_another_organisations_ids_are_404_everywhere(rs: RS):
    a, b = await rs.tenant("Org A"), await rs.tenant("Org B")
    _, acc_b = await loan_account(b)
    made = (await b.client.post("/api/v1/letters", json={"accountIds": [acc_b], "templateId": str(REMINDER.id)},
                                headers=await b.h())).json()["data"][0]
    tpl = (await b.client.post("/api/v1/letter-templates", json={"copyOf": str(REMINDER.id)},
                               headers=await b.h())).json()["id"]
    _, acc_a = await loan_account(a)
    h = await a.h()
    key_a = await key(a, ["letters:write"])
    for headers in (h, key_a):
        checks = [
            await a.client.get(f"/api/v1/letters/{made['id']}", headers=headers),
            await a.client.get(f"/api/v1/letters/{made['id']}/pdf", headers=headers),
            await a.client.post("/api/v1/letters", json={"accountIds": [acc_b], "templateId": str(REMINDER.id)},
                                headers=headers),
            await a.client.post("/api/v1/letters", json={"accountIds": [acc_a], "templateId": tpl}, headers=headers),
            await a.client.post("/api/v1/letters/preview", json={"accountId": acc_b, "templateId": str(REMINDER.id)},
                                headers=headers),
            await a.client.get(f"/api/v1/letter-templates/{tpl}", headers=headers),
        ]
        for r in checks:
            assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND", r.text
    for r in (await a.client.patch(f"/api/v1/letter-templates/{tpl}", json={"name": "mine"}, headers=h),
              await a.client.delete(f"/api/v1/letter-templates/{tpl}", headers=h)):
        assert r.status_code == 404
    assert (await a.client.get("/api/v1/letters", params={"accountId": acc_b}, headers=h)).json()["data"] == []
    assert tpl not in {x["id"] for x in (await a.client.get("/api/v1/letter-templates", headers=h,
                                                             params={"limit": 100})).json()["data"]}


async def test_keys_by_scope(rs: RS):
    t = await rs.tenant()
    _, acc = await loan_account(t)
    reader, writer, other = (await key(t, ["letters:read"]), await key(t, ["letters:write"]),
                             await key(t, ["accounts:read"]))
    body = {"accountIds": [acc], "templateId": str(REMINDER.id)}
    r = await t.client.post("/api/v1/letters", json=body, headers=writer)
    assert r.status_code == 201, r.text
    letter = r.json()["data"][0]
    assert letter["createdBy"].startswith("api_key:")
    r = await t.client.post("/api/v1/letters", json=body, headers=reader)
    assert r.status_code == 403 and "letters:write" in r.json()["message"]
    for h in (reader, writer):
        assert (await t.client.get("/api/v1/letters", headers=h)).json()["pagination"]["total"] == 1
        assert (await t.client.get(letter["pdfUrl"], headers=h)).status_code == 200
        assert (await t.client.get("/api/v1/letter-templates", headers=h)).status_code == 200
        assert (await t.client.get("/api/v1/letterhead", headers=h)).status_code == 200
    for r in (await t.client.get("/api/v1/letters", headers=other),
              await t.client.get(letter["pdfUrl"], headers=other),
              await t.client.get("/api/v1/letter-templates", headers=other),
              await t.client.get("/api/v1/letterhead", headers=other)):
        assert r.status_code == 403 and "letters:read" in r.json()["message"]
    # Keys make letters but never change templates or the letterhead.
    r = await t.client.post("/api/v1/letter-templates", json={"copyOf": str(REMINDER.id)}, headers=writer)
    assert r.status_code == 403
    assert (await t.client.put("/api/v1/letterhead", json=LETTERHEAD, headers=writer)).status_code == 403
