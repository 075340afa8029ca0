"""RepaySync §7 interactions (field and calling) and the due work queue, through HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from arrears.customers.interactions import CALLING_DISPOSITIONS, FIELD_DISPOSITIONS
from arrears.customers.models import Interaction
from arrears.db import transaction, utcnow
from arrears.events import DomainEvent

SPEC_FIELDS = {"id", "loan", "comment", "disposition", "timestamp", "next_call_date", "created_by",
               "interaction_type"}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.mark.parametrize(("kind", "role", "disposition"), [("field", "field_officer", "visited"),
                                                           ("calling", "calling_agent", "called")])
async def test_create_shape_retrieve_and_list(client, rs, kind, role, disposition):
    acme = await rs.tenant()
    loan = await acme.loan((await acme.customer())["id"])
    me = await acme.member(role)
    body = {"loan": loan["id"], "comment": "Visited customer; discussed repayment plan.",
            "disposition": disposition, "next_call_date": "2025-03-15",
            # the server's fields are ignored when sent
            "timestamp": "2000-01-01T00:00:00Z", "created_by": 999, "interaction_type": "other"}
    before = utcnow()
    r = await client.post(f"/api/interactions/{kind}/create/", json=body, headers=me.headers)
    assert r.status_code == 201, r.text
    got = r.json()
    assert set(got) == SPEC_FIELDS
    assert got["loan"] == loan["id"] and got["comment"] == body["comment"]
    assert got["disposition"] == disposition and got["next_call_date"] == "2025-03-15"
    assert got["created_by"] == me.id and got["interaction_type"] == kind
    assert ISO_Z.match(got["timestamp"])
    from datetime import datetime

    stamp = datetime.fromisoformat(got["timestamp"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= stamp <= utcnow()

    r = await client.get(f"/api/interactions/{kind}/{got['id']}/", headers=me.headers)
    assert r.status_code == 200 and r.json() == got
    r = await client.get(f"/api/interactions/{kind}/loan/{loan['id']}/", headers=me.headers)
    assert r.status_code == 200 and r.json() == [got]
    # The other type's endpoints do not know this id.
    other = "calling" if kind == "field" else "field"
    r = await client.get(f"/api/interactions/{other}/{got['id']}/", headers=await acme.h("admin"))
    assert r.status_code == 404
    r = await client.get(f"/api/interactions/{other}/loan/{loan['id']}/", headers=await acme.h("admin"))
    assert r.json() == []


async def test_dispositions_per_type(client, rs):
    acme = await rs.tenant()
    loan = await acme.loan((await acme.customer())["id"])
    h = await acme.h("manager")
    for d in FIELD_DISPOSITIONS:
        r = await client.post("/api/interactions/field/create/", json={"loan": loan["id"], "disposition": d},
                              headers=h)
        assert r.status_code == 201, d
    for d in CALLING_DISPOSITIONS:
        r = await client.post("/api/interactions/calling/create/",
                              json={"loan": loan["id"], "disposition": d}, headers=h)
        assert r.status_code == 201, d
    # Spelling is forgiven ("Promise to pay"), other types' dispositions are not.
    r = await client.post("/api/interactions/field/create/",
                          json={"loan": loan["id"], "disposition": "Promise to pay"}, headers=h)
    assert r.status_code == 201 and r.json()["disposition"] == "promise_to_pay"
    r = await client.post("/api/interactions/field/create/", json={"loan": loan["id"], "disposition": "called"},
                          headers=h)
    assert r.status_code == 400
    msg = r.json()["errors"]["disposition"][0]
    assert msg.startswith('"called" is not a valid choice for a field interaction.')
    r = await client.post("/api/interactions/calling/create/", json={"loan": loan["id"], "disposition": "moved"},
                          headers=h)
    assert r.status_code == 400


async def test_required_fields_and_dates(client, rs):
    acme = await rs.tenant()
    loan = await acme.loan((await acme.customer())["id"])
    h = await acme.h("field_officer")
    r = await client.post("/api/interactions/field/create/", json={}, headers=h)
    assert r.status_code == 400
    assert r.json() == {"errors": {"loan": ["This field is required."],
                                   "disposition": ["This field is required."]}}
    r = await client.post("/api/interactions/field/create/",
                          json={"loan": loan["id"], "disposition": "visited", "next_call_date": "15/03/2025"},
                          headers=h)
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["next_call_date"]
    r = await client.post("/api/interactions/field/create/",
                          json={"loan": loan["id"], "disposition": "visited", "next_call_date": None},
                          headers=h)
    assert r.status_code == 201
    assert r.json()["next_call_date"] is None and r.json()["comment"] == ""


async def test_roles_that_may_record_each_type(client, rs):
    acme = await rs.tenant()
    officer = await acme.member("collection_officer")
    loan = await acme.loan((await acme.customer(assigned_collection_officer=officer.id))["id"])
    for kind, refused in (("field", "calling_agent"), ("calling", "field_officer")):
        r = await client.post(f"/api/interactions/{kind}/create/",
                              json={"loan": loan["id"], "disposition": "paid"}, headers=await acme.h(refused))
        assert r.status_code == 403, (kind, refused)
        assert r.json() == {"error": f"Your role ({refused}) cannot record {kind} interactions."}
        for role in ("admin", "manager", "collection_officer"):
            r = await client.post(f"/api/interactions/{kind}/create/",
                                  json={"loan": loan["id"], "disposition": "paid"}, headers=await acme.h(role))
            assert r.status_code == 201, (kind, role)


async def test_visibility_per_role(client, rs):
    acme = await rs.tenant()
    o1 = await acme.member("collection_officer", "one")
    o2 = await acme.member("collection_officer", "two")
    loan1 = await acme.loan((await acme.customer(assigned_collection_officer=o1.id))["id"])
    loan2 = await acme.loan((await acme.customer(assigned_collection_officer=o2.id))["id"])
    f_a = await acme.interaction("field", loan1["id"], key="a")
    f_b = await acme.interaction("field", loan1["id"], key="b")
    c_a = await acme.interaction("calling", loan1["id"], key="a")
    c_b = await acme.interaction("calling", loan2["id"], key="b")

    async def ids(kind, loan_id, headers):
        r = await client.get(f"/api/interactions/{kind}/loan/{loan_id}/", headers=headers)
        assert r.status_code == 200
        return [x["id"] for x in r.json()]

    fo_a = await acme.h("field_officer", "a")
    ca_a = await acme.h("calling_agent", "a")
    assert await ids("field", loan1["id"], fo_a) == [f_a["id"]]
    assert await ids("calling", loan1["id"], fo_a) == []
    assert await ids("calling", loan1["id"], ca_a) == [c_a["id"]]
    assert await ids("calling", loan2["id"], ca_a) == []
    assert await ids("field", loan1["id"], o1.headers) == [f_a["id"], f_b["id"]]
    assert await ids("calling", loan1["id"], o1.headers) == [c_a["id"]]
    for role in ("admin", "manager"):
        h = await acme.h(role)
        assert await ids("field", loan1["id"], h) == [f_a["id"], f_b["id"]]
        assert await ids("calling", loan2["id"], h) == [c_b["id"]]
    # Someone else's visit is not found for a field officer; another officer's loan is not found.
    r = await client.get(f"/api/interactions/field/{f_b['id']}/", headers=fo_a)
    assert r.status_code == 404
    r = await client.get(f"/api/interactions/calling/loan/{loan2['id']}/", headers=o1.headers)
    assert r.status_code == 404
    r = await client.get(f"/api/interactions/calling/{c_b['id']}/", headers=o1.headers)
    assert r.status_code == 404


async def test_put_patch_delete(client, rs):
    acme = await rs.tenant()
    c = await acme.customer()
    loan = await acme.loan(c["id"])
    loan2 = await acme.loan(c["id"])
    mine = await acme.interaction("field", loan["id"], comment="first", next_call_date="2025-04-01")
    me = await acme.h("field_officer")
    url = f"/api/interactions/field/{mine['id']}/"

    r = await client.patch(url, json={"comment": "second"}, headers=me)
    assert r.status_code == 200
    assert r.json() == mine | {"comment": "second"}
    # PUT needs loan and disposition and changes only what it is sent (issue 20): comment and
    # next_call_date, not sent, are kept.
    r = await client.put(url, json={"comment": "x"}, headers=me)
    assert r.status_code == 400
    assert set(r.json()["errors"]) == {"loan", "disposition"}
    r = await client.put(url, json={"loan": loan2["id"], "disposition": "not_home"}, headers=me)
    assert r.status_code == 200
    assert r.json() == mine | {"loan": loan2["id"], "disposition": "not_home", "comment": "second"}
    r = await client.patch(url, json={"loan": 999999}, headers=me)
    assert r.status_code == 400
    assert r.json() == {"errors": {"loan": ['Invalid pk "999999" - object does not exist.']}}

    # A collection officer who can see it may not change someone else's record.
    officer = await acme.member("collection_officer")
    await client.patch(f"/api/customers/{c['id']}/", json={"assigned_collection_officer": officer.id},
                       headers=await acme.h())
    assert (await client.get(url, headers=officer.headers)).status_code == 200
    r = await client.patch(url, json={"comment": "mine now"}, headers=officer.headers)
    assert r.status_code == 403
    r = await client.delete(url, headers=officer.headers)
    assert r.status_code == 403

    r = await client.delete(url, headers=me)
    assert r.status_code == 200
    assert r.json() == {"id": mine["id"], "deleted": True}
    assert (await client.get(url, headers=me)).status_code == 404

    async with transaction() as s:
        types = list(await s.scalars(select(DomainEvent.type).where(DomainEvent.subject_type == "interaction")
                                     .order_by(DomainEvent.id)))
    assert types == ["interaction.created", "interaction.updated", "interaction.updated",
                     "interaction.deleted"]


async def test_tenant_isolation_on_every_interaction_endpoint(client, rs):
    acme = await rs.tenant()
    other = await rs.tenant("Other Org")
    their_loan = await other.loan((await other.customer())["id"])
    theirs = {k: await other.interaction(k, their_loan["id"], role="admin") for k in ("field", "calling")}
    my_loan = await acme.loan((await acme.customer())["id"])
    h = await acme.h("admin")
    for kind, row in theirs.items():
        url = f"/api/interactions/{kind}/{row['id']}/"
        for method, kwargs in (("GET", {}), ("PUT", {"json": {"loan": my_loan["id"], "disposition": "paid"}}),
                               ("PATCH", {"json": {"comment": "x"}}), ("DELETE", {})):
            r = await client.request(method, url, headers=h, **kwargs)
            assert r.status_code == 404, (kind, method)
            assert set(r.json()) == {"error"}
        r = await client.get(f"/api/interactions/{kind}/loan/{their_loan['id']}/", headers=h)
        assert r.status_code == 404
        r = await client.post(f"/api/interactions/{kind}/create/",
                              json={"loan": their_loan["id"], "disposition": "paid"}, headers=h)
        assert r.status_code == 400
        assert r.json() == {"errors": {"loan": [f'Invalid pk "{their_loan["id"]}" - object does not exist.']}}
    # Their work queue items never show up in ours.
    r = await client.get("/api/interactions/due/?date=2030-01-01", headers=h)
    assert r.json() == []
    r = await client.get(f"/api/interactions/field/{theirs['field']['id']}/", headers=await other.h())
    assert r.json() == theirs["field"]


async def test_integer_path_typing(client, rs):
    acme = await rs.tenant()
    h = await acme.h()
    for path in ("/api/interactions/field/abc/", "/api/interactions/calling/loan/x/",
                 "/api/interactions/other/1/", "/api/interactions/field/create/1/"):
        r = await client.get(path, headers=h)
        assert r.status_code == 404, path
        assert set(r.json()) == {"error"}
    r = await client.get("/api/interactions/field/create/", headers=h)
    assert r.status_code == 405
    assert (await client.get(f"/api/interactions/field/{2**63}/", headers=h)).status_code == 404


async def _set_timestamp(interaction_id: int, minutes_ago: int) -> None:
    async with transaction() as s:
        await s.execute(update(Interaction).where(Interaction.id == interaction_id)
                        .values(timestamp=utcnow() - timedelta(minutes=minutes_ago)))


async def test_due_queue(client, rs):
    acme = await rs.tenant()
    o1 = await acme.member("collection_officer")
    c1 = await acme.customer(name="Ann", assigned_collection_officer=o1.id)
    c2 = await acme.customer(name="Ben")
    l1 = await acme.loan(c1["id"], loan_account_number="L1")
    l2 = await acme.loan(c2["id"], loan_account_number="L2")
    l3 = await acme.loan(c2["id"], loan_account_number="L3")
    l4 = await acme.loan(c2["id"], loan_account_number="L4")
    # l1: an old call due long ago, superseded by a newer call due later -> only the newer counts
    old = await acme.interaction("calling", l1["id"], next_call_date="2025-01-01")
    new = await acme.interaction("calling", l1["id"], next_call_date="2025-03-10")
    await _set_timestamp(old["id"], 60)
    # l2: a field visit due 2025-03-05 (the oldest), by the field officer
    visit = await acme.interaction("field", l2["id"], next_call_date="2025-03-05")
    # l3: due after the date asked for
    await acme.interaction("calling", l3["id"], next_call_date="2025-03-20")
    # l4: the latest interaction has no follow-up (paid): nothing due
    due_then_paid = await acme.interaction("calling", l4["id"], next_call_date="2025-02-01")
    await _set_timestamp(due_then_paid["id"], 30)
    await acme.interaction("calling", l4["id"], disposition="paid", next_call_date=None)

    r = await client.get("/api/interactions/due/?date=2025-03-15", headers=await acme.h("manager"))
    assert r.status_code == 200
    queue = r.json()
    assert [q["id"] for q in queue] == [visit["id"], new["id"]]
    assert queue[1] == new | {"customer": c1["id"], "customer_name": "Ann", "loan_account_number": "L1"}

    # Each role sees its own slice: agents their calls, field officers their visits, officers their customers.
    async def due(headers, day="2025-03-15"):
        r = await client.get(f"/api/interactions/due/?date={day}", headers=headers)
        assert r.status_code == 200
        return [q["id"] for q in r.json()]

    assert await due(await acme.h("calling_agent")) == [new["id"]]
    assert await due(await acme.h("field_officer")) == [visit["id"]]
    assert await due(o1.headers) == [new["id"]]
    assert await due(await acme.h("manager"), "2025-03-09") == [visit["id"]]
    # By default: today (UTC), so everything due in the past shows.
    r = await client.get("/api/interactions/due/", headers=await acme.h("admin"))
    assert len(r.json()) == 3
    r = await client.get("/api/interactions/due/?date=15-03-2025", headers=await acme.h("admin"))
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["date"]
