"""Agents' pages: customers, loans, interactions, the work queue and the timeline."""

from __future__ import annotations

from datetime import date, timedelta

from arrears.db import transaction


async def _customer_with_loan(world, org_id, *, officer_id=None, name="Thandi Mokoena"):
    from arrears.customers import loans as customer_loans
    from arrears.customers import service as customers
    from arrears.identity import service as identity

    async with transaction() as s:
        admin = await world_admin(s, org_id)
        caller = await identity.caller_for_user(s, admin.id, org_id)
        c = await customers.create_customer(s, caller, {"name": name, "phone": "082 123 4567",
                                                        "assigned_collection_officer_id": officer_id})
        loan = await customer_loans.create_loan(s, caller, {
            "customer_id": c.id, "loan_account_number": f"LN-{c.id}", "principal_amount": "50000",
            "interest_rate": "10.5", "loan_type": "personal", "tenure_months": 12,
            "loan_date": "2025-01-15"})
        return c.id, loan.id


async def world_admin(s, org_id):
    from sqlalchemy import select

    from arrears.identity.models import Membership, User

    user = await s.scalar(select(User).join(Membership, Membership.user_id == User.id)
                          .where(Membership.org_id == org_id, User.role == "admin").limit(1))
    if user is None:
        from arrears.identity import service as identity
        from arrears.identity.caller import Caller

        user = await identity.create_user(s, Caller.system(org_id), username=f"admin{org_id}",
                                          password="Sup3r-secret-pw", role="admin")
    return user


