"""RepaySync §6 loans end to end through HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from arrears.db import transaction
from arrears.events import DomainEvent

SPEC_FIELDS = {"id", "loan_account_number", "principal_amount", "interest_rate", "loan_type",
               "tenure_months", "loan_date", "customer"}
BODY = {"loan_account_number": "LN12345", "principal_amount": "50000.00", "interest_rate": "10.50",
        "loan_type": "personal", "tenure_months": 12, "loan_date": "2025-03-09"}


async def test_create_list_retrieve_shapes(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    c = await acme.customer()
    r = await client.post("/api/loans/", json=BODY | {"customer": c["id"]}, headers=h)
    assert r.status_code == 201, r.text
    loan = r.json()
    assert set(loan) == SPEC_FIELDS
    assert loan == BODY | {"customer": c["id"], "id": loan["id"]}
    second = await acme.loan(c["id"], loan_account_number="LN67890", principal_amount="75000",
                             interest_rate=11, loan_type="home", tenure_months=36, loan_date="2025-04-15")
    # Decimals come back as strings with two places, whatever form they went in.
    assert second["principal_amount"] == "75000.00" and second["interest_rate"] == "11.00"

    assert (await client.get(f"/api/loans/{loan['id']}/", headers=h)).json() == loan
    r = await client.get("/api/loans/", headers=h)
    assert r.status_code == 200 and r.json() == [loan, second]
    r = await client.get(f"/api/loans/customer/{c['id']}/", headers=h)
    assert r.status_code == 200 and r.json() == [loan, second]
    other_customer = await acme.customer(name="No Loans")
    assert (await client.get(f"/api/loans/customer/{other_customer['id']}/", headers=h)).json() == []


@pytest.mark.parametrize(("field", "value", "message"), [
    ("principal_amount", "0", "Ensure this value is greater than 0."),
    ("principal_amount", "-5", "Ensure this value is greater than 0."),
    ("principal_amount", "10.005", "Ensure that there are no more than 2 decimal places."),
    ("principal_amount", "1000000000000", "Ensure this value is less than or equal to 999999999999.99."),
    ("interest_rate", "-0.01", "Ensure this value is greater than or equal to 0."),
    ("interest_rate", "1000", "Ensure this value is less than or equal to 999.99."),
    ("tenure_months", 0, "Ensure this value is between 1 and 600."),
    ("loan_type", "  ", "This field may not be blank."),
    ("loan_account_number", "", "This field may not be blank."),
    ("loan_date", "09/03/2025", "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
])
async def test_field_validation(client, rs, field, value, message):
    acme = await rs.tenant()
    c = await acme.customer()
    r = await client.post("/api/loans/", json=BODY | {"customer": c["id"], field: value},
                          headers=await acme.h())
    assert r.status_code == 400
    assert r.json() == {"errors": {field: [message]}}


async def test_missing_fields_and_foreign_customer(client, rs):
    acme = await rs.tenant()
    other = await rs.tenant("Other Org")
    theirs = await other.customer()
    h = await acme.h()
    r = await client.post("/api/loans/", json={"loan_account_number": "X1"}, headers=h)
    assert r.status_code == 400
    assert set(r.json()["errors"]) == {"principal_amount", "interest_rate", "loan_type", "tenure_months",
                                       "loan_date", "customer"}
    assert r.json()["errors"]["customer"] == ["This field is required."]
    for bad in (theirs["id"], 424242, 2**40):
        r = await client.post("/api/loans/", json=BODY | {"customer": bad}, headers=h)
        assert r.status_code == 400
        assert r.json() == {"errors": {"customer": [f'Invalid pk "{bad}" - object does not exist.']}}


async def test_account_number_unique_per_org(client, rs):
    acme = await rs.tenant()
    c = await acme.customer()
    await acme.loan(c["id"], loan_account_number="LN1")
    r = await client.post("/api/loans/", json=BODY | {"customer": c["id"], "loan_account_number": "LN1"},
                          headers=await acme.h())
    assert r.status_code == 400
    assert r.json() == {"errors": {"loan_account_number": [
        "A loan with this loan account number already exists."]}}
    other = await rs.tenant("Other Org")
    oc = await other.customer()
    assert (await other.loan(oc["id"], loan_account_number="LN1"))["loan_account_number"] == "LN1"


async def test_put_and_patch(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    c1 = await acme.customer(name="One")
    c2 = await acme.customer(name="Two")
    loan = await acme.loan(c1["id"], loan_account_number="LN-A")
    url = f"/api/loans/{loan['id']}/"
    r = await client.patch(url, json={"principal_amount": "75000.00", "tenure_months": 24}, headers=h)
    assert r.status_code == 200
    assert r.json() == loan | {"principal_amount": "75000.00", "tenure_months": 24}
    # PUT needs every field.
    r = await client.put(url, json={"principal_amount": "1.00"}, headers=h)
    assert r.status_code == 400
    assert set(r.json()["errors"]) == {"loan_account_number", "interest_rate", "loan_type",
                                       "tenure_months", "loan_date", "customer"}
    full = BODY | {"loan_account_number": "LN-A", "customer": c2["id"], "interest_rate": "9.99"}
    r = await client.put(url, json=full, headers=h)
    assert r.status_code == 200
    assert r.json() == full | {"id": loan["id"]}
    r = await client.patch(url, json={"principal_amount": None}, headers=h)
    assert r.status_code == 400
    assert r.json() == {"errors": {"principal_amount": ["This field may not be null."]}}
    other = await acme.loan(c1["id"], loan_account_number="LN-B")
    r = await client.patch(f"/api/loans/{other['id']}/", json={"loan_account_number": "LN-A"}, headers=h)
    assert r.status_code == 400


async def test_delete_and_events(client, rs):
    acme = await rs.tenant()
    c = await acme.customer()
    loan = await acme.loan(c["id"])
    url = f"/api/loans/{loan['id']}/"
    await client.patch(url, json={"interest_rate": "12.25"}, headers=await acme.h())
    r = await client.delete(url, headers=await acme.h("calling_agent"))
    assert r.status_code == 403
    r = await client.delete(url, headers=await acme.h("admin"))
    assert r.status_code == 200
    assert r.json() == {"id": loan["id"], "deleted": True}
    assert (await client.get(url, headers=await acme.h())).status_code == 404
    async with transaction() as s:
        rows = list(await s.scalars(select(DomainEvent).where(DomainEvent.subject_type == "loan")
                                    .order_by(DomainEvent.id)))
    assert [e.type for e in rows] == ["loan.created", "loan.updated", "loan.deleted"]
    assert rows[1].before["interest_rate"] == "10.50" and rows[1].after["interest_rate"] == "12.25"


async def test_collection_officer_sees_loans_of_their_customers_only(client, rs):
    acme = await rs.tenant()
    o1 = await acme.member("collection_officer", "one")
    o2 = await acme.member("collection_officer", "two")
    mine = await acme.loan((await acme.customer(assigned_collection_officer=o1.id))["id"])
    c2 = await acme.customer(assigned_collection_officer=o2.id)
    theirs = await acme.loan(c2["id"])
    r = await client.get("/api/loans/", headers=o1.headers)
    assert [x["id"] for x in r.json()] == [mine["id"]]
    assert (await client.get(f"/api/loans/{theirs['id']}/", headers=o1.headers)).status_code == 404
    assert (await client.get(f"/api/loans/customer/{c2['id']}/", headers=o1.headers)).status_code == 404
    # Nor can they hang a loan on a customer that is not theirs.
    r = await client.post("/api/loans/", json=BODY | {"customer": c2["id"]}, headers=o1.headers)
    assert r.status_code == 400 and "customer" in r.json()["errors"]
    for role in ("calling_agent", "field_officer", "manager"):
        r = await client.get("/api/loans/", headers=await acme.h(role))
        assert {x["id"] for x in r.json()} == {mine["id"], theirs["id"]}, role


async def test_tenant_isolation_on_every_loan_endpoint(client, rs):
    acme = await rs.tenant()
    other = await rs.tenant("Other Org")
    oc = await other.customer()
    theirs = await other.loan(oc["id"])
    mine = await acme.loan((await acme.customer())["id"])
    h = await acme.h()
    url = f"/api/loans/{theirs['id']}/"
    for method, kwargs in (("GET", {}), ("PUT", {"json": BODY | {"customer": 1}}),
                           ("PATCH", {"json": {"tenure_months": 1}}), ("DELETE", {})):
        r = await client.request(method, url, headers=h, **kwargs)
        assert r.status_code == 404, method
        assert r.json() == {"error": f"Loan {theirs['id']} not found."}
    r = await client.get(f"/api/loans/customer/{oc['id']}/", headers=h)
    assert r.status_code == 404
    assert [x["id"] for x in (await client.get("/api/loans/", headers=h)).json()] == [mine["id"]]
    assert (await client.get(url, headers=await other.h())).json() == theirs


async def test_integer_path_typing(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    for path in ("/api/loans/abc/", "/api/loans/customer/abc/", "/api/loans/customer/", "/api/loans/1"):
        r = await client.get(path, headers=h)
        assert r.status_code == 404, path
        assert set(r.json()) == {"error"}
    assert (await client.get(f"/api/loans/{2**63}/", headers=h)).status_code == 404
