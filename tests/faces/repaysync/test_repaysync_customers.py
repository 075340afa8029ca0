"""RepaySync §5 customers end to end through HTTP (the bulk upload has its own file)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from arrears.db import transaction, utcnow
from arrears.events import DomainEvent
from arrears.identity import service as identity
from arrears.identity.caller import Caller

SPEC_FIELDS = {"id", "customer_code", "name", "phone", "email", "assigned_collection_officer",
               "address_line_1", "address_line_2", "city", "state", "pincode", "date_of_birth"}
CODE = re.compile(r"^[2-9A-HJ-KM-NP-Z]{8}$")  # no 0/O, 1/I/L


async def test_create_shape_and_retrieve(client, rs):
    acme = await rs.tenant()
    officer = await acme.member("collection_officer")
    body = {"customer_code": None, "name": "John Doe", "phone": "+91-9876543210",
            "email": "john@example.com", "assigned_collection_officer": officer.id,
            "address_line_1": "123 Main St", "address_line_2": "Apt 4B", "city": "Kolkata",
            "state": "WB", "pincode": "700001", "date_of_birth": "1990-01-01"}
    r = await client.post("/api/customers/", json=body, headers=await acme.h("admin"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == SPEC_FIELDS
    assert CODE.match(created["customer_code"])
    assert created == body | {"id": created["id"], "customer_code": created["customer_code"]}

    r = await client.get(f"/api/customers/{created['id']}/", headers=await acme.h("admin"))
    assert r.status_code == 200
    assert r.json() == created
    r = await client.get("/api/customers/", headers=await acme.h("admin"))
    assert r.status_code == 200
    assert r.json() == [created]


async def test_create_endpoint_and_omitted_code(client, rs):
    acme = await rs.tenant()
    h = await acme.h("admin")
    r = await client.post("/api/customers/create/", json={"name": "Only A Name"}, headers=h)
    assert r.status_code == 201, r.text
    c = r.json()
    assert CODE.match(c["customer_code"])
    assert c["phone"] is None and c["email"] is None and c["date_of_birth"] is None
    # /create/ is never taken as an id: other methods there are 405 in RepaySync's body.
    r = await client.get("/api/customers/create/", headers=h)
    assert r.status_code == 405
    assert set(r.json()) == {"error"}


async def test_generated_codes_are_unique_and_given_codes_unique_per_org(client, rs):
    acme = await rs.tenant()
    h = await acme.h("admin")
    codes = {(await acme.customer(name=f"C{i}"))["customer_code"] for i in range(15)}
    assert len(codes) == 15
    assert all(CODE.match(c) for c in codes)

    first = await acme.customer(customer_code="ACC001")
    assert first["customer_code"] == "ACC001"
    r = await client.post("/api/customers/", json={"name": "Dup", "customer_code": "ACC001"}, headers=h)
    assert r.status_code == 400
    assert r.json() == {"errors": {"customer_code": ["A customer with this customer code already exists."]}}
    # Another organisation may use the same code.
    other = await rs.tenant("Other Org")
    assert (await other.customer(customer_code="ACC001"))["customer_code"] == "ACC001"


async def test_phone_normalised_with_org_region_display_kept(client, rs):
    acme = await rs.tenant()
    h = await acme.h("admin")
    c = await acme.customer(phone="082 123 4567")
    assert c["phone"] == "082 123 4567"  # the display form as given
    from arrears.customers.models import Customer

    async with transaction() as s:
        row = await s.get(Customer, c["id"])
        assert row.phone_e164 == "+27821234567"

    # An organisation in India reads national numbers as Indian ones.
    async with transaction() as s:
        org = await identity.get_org(s, acme.org.id)
        await identity.set_org_settings(s, Caller.system(org.id), org, {"default_region": "IN"})
    c2 = await acme.customer(phone="098765 43210")
    async with transaction() as s:
        assert (await s.get(Customer, c2["id"])).phone_e164 == "+919876543210"

    for bad in ("12345", "not a phone", "+27 1", "0" * 12):
        r = await client.post("/api/customers/", json={"name": "X", "phone": bad}, headers=h)
        assert r.status_code == 400
        assert r.json() == {"errors": {"phone": ["Enter a valid phone number."]}}


@pytest.mark.parametrize("email", ["bad@", "no-at-sign", "a@b", "x y@example.com"])
async def test_invalid_email(client, rs, email):
    acme = await rs.tenant()
    r = await client.post("/api/customers/", json={"name": "X", "email": email}, headers=await acme.h())
    assert r.status_code == 400
    assert r.json() == {"errors": {"email": ["Enter a valid email address."]}}


async def test_date_of_birth_rules(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    tomorrow = (utcnow().date() + timedelta(days=1)).isoformat()
    r = await client.post("/api/customers/", json={"name": "X", "date_of_birth": tomorrow}, headers=h)
    assert r.status_code == 400
    assert r.json() == {"errors": {"date_of_birth": ["Date of birth cannot be in the future."]}}
    for bad in ("1990-02-30", "01/02/1990", "yesterday"):
        r = await client.post("/api/customers/", json={"name": "X", "date_of_birth": bad}, headers=h)
        assert r.status_code == 400, bad
        assert list(r.json()["errors"]) == ["date_of_birth"]
    today = utcnow().date().isoformat()
    assert (await acme.customer(date_of_birth=today))["date_of_birth"] == today


async def test_name_is_required_and_errors_are_per_field(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    r = await client.post("/api/customers/", json={"phone": "0821234567"}, headers=h)
    assert r.status_code == 400
    assert r.json() == {"errors": {"name": ["This field is required."]}}
    r = await client.post("/api/customers/", json={"name": "  ", "email": "bad", "phone": "1"}, headers=h)
    assert r.status_code == 400
    assert r.json() == {"errors": {"name": ["This field may not be blank."],
                                   "email": ["Enter a valid email address."],
                                   "phone": ["Enter a valid phone number."]}}
    r = await client.post("/api/customers/", content=b"not json",
                          headers=h | {"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "errors" in r.json() or "error" in r.json()


async def test_assigned_officer_must_be_collection_officer_of_same_org(client, rs):
    acme = await rs.tenant()
    h = await acme.h("admin")
    agent = await acme.member("calling_agent")
    r = await client.post("/api/customers/", json={"name": "X", "assigned_collection_officer": agent.id},
                          headers=h)
    assert r.status_code == 400
    assert r.json() == {"errors": {"assigned_collection_officer": [
        f"User {agent.id} is not a collection officer."]}}
    other = await rs.tenant("Other Org")
    foreign = await other.member("collection_officer")
    for bad in (foreign.id, 999999, 2**40):
        r = await client.post("/api/customers/", json={"name": "X", "assigned_collection_officer": bad},
                              headers=h)
        assert r.status_code == 400
        assert r.json() == {"errors": {"assigned_collection_officer": [
            f'Invalid pk "{bad}" - object does not exist.']}}


async def test_visibility_per_role(client, rs):
    acme = await rs.tenant()
    o1 = await acme.member("collection_officer", "one")
    o2 = await acme.member("collection_officer", "two")
    mine = await acme.customer(name="Mine", assigned_collection_officer=o1.id)
    theirs = await acme.customer(name="Theirs", assigned_collection_officer=o2.id)
    nobody = await acme.customer(name="Unassigned")
    everyone = {mine["id"], theirs["id"], nobody["id"]}

    async def ids(headers):
        r = await client.get("/api/customers/", headers=headers)
        assert r.status_code == 200
        return {c["id"] for c in r.json()}

    assert await ids(o1.headers) == {mine["id"]}
    assert await ids(o2.headers) == {theirs["id"]}
    for role in ("calling_agent", "field_officer", "manager", "admin"):
        assert await ids(await acme.h(role)) == everyone, role
    # A collection officer cannot open another officer's customer: 404, not 403.
    r = await client.get(f"/api/customers/{theirs['id']}/", headers=o1.headers)
    assert r.status_code == 404
    assert r.json() == {"error": f"Customer {theirs['id']} not found."}
    r = await client.patch(f"/api/customers/{theirs['id']}/", json={"name": "x"}, headers=o1.headers)
    assert r.status_code == 404


async def test_collection_officer_creates_for_themselves(client, rs):
    acme = await rs.tenant()
    officer = await acme.member("collection_officer")
    c = await acme.customer(role="collection_officer", name="Walk-in")
    assert c["assigned_collection_officer"] == officer.id
    r = await client.get("/api/customers/", headers=officer.headers)
    assert [x["id"] for x in r.json()] == [c["id"]]
    # Clearing the assignment keeps it with them rather than losing the customer from view.
    r = await client.patch(f"/api/customers/{c['id']}/", json={"assigned_collection_officer": None},
                           headers=officer.headers)
    assert r.status_code == 200
    assert r.json()["assigned_collection_officer"] == officer.id


async def test_put_replaces_patch_merges(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    officer = await acme.member("collection_officer")
    c = await acme.customer(customer_code="KEEP01", city="Durban", pincode="4001",
                            assigned_collection_officer=officer.id, date_of_birth="1980-05-05")
    url = f"/api/customers/{c['id']}/"

    r = await client.patch(url, json={"name": "John Doe Updated", "phone": "+91-9123456789"}, headers=h)
    assert r.status_code == 200
    patched = r.json()
    assert patched == c | {"name": "John Doe Updated", "phone": "+91-9123456789"}

    # PUT without name is a field error; PUT changes only what it is sent (issue 20): the fields
    # it was not sent, the officer and the code among them, stay as they were.
    r = await client.put(url, json={"city": "Cape Town"}, headers=h)
    assert r.status_code == 400
    assert r.json() == {"errors": {"name": ["This field is required."]}}
    r = await client.put(url, json={"name": "Jane", "city": "Cape Town"}, headers=h)
    assert r.status_code == 200
    assert r.json() == patched | {"name": "Jane", "city": "Cape Town"}
    assert r.json()["assigned_collection_officer"] == officer.id and r.json()["pincode"] == "4001"
    # An explicit null still clears an optional field.
    r = await client.put(url, json={"name": "Jane", "pincode": None}, headers=h)
    assert r.status_code == 200 and r.json()["pincode"] is None and r.json()["city"] == "Cape Town"
    # PATCH null name is refused; PATCH a new code checks uniqueness.
    r = await client.patch(url, json={"name": None}, headers=h)
    assert r.status_code == 400
    assert r.json() == {"errors": {"name": ["This field may not be null."]}}
    other = await acme.customer(customer_code="TAKEN1")
    r = await client.patch(url, json={"customer_code": "TAKEN1"}, headers=h)
    assert r.status_code == 400
    assert "customer_code" in r.json()["errors"]
    r = await client.patch(url, json={"customer_code": "NEW-CODE"}, headers=h)
    assert r.status_code == 200 and r.json()["customer_code"] == "NEW-CODE"
    # Re-saving its own code is not a clash.
    r = await client.patch(url, json={"customer_code": "NEW-CODE", "name": "Jane"}, headers=h)
    assert r.status_code == 200
    assert other["id"] != c["id"]


async def test_delete_rules_and_body(client, rs):
    acme = await rs.tenant()
    c = await acme.customer(name="Gone Soon")
    loan = await acme.loan(c["id"])
    inter = await acme.interaction("field", loan["id"], role="admin")
    for role in ("collection_officer", "calling_agent", "field_officer"):
        r = await client.delete(f"/api/customers/{c['id']}/", headers=await acme.h(role))
        assert r.status_code in (403, 404), role
        assert set(r.json()) == {"error"}
    r = await client.delete(f"/api/customers/{c['id']}/", headers=await acme.h("manager"))
    assert r.status_code == 200
    assert r.json() == {"id": c["id"], "deleted": True}
    h = await acme.h()
    assert (await client.get(f"/api/customers/{c['id']}/", headers=h)).status_code == 404
    assert (await client.get(f"/api/loans/{loan['id']}/", headers=h)).status_code == 404
    assert (await client.get(f"/api/interactions/field/{inter['id']}/", headers=h)).status_code == 404
    assert (await client.delete(f"/api/customers/{c['id']}/", headers=h)).status_code == 404


async def test_read_only_members_cannot_write(client, rs):
    acme = await rs.tenant()
    c = await acme.customer()
    ro = await acme.h("admin", access="read")
    assert (await client.get("/api/customers/", headers=ro)).status_code == 200
    r = await client.post("/api/customers/", json={"name": "X"}, headers=ro)
    assert r.status_code == 403
    assert r.json() == {"error": "You have read-only access to this organisation"}
    for method in ("put", "patch"):
        r = await getattr(client, method)(f"/api/customers/{c['id']}/", json={"name": "Y"}, headers=ro)
        assert r.status_code == 403
    assert (await client.delete(f"/api/customers/{c['id']}/", headers=ro)).status_code == 403


async def test_tenant_isolation_on_every_customer_endpoint(client, rs):
    acme = await rs.tenant()
    other = await rs.tenant("Other Org")
    theirs = await other.customer(name="Not yours")
    h = await acme.h("admin")
    mine = await acme.customer(name="Mine")
    url = f"/api/customers/{theirs['id']}/"
    for method, kwargs in (("get", {}), ("put", {"json": {"name": "x"}}), ("patch", {"json": {"name": "x"}}),
                           ("delete", {})):
        r = await client.request(method.upper(), url, headers=h, **kwargs)
        assert r.status_code == 404, method
        assert r.json() == {"error": f"Customer {theirs['id']} not found."}
    r = await client.get(f"/api/customers/{theirs['id']}/timeline/", headers=h)
    assert r.status_code == 404
    r = await client.get("/api/customers/", headers=h)
    assert [c["id"] for c in r.json()] == [mine["id"]]
    # Still there, untouched, for its own organisation.
    r = await client.get(url, headers=await other.h())
    assert r.json() == theirs


async def test_integer_path_typing(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    for path in ("/api/customers/abc/", "/api/customers/1.5/", "/api/customers/-1/",
                 "/api/customers/1", "/api/customers/abc/timeline/"):
        r = await client.get(path, headers=h)
        assert r.status_code == 404, path
        assert set(r.json()) == {"error"}, path
    # Ids beyond a 32-bit integer are simply not found, never a database error.
    r = await client.get(f"/api/customers/{2**63}/", headers=h)
    assert r.status_code == 404
    assert r.json() == {"error": f"Customer {2**63} not found."}
    r = await client.get("/api/customers/999999/", headers=h)
    assert r.status_code == 404


async def test_auth_required_and_api_keys_refused(client, rs, world):
    acme = await rs.tenant()
    r = await client.get("/api/customers/")
    assert r.status_code == 401
    assert set(r.json()) == {"error"}
    _, raw = await world.api_key(acme.org.id, ["*"])
    r = await client.get("/api/customers/", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 401


async def test_events_record_before_and_after(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    c = await acme.customer(name="Evented")
    await client.patch(f"/api/customers/{c['id']}/", json={"city": "Pretoria"}, headers=h)
    await client.patch(f"/api/customers/{c['id']}/", json={"city": "Pretoria"}, headers=h)  # no change
    await client.delete(f"/api/customers/{c['id']}/", headers=h)
    async with transaction() as s:
        rows = list(await s.scalars(select(DomainEvent).where(DomainEvent.subject_type == "customer")
                                    .order_by(DomainEvent.id)))
    assert [e.type for e in rows] == ["customer.created", "customer.updated", "customer.deleted"]
    created, updated, deleted = rows
    assert created.after["name"] == "Evented" and created.org_id == acme.org.id
    assert updated.before["city"] is None and updated.after["city"] == "Pretoria"
    assert updated.data == {"changed": ["city"]}
    assert deleted.before["name"] == "Evented" and deleted.after is None
    assert created.actor.startswith("user:")


async def test_timeline_newest_first_with_registered_sources(client, rs):
    from arrears.customers import timeline as service
    from arrears.customers.schemas import TimelineEntry

    acme = await rs.tenant()
    c = await acme.customer(name="Tim Eline")
    loan = await acme.loan(c["id"], loan_date="2020-01-01")
    visit = await acme.interaction("field", loan["id"], disposition="promise_to_pay")
    call = await acme.interaction("calling", loan["id"], disposition="no_answer", next_call_date=None)

    calls = []

    async def messages(session, caller, customer):
        calls.append(customer.id)
        from datetime import UTC, datetime
        from decimal import Decimal

        return [TimelineEntry("message.sms", datetime(2019, 6, 1, 8, 30, tzinfo=UTC), "SMS sent",
                              {"amount": Decimal("12.5")})]

    service.register_timeline_source(messages)
    try:
        r = await client.get(f"/api/customers/{c['id']}/timeline/", headers=await acme.h("manager"))
    finally:
        service._timeline_sources.remove(messages)
    assert r.status_code == 200
    entries = r.json()
    assert calls == [c["id"]]
    assert [e["type"] for e in entries] == ["interaction.calling", "interaction.field", "customer",
                                           "loan", "message.sms"]
    times = [e["at"] for e in entries]
    assert times == sorted(times, reverse=True)
    assert all(t.endswith("Z") for t in times)
    assert entries[-1] == {"type": "message.sms", "at": "2019-06-01T08:30:00Z", "summary": "SMS sent",
                           "data": {"amount": "12.50"}}
    loan_entry = entries[3]
    assert loan_entry["data"]["principal_amount"] == "50000.00"
    assert loan_entry["data"]["loan_date"] == "2020-01-01"
    assert entries[1]["data"]["id"] == visit["id"] and entries[0]["data"]["id"] == call["id"]

    # The timeline shows a field officer their own visits only, not the agents' calls.
    r = await client.get(f"/api/customers/{c['id']}/timeline/", headers=await acme.h("field_officer"))
    assert [e["type"] for e in r.json()] == ["interaction.field", "customer", "loan"]


async def test_the_specs_put_example_keeps_the_customer_in_its_officers_view(client, rs):
    """Issue 20 §1: PUT {"name", "phone"} (the spec's update example) erased the officer."""
    acme = await rs.tenant()
    officer = await acme.member("collection_officer")
    c = await acme.customer(assigned_collection_officer=officer.id, email="jd@example.com",
                            address_line_1="1 Long St", city="Cape Town", date_of_birth="1985-02-03")
    r = await client.put(f"/api/customers/{c['id']}/", json={"name": "John Doe", "phone": "+27 82 765 4321"},
                         headers=await acme.h("manager"))
    assert r.status_code == 200, r.text
    assert r.json() == c | {"name": "John Doe", "phone": "+27 82 765 4321"}
    seen = await client.get("/api/customers/", headers=officer.headers)
    assert [x["id"] for x in seen.json()] == [c["id"]]


@pytest.mark.parametrize("method", ["post", "put"])
async def test_every_field_error_in_one_answer(client, rs, method):
    """Issue 20 §2: a missing name and a bad phone, e-mail and date of birth: one 400 naming all four
    (pydantic stopped at the first type errors before the domain's checks ran)."""
    acme = await rs.tenant()
    h = await acme.h("manager")
    body = {"phone": "not a phone", "email": "nobody-at-all", "date_of_birth": "31/31/1990",
            "assigned_collection_officer": "abc"}
    if method == "post":
        r = await client.post("/api/customers/", json=body, headers=h)
    else:
        c = await acme.customer("manager")
        r = await client.put(f"/api/customers/{c['id']}/", json=body, headers=h)
        assert (await client.get(f"/api/customers/{c['id']}/", headers=h)).json() == c  # nothing changed
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert set(errors) == {"name", "phone", "email", "date_of_birth", "assigned_collection_officer"}
    assert errors["name"] == ["This field is required."]
    assert errors["assigned_collection_officer"] == ["A valid integer is required."]
    assert all(isinstance(m, list) and m and all(isinstance(x, str) for x in m) for m in errors.values())
