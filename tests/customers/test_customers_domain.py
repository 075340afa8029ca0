"""The customers domain below the HTTP face: phones, CSV reading, codes, and the services other
domains call (get_or_create_by_code / get_or_create_many, the timeline registry)."""

from __future__ import annotations

import codecs
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from arrears.customers import csv_import, fields, interactions, phones, service, timeline
from arrears.customers.models import Customer
from arrears.customers.schemas import CustomerSeed, TimelineEntry
from arrears.db import transaction
from arrears.errors import Forbidden, ValidationFailed
from arrears.events import DomainEvent
from arrears.identity import service as identity
from arrears.identity.caller import Caller

# ------------------------------------------------------------------ phones and emails


@pytest.mark.parametrize(("text", "region", "e164"), [
    ("082 123 4567", "ZA", "+27821234567"),
    ("0821234567", "ZA", "+27821234567"),
    ("+27 (0)82 123-4567", "ZA", "+27821234567"),
    ("+91-9876543210", "ZA", "+919876543210"),
    ("098765 43210", "IN", "+919876543210"),
    ("(020) 7946 0958", "GB", "+442079460958"),
])
def test_parse_phone(text, region, e164):
    phone = phones.parse_phone(text, region)
    assert phone.e164 == e164
    assert phone.display == " ".join(text.split())
    assert phone.digits == e164[1:]


@pytest.mark.parametrize("text", ["", "   ", "12", "phone", "0" * 40, "+999 123 456"])
def test_invalid_phones(text):
    with pytest.raises(ValueError):
        phones.parse_phone(text)
    assert phones.try_parse_phone(text) is None


def test_region_or_default():
    assert phones.region_or_default("in") == "IN"
    assert phones.region_or_default(None) == "ZA"
    assert phones.region_or_default("XX") == "ZA"
    assert phones.region_or_default(27) == "ZA"


@given(st.text(max_size=40))
def test_phone_parsing_only_ever_raises_value_error(text):
    try:
        phone = phones.parse_phone(text)
    except ValueError:
        return
    assert phone.e164.startswith("+") and phone.e164[1:].isdigit()


def test_parse_email():
    assert phones.parse_email(" John@Example.COM ") == "John@example.com"
    for bad in ("", "a@", "@b.com", "a b@c.com", "a@b", "x" * 250 + "@example.com"):
        with pytest.raises(ValueError):
            phones.parse_email(bad)


# ------------------------------------------------------------------ values


@given(st.dates(min_value=date(1, 1, 1)))
def test_parse_date_round_trips_iso(d):
    assert fields.parse_date(d.isoformat()) == d
    assert fields.parse_date(d) == d


@pytest.mark.parametrize("text", ["2025-02-30", "2025-13-01", "20250101", "01/02/2025", "2025-W01-1", "", "x"])
def test_parse_date_refuses(text):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        fields.parse_date(text)


def test_money_and_codes():
    assert fields.money(Decimal("50000")) == "50000.00"
    assert fields.money(Decimal("10.5")) == "10.50"
    assert fields.money(Decimal("5E+4")) == "50000.00"
    codes = {service.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 8 and not set(c) & set("01OIL") for c in codes)


def test_dispositions_include_the_spec_examples():
    assert "visited" in interactions.FIELD_DISPOSITIONS
    assert "called" in interactions.CALLING_DISPOSITIONS


# ------------------------------------------------------------------ CSV reading

COLUMNS = ("customer_code", "name", "phone")


def test_decode_variants():
    text = "name\nJosé\n"
    assert csv_import.decode(text.encode("utf-8")) == text
    assert csv_import.decode(codecs.BOM_UTF8 + text.encode("utf-8")) == text
    assert csv_import.decode(text.encode("cp1252")) == text
    assert csv_import.decode(text.encode("utf-16")) == text
    assert csv_import.decode(b"\x81") == "\ufffd"  # undefined in Windows-1252: replaced, never a crash


