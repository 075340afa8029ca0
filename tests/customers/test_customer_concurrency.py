"""Concurrent requests on customers, loans and interactions: a concurrent duplicate gets what a
sequential duplicate gets (the spec's error body, never a 500), and nothing is lost or doubled.

On SQLite writers queue, so these races only show on PostgreSQL (TEST_DATABASE_URL); on SQLite
they check that the same answers come back when the requests are serialised."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from arrears.customers import service
from arrears.customers.models import Customer, Interaction, Loan
from arrears.customers.schemas import CustomerSeed
from arrears.db import transaction
from arrears.events import DomainEvent as Event
from arrears.identity.caller import Caller
from tests.rows import count_rows

CODE_TAKEN = "A customer with this customer code already exists."
NUMBER_TAKEN = "A loan with this loan account number already exists."




async def _admin(world: Any, client: httpx.AsyncClient) -> tuple[Any, dict[str, str]]:
    org = await world.org("Race Lending")
    return org, await world.login_headers(client, org.id, role="admin")


_count = count_rows


async def _events(org_id: int, type_: str) -> int:
    return await _count(Event, Event.org_id == org_id, Event.type == type_)


def _colliding_codes(monkeypatch: pytest.MonkeyPatch, first: list[str]) -> None:
    """The code generator gives each of `first` twice (as two racing requests both would, were
    the random codes to collide), then fresh codes. (Serialised requests see the first one's
    code as taken and draw the next.)"""
    seq = iter([c for c in first for _ in range(2)])
    counter = itertools.count()
    monkeypatch.setattr(service, "new_code", lambda: next(seq, None) or f"GEN{next(counter):05d}")


def _csv(rows: list[list[str]]) -> bytes:
    return ("\r\n".join(",".join(r) for r in rows) + "\r\n").encode()


async def _upload(client: httpx.AsyncClient, path: str, content: bytes, headers: dict[str, str]
                  ) -> httpx.Response:
    return await client.post(path, files={"file": ("upload.csv", content, "text/csv")}, headers=headers)


# ------------------------------------------------------------------ customers


async def test_concurrent_creates_of_one_customer_code_make_one_customer(world, client):
    org, h = await _admin(world, client)
    body = {"customer_code": "C-001", "name": "John Doe", "phone": "+27 82 123 4567"}
    answers = await asyncio.gather(*(client.post("/api/customers/", json=body, headers=h) for _ in range(5)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201, 400, 400, 400, 400], [r.text for r in answers]
    for r in answers:
        if r.status_code == 400:
            assert r.json() == {"errors": {"customer_code": [CODE_TAKEN]}}
    assert await _count(Customer, Customer.org_id == org.id) == 1
    assert await _events(org.id, "customer.created") == 1


async def test_concurrent_creates_without_a_code_never_fail_on_a_generated_code(world, client, monkeypatch):
    org, h = await _admin(world, client)
    _colliding_codes(monkeypatch, [f"SAMECODE{n}" for n in range(4)])
    codes: set[str] = set()
    for n in range(4):
        answers = await asyncio.gather(*(client.post("/api/customers/", json={"name": f"Person {i}"},
                                                     headers=h) for i in range(2)))
        assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
        codes |= {r.json()["customer_code"] for r in answers}
        assert len(codes) == 2 * (n + 1)
    assert len(codes) == 8
    assert await _count(Customer, Customer.org_id == org.id) == 8


async def test_concurrent_updates_to_one_new_code_keep_codes_unique(world, client):
    org, h = await _admin(world, client)
    ids = [(await client.post("/api/customers/", json={"name": f"P{i}", "customer_code": f"X{i}"},
                              headers=h)).json()["id"] for i in range(3)]
    answers = await asyncio.gather(*(client.patch(f"/api/customers/{i}/", json={"customer_code": "NEW"},
                                                  headers=h) for i in ids))
    assert sorted(r.status_code for r in answers) == [200, 400, 400], [r.text for r in answers]
    assert all(r.json() == {"errors": {"customer_code": [CODE_TAKEN]}} for r in answers if r.status_code == 400)
    assert await _count(Customer, Customer.org_id == org.id, Customer.customer_code == "NEW") == 1


async def test_concurrent_uploads_of_one_file_create_each_customer_once(world, client):
    """The second of two uploads of one file reports each row as a duplicate, as it would had it
    come after the first; never a 409 or 500 that loses the rows."""
    org, h = await _admin(world, client)
    for batch in range(3):
        rows = [["customer_code", "name", "phone"]] + [[f"B{batch}-{n:03d}", f"Person {n}", ""]
                                                       for n in range(30)]
        content = _csv(rows)
        answers = await asyncio.gather(*(_upload(client, "/api/customers/bulk/upload/", content, h)
                                         for _ in range(3)))
        assert [r.status_code for r in answers] == [201, 201, 201], [r.text for r in answers]
        bodies = [r.json() for r in answers]
        assert sum(b["records_created"] for b in bodies) == 30
        for b in bodies:
            # Every row of the file was either created by this upload or reported as taken.
            assert b["records_created"] + len(b["errors"]) == 30
            assert all(e["errors"] == {"customer_code": [CODE_TAKEN]} for e in b["errors"])
    assert await _count(Customer, Customer.org_id == org.id) == 90


async def test_concurrent_uploads_without_codes_never_fail_on_a_generated_code(world, client, monkeypatch):
    org, h = await _admin(world, client)
    _colliding_codes(monkeypatch, ["SAME0001", "SAME0002"])
    content = _csv([["name"], ["Ann"], ["Ben"]])
    answers = await asyncio.gather(*(_upload(client, "/api/customers/bulk/upload/", content, h)
                                     for _ in range(2)))
    assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
    assert [r.json() for r in answers] == [{"records_created": 2, "errors": []}] * 2
    async with transaction() as s:
        codes = list(await s.scalars(select(Customer.customer_code).where(Customer.org_id == org.id)))
    assert len(codes) == 4 and len(set(codes)) == 4


async def test_concurrent_get_or_create_makes_each_customer_once(world):
    """Two debtor-book imports naming the same new customers at once: both get the same ids."""
    org = await world.org()
    seeds = [CustomerSeed(f"D{n:03d}", f"Debtor {n}", None, None, None) for n in range(20)]

    async def run(order: list[CustomerSeed]) -> dict[str, int]:
        async with transaction() as s:
            return await service.get_or_create_many(s, Caller.system(org.id), order)

    first, second, third = await asyncio.gather(run(seeds), run(seeds[::-1]), run(seeds[5:15]))
    assert first == second
    assert third == {k: v for k, v in first.items() if k in third} and len(third) == 10
    assert await _count(Customer, Customer.org_id == org.id) == 20


async def test_concurrent_deletes_of_one_customer_delete_it_once(world, client):
    org, h = await _admin(world, client)
    for attempt in range(3):
        cid = (await client.post("/api/customers/", json={"name": f"Gone {attempt}"}, headers=h)).json()["id"]
        answers = await asyncio.gather(*(client.delete(f"/api/customers/{cid}/", headers=h) for _ in range(3)))
        assert sorted(r.status_code for r in answers) == [200, 404, 404], [r.text for r in answers]
    assert await _events(org.id, "customer.deleted") == 3
    assert await _count(Customer, Customer.org_id == org.id) == 0


async def test_concurrent_update_and_delete_of_a_customer_never_500(world, client):
    _org, h = await _admin(world, client)
    for attempt in range(8):
        cid = (await client.post("/api/customers/", json={"name": f"Gone {attempt}"}, headers=h)).json()["id"]
        patch, delete = await asyncio.gather(
            client.patch(f"/api/customers/{cid}/", json={"name": "Renamed"}, headers=h),
            client.delete(f"/api/customers/{cid}/", headers=h))
        assert delete.status_code == 200, delete.text
        assert patch.status_code in (200, 404), patch.text


# ------------------------------------------------------------------ loans


async def _customer(client: httpx.AsyncClient, h: dict[str, str], name: str = "John Doe") -> int:
    r = await client.post("/api/customers/", json={"name": name}, headers=h)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _loan_body(customer_id: int, number: str) -> dict[str, Any]:
    return {"loan_account_number": number, "principal_amount": "50000.00", "interest_rate": "10.50",
            "loan_type": "personal", "tenure_months": 12, "loan_date": "2025-03-09", "customer": customer_id}


async def test_concurrent_creates_of_one_loan_number_make_one_loan(world, client):
    org, h = await _admin(world, client)
    cid = await _customer(client, h)
    answers = await asyncio.gather(*(client.post("/api/loans/", json=_loan_body(cid, "LN-1"), headers=h)
                                     for _ in range(4)))
    assert sorted(r.status_code for r in answers) == [201, 400, 400, 400], [r.text for r in answers]
    assert all(r.json() == {"errors": {"loan_account_number": [NUMBER_TAKEN]}}
               for r in answers if r.status_code == 400)
    assert await _count(Loan, Loan.org_id == org.id) == 1
    assert await _events(org.id, "loan.created") == 1


async def test_concurrent_patches_of_one_loan_keep_both_fields(world, client):
    _org, h = await _admin(world, client)
    cid = await _customer(client, h)
    loan = (await client.post("/api/loans/", json=_loan_body(cid, "LN-2"), headers=h)).json()
    a, b = await asyncio.gather(
        client.patch(f"/api/loans/{loan['id']}/", json={"interest_rate": "12.00"}, headers=h),
        client.patch(f"/api/loans/{loan['id']}/", json={"tenure_months": 24}, headers=h))
    assert (a.status_code, b.status_code) == (200, 200), (a.text, b.text)
    got = (await client.get(f"/api/loans/{loan['id']}/", headers=h)).json()
    assert got["interest_rate"] == "12.00" and got["tenure_months"] == 24
    assert got["principal_amount"] == "50000.00"


async def test_concurrent_deletes_of_one_loan_delete_it_once(world, client):
    org, h = await _admin(world, client)
    cid = await _customer(client, h)
    for attempt in range(3):
        lid = (await client.post("/api/loans/", json=_loan_body(cid, f"LN-D{attempt}"), headers=h)).json()["id"]
        answers = await asyncio.gather(*(client.delete(f"/api/loans/{lid}/", headers=h) for _ in range(3)))
        assert sorted(r.status_code for r in answers) == [200, 404, 404], [r.text for r in answers]
    assert await _events(org.id, "loan.deleted") == 3


async def test_concurrent_update_and_delete_of_a_loan_never_500(world, client):
    _org, h = await _admin(world, client)
    cid = await _customer(client, h)
    for attempt in range(8):
        lid = (await client.post("/api/loans/", json=_loan_body(cid, f"LN-U{attempt}"), headers=h)).json()["id"]
        patch, delete = await asyncio.gather(
            client.patch(f"/api/loans/{lid}/", json={"tenure_months": 36}, headers=h),
            client.delete(f"/api/loans/{lid}/", headers=h))
        assert delete.status_code == 200, delete.text
        assert patch.status_code in (200, 404), patch.text


# ------------------------------------------------------------------ interactions


async def _interaction(client: httpx.AsyncClient, h: dict[str, str], loan_id: int) -> int:
    r = await client.post("/api/interactions/calling/create/",
                          json={"loan": loan_id, "comment": "note", "disposition": "called",
                                "next_call_date": "2025-03-15"}, headers=h)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_concurrent_edits_of_one_interaction_keep_both_fields(world, client):
    _org, h = await _admin(world, client)
    cid = await _customer(client, h)
    lid = (await client.post("/api/loans/", json=_loan_body(cid, "LN-I"), headers=h)).json()["id"]
    iid = await _interaction(client, h, lid)
    url = f"/api/interactions/calling/{iid}/"
    a, b = await asyncio.gather(client.patch(url, json={"comment": "spoke to him"}, headers=h),
                                client.patch(url, json={"next_call_date": "2025-04-01"}, headers=h))
    assert (a.status_code, b.status_code) == (200, 200), (a.text, b.text)
    got = (await client.get(url, headers=h)).json()
    assert got["comment"] == "spoke to him" and got["next_call_date"] == "2025-04-01"


async def test_concurrent_update_and_delete_of_an_interaction_never_500(world, client):
    org, h = await _admin(world, client)
    cid = await _customer(client, h)
    lid = (await client.post("/api/loans/", json=_loan_body(cid, "LN-X"), headers=h)).json()["id"]
    for _attempt in range(8):
        iid = await _interaction(client, h, lid)
        url = f"/api/interactions/calling/{iid}/"
        patch, delete = await asyncio.gather(client.patch(url, json={"comment": "late edit"}, headers=h),
                                             client.delete(url, headers=h))
        assert delete.status_code == 200, delete.text
        assert patch.status_code in (200, 404), patch.text
    assert await _count(Interaction, Interaction.org_id == org.id) == 0


async def test_concurrent_deletes_of_one_interaction_delete_it_once(world, client):
    org, h = await _admin(world, client)
    cid = await _customer(client, h)
    lid = (await client.post("/api/loans/", json=_loan_body(cid, "LN-Y"), headers=h)).json()["id"]
    for _attempt in range(3):
        iid = await _interaction(client, h, lid)
        answers = await asyncio.gather(*(client.delete(f"/api/interactions/calling/{iid}/", headers=h)
                                         for _ in range(3)))
        assert sorted(r.status_code for r in answers) == [200, 404, 404], [r.text for r in answers]
    assert await _events(org.id, "interaction.deleted") == 3


async def test_concurrent_interaction_uploads_record_every_row_of_each(world, client):
    org, h = await _admin(world, client)
    cid = await _customer(client, h)
    lid = (await client.post("/api/loans/", json=_loan_body(cid, "LN-B"), headers=h)).json()["id"]
    content = _csv([["loan_id", "disposition", "interaction_type"]] + [[str(lid), "called", "calling"]] * 10)
    answers = await asyncio.gather(*(_upload(client, "/api/interactions/bulk/upload/", content, h)
                                     for _ in range(3)))
    assert [r.status_code for r in answers] == [201] * 3, [r.text for r in answers]
    assert [r.json()["records_created"] for r in answers] == [10] * 3
    assert await _count(Interaction, Interaction.org_id == org.id) == 30
