"""RepaySync §5.4 and §7.3: CSV bulk uploads of customers and interactions, every failure mode."""

from __future__ import annotations

import codecs
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from arrears import config
from arrears.customers.models import Customer, Interaction
from arrears.db import get_engine, transaction, utcnow
from arrears.events import DomainEvent
from tests.faces.repaysync.helpers import csv_bytes, upload

CUSTOMERS = "/api/customers/bulk/upload/"
INTERACTIONS = "/api/interactions/bulk/upload/"
HEADER = ["customer_code", "name", "phone", "email", "address_line_1", "address_line_2", "city", "state",
          "pincode", "date_of_birth"]


def row(code="", name="Jane Doe", phone="0821234567", email="jane@example.com", dob="1985-06-15",
        city="Durban"):
    return [code, name, phone, email, "1 Long St", "", city, "KZN", "4001", dob]


async def customers_of(client, headers):
    r = await client.get("/api/customers/", headers=headers)
    assert r.status_code == 200
    return r.json()


async def test_good_file_creates_every_row(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    content = csv_bytes([HEADER, row("C-1", "Ann"), row("", "Ben", phone="+91-9876543210"),
                         row("", "Cat", phone="", email="", dob="")])
    r = await upload(client, CUSTOMERS, content, h)
    assert r.status_code == 201, r.text
    assert r.json() == {"records_created": 3, "errors": []}
    got = {c["name"]: c for c in await customers_of(client, h)}
    assert got["Ann"]["customer_code"] == "C-1"
    assert got["Ben"]["phone"] == "+91-9876543210" and len(got["Ben"]["customer_code"]) == 8
    assert got["Cat"]["phone"] is None and got["Cat"]["email"] is None and got["Cat"]["date_of_birth"] is None
    assert got["Ann"]["date_of_birth"] == "1985-06-15" and got["Ann"]["city"] == "Durban"
    async with transaction() as s:
        ann = await s.scalar(select(Customer).where(Customer.customer_code == "C-1"))
        assert ann.phone_e164 == "+27821234567"
        ev = await s.scalar(select(DomainEvent).where(DomainEvent.type == "customer.bulk_created"))
        assert ev.data["records_created"] == 3 and len(ev.data["customer_ids"]) == 3


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
async def test_encodings(client, rs, encoding):
    acme = await rs.tenant()
    h = await acme.h()
    names = ["José Müller", "Zoë O’Brien", "Ñandú Façade"]
    content = csv_bytes([HEADER] + [row(f"E{i}", n) for i, n in enumerate(names)], encoding=encoding)
    if encoding == "utf-8-sig":
        assert content.startswith(codecs.BOM_UTF8)
    r = await upload(client, CUSTOMERS, content, h)
    assert r.status_code == 201, r.text
    assert r.json() == {"records_created": 3, "errors": []}
    assert sorted(c["name"] for c in await customers_of(client, h)) == sorted(names)


async def test_excel_style_files(client, rs):
    """Semicolons, headers in other spellings, a bare LF, a quoted multi-line address."""
    acme = await rs.tenant()
    h = await acme.h()
    content = (b"Customer Code;Name;Phone;Email;Address Line 1;Date of Birth\n"
               b'X1;Ann;082 123 4567;ann@example.com;"12 Long St\nFlat 3";1990/01/02\n'
               b"X2;Ben;;;;\n")
    r = await upload(client, CUSTOMERS, content, h)
    assert r.status_code == 201, r.text
    assert r.json() == {"records_created": 2, "errors": []}
    got = {c["customer_code"]: c for c in await customers_of(client, h)}
    assert got["X1"]["date_of_birth"] == "1990-01-02"
    assert got["X1"]["address_line_1"] == "12 Long St Flat 3"


async def test_bad_rows_are_reported_with_line_numbers_good_rows_created(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    future = (utcnow().date() + timedelta(days=3)).isoformat()
    content = csv_bytes([
        HEADER,
        row("G1", "Good One"),                      # line 2
        row("B1", "Bad Date", dob="1990-13-01"),    # line 3
        row("B2", "Future", dob=future),            # line 4
        row("B3", "Bad Phone", phone="123"),        # line 5
        row("B4", "Bad Email", email="nope@"),      # line 6
        row("B5", ""),                              # line 7
        [""] * 10,                                  # line 8: blank, skipped
        row("G2", "Good Two"),                      # line 9
        row("B6", "Too many") + ["extra"],          # line 10
    ])
    r = await upload(client, CUSTOMERS, content, h)
    assert r.status_code == 201
    body = r.json()
    assert body["records_created"] == 2
    assert [(e["line"], list(e["errors"])) for e in body["errors"]] == [
        (3, ["date_of_birth"]), (4, ["date_of_birth"]), (5, ["phone"]), (6, ["email"]), (7, ["name"]),
        (10, ["non_field_errors"])]
    assert body["errors"][1] == {"line": 4, "message": "date_of_birth: Date of birth cannot be in the future.",
                                 "errors": {"date_of_birth": ["Date of birth cannot be in the future."]}}
    assert body["errors"][4]["errors"] == {"name": ["This field is required."]}
    assert sorted(c["customer_code"] for c in await customers_of(client, h)) == ["G1", "G2"]


async def test_duplicate_codes_in_file_and_against_database(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    await acme.customer(customer_code="OLD1")
    other = await rs.tenant("Other Org")
    await other.customer(customer_code="NEW2")  # another organisation's codes never clash with ours
    content = csv_bytes([HEADER, row("NEW1", "A"), row("NEW1", "B"), row("OLD1", "C"), row("NEW2", "D"),
                         row("new1", "E")])
    r = await upload(client, CUSTOMERS, content, h)
    assert r.status_code == 201
    body = r.json()
    assert body["records_created"] == 3  # NEW1 (first), NEW2, new1 (codes are case-sensitive)
    assert body["errors"] == [
        {"line": 3, "message": 'customer_code: Duplicate customer code "NEW1" in this file (first on line 2).',
         "errors": {"customer_code": ['Duplicate customer code "NEW1" in this file (first on line 2).']}},
        {"line": 4, "message": "customer_code: A customer with this customer code already exists.",
         "errors": {"customer_code": ["A customer with this customer code already exists."]}},
    ]
    # Uploading the same file again: every code is now taken, nothing is created, nothing crashes.
    r = await upload(client, CUSTOMERS, content, h)
    assert r.status_code == 201
    assert r.json()["records_created"] == 0 and len(r.json()["errors"]) == 5


@pytest.mark.parametrize(("content", "message"), [
    (b"", "The file is empty."),
    (b"\r\n\r\n", "The file is empty."),
    (b"Ann,0821234567,ann@example.com\nBen,0831234567,ben@example.com\n",
     "The first line must be a header naming the columns: customer_code, name, phone, email, address_line_1, "
     "address_line_2, city, state, pincode, date_of_birth, assigned_collection_officer. "
     "Found: Ann, 0821234567, ann@example.com."),
    (b"customer_code,phone,email\nX,0821234567,a@example.com\n",
     "Missing required column(s): name. The columns are: customer_code, name, phone, email, address_line_1, "
     "address_line_2, city, state, pincode, date_of_birth, assigned_collection_officer."),
    (b"name,phone,favourite_colour\nAnn,0821234567,blue\n",
     "Unknown column(s): favourite_colour. The columns are: customer_code, name, phone, email, address_line_1, "
     "address_line_2, city, state, pincode, date_of_birth, assigned_collection_officer."),
    (b"name,phone,name\nAnn,1,Ann\n", "The column name appears more than once in the header."),
    (b"PK\x03\x04\x14\x00\x06\x00binary-xlsx",
     "This looks like an Excel workbook; save it as CSV (comma delimited) and upload that."),
])
async def test_file_level_failures_are_400_and_create_nothing(client, rs, content, message):
    acme = await rs.tenant()
    h = await acme.h()
    r = await upload(client, CUSTOMERS, content, h)
    assert r.status_code == 400
    assert r.json() == {"error": message}
    assert await customers_of(client, h) == []


async def test_unclosed_quote_is_a_clear_400(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    content = b'name,phone\nAnn,"0821234567\n' + b"x" * (1024 * 1024 + 10) + b"\n"
    r = await upload(client, CUSTOMERS, content, h)
    assert r.status_code == 400
    assert r.json()["error"].startswith("Line 2: the file could not be read as CSV")
    assert await customers_of(client, h) == []


async def test_no_file(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    for path in (CUSTOMERS, INTERACTIONS):
        for kwargs in ({}, {"json": {"file": "x"}}, {"data": {"file": "just text"}},
                       {"files": {"other": ("a.csv", b"name\nAnn\n", "text/csv")}},
                       {"files": {"file": ("", b"", "application/octet-stream")}}):
            r = await client.post(path, headers=h, **kwargs)
            assert r.status_code == 400, (path, kwargs)
            assert r.json() == {"error": "No file provided."}


async def test_too_large_is_413(client, rs, monkeypatch):
    acme = await rs.tenant()
    h = await acme.h()
    monkeypatch.setenv("UPLOAD_MAX_SIZE", "1000")
    config.reset_settings()
    content = csv_bytes([HEADER] + [row(f"Z{i}") for i in range(30)])
    assert len(content) > 1000
    r = await upload(client, CUSTOMERS, content, h)
    assert r.status_code == 413
    assert r.json() == {"error": "The file is larger than the upload limit of 1000 bytes."}
    r = await upload(client, INTERACTIONS, b"x" * 200_000, h)  # refused from Content-Length
    assert r.status_code == 413
    assert await customers_of(client, h) == []


async def test_permissions_and_assignment(client, rs):
    acme = await rs.tenant()
    officer = await acme.member("collection_officer", "one")
    other_officer = await acme.member("collection_officer", "two")
    agent = await acme.member("calling_agent")
    content = csv_bytes([HEADER, row("", "Walk-in")])
    r = await upload(client, CUSTOMERS, content, await acme.h("admin", access="read"))
    assert r.status_code == 403
    r = await upload(client, CUSTOMERS, content, officer.headers)
    assert r.status_code == 201
    mine = await customers_of(client, officer.headers)
    assert [c["assigned_collection_officer"] for c in mine] == [officer.id]
    # An optional assigned_collection_officer column takes an id or a username.
    content = csv_bytes([["name", "assigned_collection_officer"], ["By Id", str(other_officer.id)],
                         ["By Name", other_officer.user.username], ["Agent", str(agent.id)],
                         ["Ghost", "nobody"]])
    r = await upload(client, CUSTOMERS, content, await acme.h("manager"))
    assert r.status_code == 201
    body = r.json()
    assert body["records_created"] == 2
    assert body["errors"] == [
        {"line": 4, "message": f"assigned_collection_officer: User {agent.id} is not a collection officer "
                               "of this organisation.",
         "errors": {"assigned_collection_officer": [
             f"User {agent.id} is not a collection officer of this organisation."]}},
        {"line": 5, "message": 'assigned_collection_officer: No collection officer with username "nobody".',
         "errors": {"assigned_collection_officer": ['No collection officer with username "nobody".']}},
    ]
    assert len(await customers_of(client, other_officer.headers)) == 2


async def test_ten_thousand_rows_in_batched_inserts(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    rows = [HEADER]
    prefixes = ["082", "083", "084", "072", "073", "076"]
    for i in range(10_000):
        rows.append([f"BULK{i:05d}" if i % 2 else "", f"Customer {i}", f"{prefixes[i % 6]}{i:07d}",
                     f"c{i}@example.com", f"{i} Main Rd", "", "Johannesburg", "GP", "2001",
                     f"19{50 + i % 50}-0{1 + i % 9}-1{i % 9}"])
    rows[5000][1] = ""  # one bad row in the middle, line 5001
    content = csv_bytes(rows)

    inserts: list[int] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO CUSTOMERS"):
            inserts.append(1)

    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        r = await upload(client, CUSTOMERS, content, h)
        elapsed = time.perf_counter() - started
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert r.status_code == 201, r.text[:500]
    body = r.json()
    assert body["records_created"] == 9_999
    assert body["errors"] == [{"line": 5001, "message": "name: This field is required.",
                               "errors": {"name": ["This field is required."]}}]
    assert len(inserts) <= 20, len(inserts)  # 10 batches of 1,000, not 10,000 statements
    assert elapsed < 60
    async with transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Customer)
                              .where(Customer.org_id == acme.org.id)) == 9_999
        codes = list(await s.scalars(select(Customer.customer_code).where(Customer.org_id == acme.org.id)))
        assert len(set(codes)) == 9_999


# ------------------------------------------------------------------ interactions

IHEADER = ["loan_id", "comment", "disposition", "next_call_date", "interaction_type"]


async def test_interactions_upload(client, rs):
    acme = await rs.tenant()
    other = await rs.tenant("Other Org")
    their_loan = await other.loan((await other.customer())["id"])
    c = await acme.customer()
    loan = await acme.loan(c["id"], loan_account_number="ACC-77")
    admin = await acme.member("admin")
    content = csv_bytes([
        IHEADER,
        [str(loan["id"]), "Visited", "visited", "2025-03-15", ""],              # 2: field by default
        [str(loan["id"]), "Rang", "called", "2025-03-20", "calling"],           # 3
        [str(loan["id"]), "x", "called", "", "field"],                          # 4: not a field disposition
        [str(their_loan["id"]), "x", "visited", "", ""],                        # 5: another org's loan
        ["999999", "x", "visited", "", ""],                                     # 6: no such loan
        ["abc", "x", "visited", "", ""],                                        # 7
        [str(loan["id"]), "x", "visited", "15/03/2025", ""],                    # 8: bad date
        [str(loan["id"]), "x", "", "", ""],                                     # 9: no disposition
        [str(loan["id"]), "x", "visited", "", "sms"],                           # 10: bad type
        ["", "x", "visited", "", ""],                                           # 11: no loan
    ])
    r = await upload(client, INTERACTIONS, content, admin.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["records_created"] == 2
    assert [(e["line"], list(e["errors"])) for e in body["errors"]] == [
        (4, ["disposition"]), (5, ["loan_id"]), (6, ["loan_id"]), (7, ["loan_id"]), (8, ["next_call_date"]),
        (9, ["disposition"]), (10, ["interaction_type"]), (11, ["loan_id"])]
    assert body["errors"][1]["errors"] == {"loan_id": [f'Invalid pk "{their_loan["id"]}" - object does not exist.']}

    h = admin.headers
    field = (await client.get(f"/api/interactions/field/loan/{loan['id']}/", headers=h)).json()
    calls = (await client.get(f"/api/interactions/calling/loan/{loan['id']}/", headers=h)).json()
    assert [(x["disposition"], x["next_call_date"], x["created_by"]) for x in field] == [
        ("visited", "2025-03-15", admin.id)]
    assert [(x["disposition"], x["interaction_type"]) for x in calls] == [("called", "calling")]
    assert field[0]["timestamp"].endswith("Z")

    # A loan may be named by its account number instead (beyond the spec).
    content = csv_bytes([["loan_account_number", "disposition"], ["ACC-77", "not_home"], ["NOPE", "visited"]])
    r = await upload(client, INTERACTIONS, content, h)
    assert r.json() == {"records_created": 1, "errors": [
        {"line": 3, "message": 'loan_account_number: No loan with account number "NOPE".',
         "errors": {"loan_account_number": ['No loan with account number "NOPE".']}}]}
    async with transaction() as s:
        ev = list(await s.scalars(select(DomainEvent).where(DomainEvent.type == "interaction.bulk_created")))
        assert [e.data["records_created"] for e in ev] == [2, 1]
        assert await s.scalar(select(func.count()).select_from(Interaction)
                              .where(Interaction.org_id == acme.org.id)) == 3


async def test_interactions_upload_roles_and_file_errors(client, rs):
    acme = await rs.tenant()
    loan = await acme.loan((await acme.customer())["id"])
    content = csv_bytes([IHEADER, [str(loan["id"]), "", "called", "", "calling"],
                         [str(loan["id"]), "", "visited", "", "field"]])
    r = await upload(client, INTERACTIONS, content, await acme.h("field_officer"))
    assert r.status_code == 201
    assert r.json()["records_created"] == 1
    assert r.json()["errors"][0]["errors"] == {
        "interaction_type": ["Your role (field_officer) cannot record calling interactions."]}

    h = await acme.h()
    r = await upload(client, INTERACTIONS, b"loan_id,comment\n1,x\n", h)
    assert r.status_code == 400
    assert r.json()["error"].startswith("Missing required column(s): disposition.")
    r = await upload(client, INTERACTIONS, b"comment,disposition\nx,visited\n", h)
    assert r.status_code == 400
    assert r.json()["error"].startswith("Missing required column(s): loan_id or loan_account_number or account.")
    r = await upload(client, INTERACTIONS, b"1,hello,visited,2025-01-01\n", h)
    assert r.status_code == 400
    assert r.json()["error"].startswith("The first line must be a header")


async def test_file_is_read_before_the_transaction_and_errors_wait_for_auth(client, rs, monkeypatch):
    from arrears.faces.repaysync import common

    seen = []
    real = common.read_upload

    async def spy(request):
        seen.append(hasattr(request.state, "caller"))  # set once the caller (and its session) exist
        return await real(request)

    monkeypatch.setattr(common, "read_upload", spy)
    acme = await rs.tenant()
    r = await upload(client, CUSTOMERS, csv_bytes([["name"], ["Ann"]]), await acme.h())
    assert r.status_code == 201
    # Issue 19 §2: the caller is authenticated before a multipart body is read (it was read first).
    assert seen == [True]
    # Without credentials it is a 401 first, whatever the body.
    for kwargs in ({}, {"files": {"file": ("a.csv", b"name\nAnn\n", "text/csv")}}):
        r = await client.post(CUSTOMERS, **kwargs)
        assert r.status_code == 401
        assert set(r.json()) == {"error"}