def test_rows_with_their_starting_lines():
    content = b'\r\nName,Phone\r\n\r\nAnn,"082\r\n123"\r\n,\r\nBen,083\r\n'
    table = csv_import.read_table(content, columns=COLUMNS, required=("name",))
    assert [(r.line, r.values) for r in table.rows()] == [
        (4, {"name": "Ann", "phone": "082\r\n123"}), (7, {"name": "Ben", "phone": "083"})]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters(delimiter):
    content = f"customer_code{delimiter}name\nA1{delimiter}Ann, Smith\n".encode()
    if delimiter == ",":
        content = b'customer_code,name\nA1,"Ann, Smith"\n'
    table = csv_import.read_table(content, columns=COLUMNS)
    assert [r.values for r in table.rows()] == [{"customer_code": "A1", "name": "Ann, Smith"}]


def test_header_problems():
    with pytest.raises(csv_import.CsvError, match="Unknown column"):
        csv_import.read_table(b"name,age\nA,1\n", columns=COLUMNS)
    with pytest.raises(csv_import.CsvError, match="Missing required column"):
        csv_import.read_table(b"phone\n1\n", columns=COLUMNS, required=("name",))
    with pytest.raises(csv_import.CsvError, match="not a text file"):
        csv_import.read_table(b"name\x00\x01\x02", columns=COLUMNS)
    # Blank header cells (trailing commas from Excel) are ignored.
    table = csv_import.read_table(b"name,,\nAnn,,\n", columns=COLUMNS)
    assert [r.values for r in table.rows()] == [{"name": "Ann"}]


# ------------------------------------------------------------------ services for other domains


async def test_get_or_create_by_code(env):
    async with transaction() as s:
        org = await identity.create_org(s, Caller.operator(), name="Pharmacy One", kind="pharmacy")
    async with transaction() as s:
        c = await service.get_or_create_by_code(s, Caller.system(org.id), "  ACC 001 ", name="ABC Company Ltd",
                                                phone="011 555 1234", email="not-an-email",
                                                contact="John Smith")
        assert (c.customer_code, c.name, c.phone, c.phone_e164, c.email, c.contact_person) == (
            "ACC 001", "ABC Company Ltd", "011 555 1234", "+27115551234", None, "John Smith")
        first_id = c.id
    async with transaction() as s:
        # Found again: never overwritten, only gaps filled.
        again = await service.get_or_create_by_code(s, Caller.system(org.id), "ACC 001", name="Renamed",
                                                    phone="082 000 0000", email="ap@abc.example.com")
        assert again.id == first_id
        await s.refresh(again)
        assert (again.name, again.phone, again.email) == ("ABC Company Ltd", "011 555 1234",
                                                          "ap@abc.example.com")
        # An unreadable phone keeps its text with no E.164 form; a missing name takes the code.
        odd = await service.get_or_create_by_code(s, Caller.system(org.id), "ACC002", phone="call reception")
        assert (odd.name, odd.phone, odd.phone_e164) == ("ACC002", "call reception", None)
        with pytest.raises(ValidationFailed):
            await service.get_or_create_by_code(s, Caller.system(org.id), "   ")
    async with transaction() as s:
        types = list(await s.scalars(select(DomainEvent.type).where(DomainEvent.subject_type == "customer")))
        assert types == ["customer.created", "customer.created"]