async def test_customers_list_search_create_and_detail(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="manager")
    r = await ui.get("/app/customers")
    assert r.status_code == 200 and "No customers yet." in r.text and "Add a customer" in r.text
    r = await ui.get("/app/customers/new")
    assert r.status_code == 200
    r = await ui.post("/app/customers", {"name": "", "phone": "not a phone"})
    assert r.status_code == 400
    assert 'id="name-error"' in r.text and 'id="phone-error"' in r.text  # errors beside the fields
    r = await ui.post("/app/customers", {"name": "Thandi Mokoena", "phone": "082 123 4567",
                                         "email": "thandi@example.com"})
    assert r.status_code == 303
    detail = r.headers["location"]
    r = await ui.get(detail)
    assert r.status_code == 200 and "Thandi Mokoena" in r.text and "Customer" in r.text
    assert "Timeline" in r.text
    r = await ui.get("/app/customers?search=thandi")
    assert "Thandi Mokoena" in r.text
    r = await ui.get("/app/customers?search=nobody-here")
    assert "No customer matches" in r.text
    # htmx search returns the page; the client selects the rows region.
    r = await ui.c.get("/app/customers?search=thandi", headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'id="customer-rows"' in r.text


async def test_customer_list_is_paged_on_the_server(people, world):
    from arrears.customers.models import Customer

    org = await world.org()
    ui, _ = await people(org.id)
    async with transaction() as s:
        for i in range(30):
            s.add(Customer(org_id=org.id, customer_code=f"C{i:03d}", name=f"Customer {i:03d}"))
    r = await ui.get("/app/customers")
    assert "1–25 of 30" in r.text and "Customer 024" in r.text and "Customer 025" not in r.text
    r = await ui.get("/app/customers?page=2")
    assert "26–30 of 30" in r.text and "Customer 029" in r.text
    r = await ui.get("/app/customers?sort=name&dir=desc")
    assert r.text.index("Customer 029") < r.text.index("Customer 010")


async def test_loan_and_interaction_from_the_loan_page(people, world):
    org = await world.org()
    ui, _ = await people(org.id, role="admin")
    customer_id, _ = await _customer_with_loan(world, org.id)
    r = await ui.get(f"/app/loans/new?customer={customer_id}")
    assert r.status_code == 200
    r = await ui.post("/app/loans", {"customer_id": str(customer_id), "loan_account_number": "",
                                     "principal_amount": "-5", "interest_rate": "x", "loan_type": "home",
                                     "tenure_months": "0", "loan_date": "2025-02-01"})
    assert r.status_code == 400
    assert 'id="principal_amount-error"' in r.text and 'id="tenure_months-error"' in r.text
    r = await ui.post("/app/loans", {"customer_id": str(customer_id), "loan_account_number": "HL-1",
                                     "principal_amount": "750000", "interest_rate": "11", "loan_type": "home",
                                     "tenure_months": "240", "loan_date": "2025-02-01"})
    assert r.status_code == 303
    loan_page = r.headers["location"]
    r = await ui.get(loan_page)
    assert "Record a call or visit" in r.text and "R\u00a0750\u00a0000.00" in r.text
    loan_id = loan_page.rsplit("/", 1)[1]
    r = await ui.post(f"/app/loans/{loan_id}/interactions", {"interaction_type": "calling",
                                                              "disposition": "", "comment": "x"})
    assert r.status_code == 400 and "Choose what happened." in r.text
    r = await ui.post(f"/app/loans/{loan_id}/interactions", {"interaction_type": "calling",
                                                              "disposition": "promise_to_pay",
                                                              "next_call_date": "2030-01-01",
                                                              "comment": "Will pay on the 1st"})
    assert r.status_code == 303
    r = await ui.get(loan_page)
    assert "Promise to pay" in r.text and "Will pay on the 1st" in r.text
    r = await ui.get(f"/app/customers/{customer_id}")
    assert "Call on loan HL-1: promise to pay" in r.text  # the customer timeline


async def test_work_queue_records_a_disposition_with_htmx(people, world):
    from arrears.customers import interactions as customer_interactions
    from arrears.identity import service as identity

    org = await world.org()
    ui, agent = await people(org.id, role="calling_agent")
    _, loan_id = await _customer_with_loan(world, org.id)
    async with transaction() as s:
        caller = await identity.caller_for_user(s, agent.id, org.id)
        await customer_interactions.create_interaction(s, caller, "calling", {
            "loan_id": loan_id, "disposition": "no_answer",
            "next_call_date": (date.today() - timedelta(days=1)).isoformat()})
    r = await ui.get("/app/queue")
    assert r.status_code == 200 and "Thandi Mokoena" in r.text and "(overdue)" in r.text
    assert 'hx-post="/app/queue/' in r.text
    assert "Kind" not in r.text  # a calling agent records calls only: no choice offered
    r = await ui.htmx_post(f"/app/queue/{loan_id}", {"interaction_type": "calling", "disposition": "bogus"})
    assert r.status_code == 400 and "is not a valid choice" in r.text
    nxt = (date.today() + timedelta(days=7)).isoformat()
    r = await ui.htmx_post(f"/app/queue/{loan_id}", {"interaction_type": "calling",
                                                     "disposition": "promise_to_pay", "next_call_date": nxt})
    assert r.status_code == 200 and "Recorded: Call — Promise to pay" in r.text
    r = await ui.get("/app/queue")
    assert "Nothing is due today." in r.text
    # A calling agent may not record visits: the service refuses, whatever the form says.
    r = await ui.htmx_post(f"/app/queue/{loan_id}", {"interaction_type": "field", "disposition": "visited"})
    assert r.status_code == 403


async def test_read_only_member_sees_no_buttons_and_is_refused(people, world):
    org = await world.org()
    customer_id, loan_id = await _customer_with_loan(world, org.id)
    ui, _ = await people(org.id, role="manager", access="read")
    r = await ui.get("/app/customers")
    assert "Add a customer" not in r.text
    r = await ui.get(f"/app/customers/{customer_id}")
    assert "Edit" not in r.text and "Delete customer" not in r.text and "Add a loan" not in r.text
    r = await ui.get(f"/app/loans/{loan_id}")
    assert "read-only access" in r.text and "<button type=\"submit\">Record</button>" not in r.text
    r = await ui.post("/app/customers", {"name": "Sneaky"})
    assert r.status_code == 403
    r = await ui.post(f"/app/loans/{loan_id}/interactions", {"interaction_type": "calling",
                                                              "disposition": "called"})
    assert r.status_code == 403
    r = await ui.get("/app/customers/new")
    assert r.status_code == 403


async def test_collection_officer_sees_only_assigned_customers(people, world):
    org = await world.org()
    ui, officer = await people(org.id, role="collection_officer")
    mine, _ = await _customer_with_loan(world, org.id, officer_id=officer.id, name="Mine Mkhize")
    theirs, _ = await _customer_with_loan(world, org.id, name="Not Mine")
    r = await ui.get("/app/customers")
    assert "Mine Mkhize" in r.text and "Not Mine" not in r.text
    assert (await ui.get(f"/app/customers/{mine}")).status_code == 200
    assert (await ui.get(f"/app/customers/{theirs}")).status_code == 404


async def test_other_organisations_ids_are_404(people, world):
    org = await world.org()
    other = await world.org("Other")
    customer_id, loan_id = await _customer_with_loan(world, other.id)
    ui, _ = await people(org.id, role="admin")
    for path in (f"/app/customers/{customer_id}", f"/app/customers/{customer_id}/edit",
                 f"/app/loans/{loan_id}", f"/app/loans/new?customer={customer_id}"):
        r = await ui.get(path)
        assert r.status_code == 404, path
        assert "text/html" in r.headers["content-type"]
    r = await ui.post(f"/app/customers/{customer_id}", {"name": "Hijack"})
    assert r.status_code == 404
    r = await ui.post(f"/app/customers/{customer_id}/delete")
    assert r.status_code == 404
    r = await ui.htmx_post(f"/app/queue/{loan_id}", {"disposition": "called"})
    assert r.status_code == 404
    r = await ui.post(f"/app/loans/{loan_id}/interactions", {"disposition": "called"})
    assert r.status_code == 404


async def test_edit_and_delete_customer(people, world):
    org = await world.org()
    customer_id, _ = await _customer_with_loan(world, org.id)
    ui, _ = await people(org.id, role="manager")
    r = await ui.get(f"/app/customers/{customer_id}/edit")
    assert r.status_code == 200 and 'value="Thandi Mokoena"' in r.text
    r = await ui.post(f"/app/customers/{customer_id}", {"name": "Thandi M.", "phone": "082 123 4567"})
    assert r.status_code == 303
    r = await ui.get(f"/app/customers/{customer_id}")
    assert "Thandi M." in r.text
    r = await ui.post(f"/app/customers/{customer_id}/delete")
    assert r.status_code == 303
    assert (await ui.get(f"/app/customers/{customer_id}")).status_code == 404