async def test_get_or_create_many_in_batches(env):
    async with transaction() as s:
        org = await identity.create_org(s, Caller.operator(), name="Big Book")
        other = await identity.create_org(s, Caller.operator(), name="Other")
    seeds = [CustomerSeed(f"D{i:05d}", f"Debtor {i}", f"08{2 + i % 2}{i:07d}") for i in range(2500)]
    seeds.append(CustomerSeed("D00001", "Duplicate seed, first wins"))
    async with transaction() as s:
        await service.get_or_create_by_code(s, Caller.system(other.id), "D00001", name="Other org's customer")
        existing = await service.get_or_create_by_code(s, Caller.system(org.id), "D00002", name="Already here")
    async with transaction() as s:
        found = await service.get_or_create_many(s, Caller.system(org.id), seeds)
    assert len(found) == 2500 and found["D00002"] == existing.id
    async with transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Customer).where(Customer.org_id == org.id)) == 2500
        d1 = await s.scalar(select(Customer).where(Customer.org_id == org.id, Customer.customer_code == "D00001"))
        assert d1.name == "Debtor 1" and d1.phone_e164 == "+27830000001"
        ev = await s.scalar(select(DomainEvent).where(DomainEvent.type == "customer.bulk_created"))
        assert ev.data["records_created"] == 2499
    async with transaction() as s:
        again = await service.get_or_create_many(s, Caller.system(org.id), seeds[:10])
    assert again == {k: found[k] for k in again}


async def test_get_or_create_needs_write_access_and_works_in_the_callers_organisation(env, world):
    org, other = await world.org(), await world.org("Other")
    async with transaction() as s:
        ours = await service.get_or_create_by_code(s, Caller.system(org.id), "SHARED", name="Ours")
    reader = await world.user(org.id, role="admin", access="read")
    async with transaction() as s:
        refused = await identity.caller_for_user(s, reader.id)
        with pytest.raises(Forbidden) as err:
            await service.get_or_create_many(s, refused, [CustomerSeed("NEW1", "New")])
    assert err.value.status == 403
    officer = await world.user(other.id, role="collection_officer")
    async with transaction() as s:
        # Another organisation's caller naming our code gets a customer of its own, ours untouched.
        found = await service.get_or_create_many(s, await identity.caller_for_user(s, officer.id),
                                                 [CustomerSeed("SHARED", "Theirs", "0821234567")])
    assert found["SHARED"] != ours.id
    async with transaction() as s:
        rows = (await s.execute(select(Customer.org_id, Customer.name, Customer.phone)
                                .where(Customer.customer_code.in_(["SHARED", "NEW1"])).order_by(Customer.org_id))).all()
    assert [tuple(r) for r in rows] == [(org.id, "Ours", None), (other.id, "Theirs", "0821234567")]


async def test_timeline_registry(env):
    calls = []

    @timeline.register_timeline_source
    async def source(session, caller, customer):
        calls.append(customer.id)
        return [TimelineEntry("balance", datetime(2030, 1, 1, tzinfo=UTC), "Balance R100", {})]

    try:
        assert timeline.register_timeline_source(source) is source
        assert timeline._timeline_sources.count(source) == 1
        async with transaction() as s:
            org = await identity.create_org(s, Caller.operator(), name="T")
            user = await identity.create_user(s, Caller.system(org.id), username="tim",
                                              password="Sup3r-secret-pw", role="manager")
            caller = await identity.caller_for_user(s, user.id)
            c = await service.create_customer(s, caller, {"name": "Tim"})
            entries = await timeline.timeline(s, caller, c.id)
        assert [e.type for e in entries] == ["balance", "customer"]
        assert calls == [c.id]
    finally:
        timeline._timeline_sources.remove(source)


async def test_generated_codes_avoid_taken_ones(env, monkeypatch):
    async with transaction() as s:
        org = await identity.create_org(s, Caller.operator(), name="Codes")
        await service.get_or_create_by_code(s, Caller.system(org.id), "AAAAAAAA")
    # Taken in the database (A), repeated within the batch (B), on the avoid list (C): all skipped.
    sequence = iter(["AAAAAAAA", "BBBBBBBB", "BBBBBBBB", "CCCCCCCC", "DDDDDDDD"])
    monkeypatch.setattr(service, "new_code", lambda: next(sequence))
    async with transaction() as s:
        codes = await service.generate_codes(s, org.id, 2, {"CCCCCCCC"})
    assert sorted(codes) == ["BBBBBBBB", "DDDDDDDD"]
