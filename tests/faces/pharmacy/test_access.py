"""Who may do what: read access for list, statistics, downloads and communications; write access
for upload and sends (403 otherwise); another pharmacy, or a debtor of another pharmacy, is 404."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arrears.identity.caller import Caller
from tests.debtors.pdf.make_pdfs import Debtor, build_report

D = Decimal
REPORT = build_report([Debtor("A1", "Ann", {"d60": D("100.00")}, email="ann@example.com", phone="0821234567")])

READS = [("GET", ""), ("GET", "/statistics"), ("POST", "/download-csv"), ("POST", "/download-pdf")]
WRITES = [("POST", "/send-email"), ("POST", "/send-sms")]


@pytest.fixture
async def debtor_id(pharmacy) -> int:
    return (await pharmacy.uploaded(REPORT))["debtors"][0]["id"]


async def _call(pharmacy, method: str, path: str, headers: dict, debtor_id: int, org=None):
    body = {"debtor_ids": [debtor_id]} if method == "POST" else None
    return await pharmacy.client.request(method, pharmacy.url(path, org), headers=headers, json=body)


@pytest.mark.parametrize(("method", "path"), READS, ids=[p or "list" for _, p in READS])
async def test_reader_may_read(pharmacy, debtor_id, method, path) -> None:
    from arrears.pharmacy import exports  # noqa: F401  (the downloads need the renderer)

    r = await _call(pharmacy, method, path, pharmacy.reader, debtor_id)
    assert r.status_code == 200, r.text


async def test_reader_may_read_communications(pharmacy, debtor_id) -> None:
    r = await pharmacy.get(f"/{debtor_id}/communications", headers=pharmacy.reader)
    assert r.status_code == 200 and r.json() == []


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[p for _, p in WRITES])
async def test_reader_may_not_send(pharmacy, debtor_id, method, path) -> None:
    r = await _call(pharmacy, method, path, pharmacy.reader, debtor_id)
    assert r.status_code == 403 and "read-only" in r.json()["detail"]


async def test_reader_may_not_upload(pharmacy) -> None:
    r = await pharmacy.upload(REPORT, headers=pharmacy.reader)
    assert r.status_code == 403 and list(r.json()) == ["detail"]


@pytest.mark.parametrize(("method", "path"), [*READS, *WRITES, ("POST", "/upload")],
                         ids=[p or "list" for _, p in [*READS, *WRITES, ("POST", "/upload")]])
async def test_another_pharmacy_is_not_found(pharmacy, debtor_id, method, path) -> None:
    # The other pharmacy's admin asks for our pharmacy: it is not theirs.
    r = await _call(pharmacy, method, path, pharmacy.other, debtor_id)
    assert r.status_code == 404 and r.json() == {"detail": "Pharmacy not found"}


async def test_a_debtor_of_another_pharmacy_is_not_found(pharmacy, debtor_id) -> None:
    other = pharmacy.other_org
    r = await pharmacy.client.get(pharmacy.url(f"/{debtor_id}/communications", other), headers=pharmacy.other)
    assert r.status_code == 404 and r.json() == {"detail": "Debtor not found"}
    # Sends that name only another pharmacy's debtors find none.
    from tests.faces.messaging.helpers import set_org

    await set_org(other, sendgrid_api_key="SG.x", smsportal_client_id="c", smsportal_api_secret="s")
    for path in ("/send-email", "/send-sms"):
        r = await pharmacy.client.post(pharmacy.url(path, other), headers=pharmacy.other,
                                       json={"debtor_ids": [debtor_id]})
        assert r.status_code == 404 and "No debtors found" in r.json()["detail"]
    # Their download with our id is empty, not our debtor.
    r = await pharmacy.client.post(pharmacy.url("/download-csv", other), headers=pharmacy.other,
                                   json={"debtor_ids": [debtor_id]})
    assert r.status_code == 200 and "Ann" not in r.text
    listed = (await pharmacy.client.get(pharmacy.url("", other), headers=pharmacy.other)).json()
    assert listed["total"] == 0


async def test_a_user_of_two_pharmacies_acts_in_the_one_named(pharmacy, world, debtor_id) -> None:
    from arrears.db import transaction
    from arrears.identity import service as identity
    from arrears.identity.models import User

    user = await world.user(pharmacy.other_org.id, role="manager")
    async with transaction() as s:
        await identity.add_membership(s, Caller.system(pharmacy.org.id), await s.get(User, user.id), access="read")
    headers = {"Authorization": f"Bearer {await world.token(pharmacy.client, user.username)}"}
    listed = await pharmacy.get(headers=headers)
    assert listed.status_code == 200 and listed.json()["total"] == 1
    assert (await pharmacy.upload(REPORT, headers=headers)).status_code == 403  # read access there


async def test_no_token_and_api_keys_are_401(pharmacy, world) -> None:
    r = await pharmacy.client.get(pharmacy.url())
    assert r.status_code == 401 and list(r.json()) == ["detail"]
    _, key = await world.api_key(pharmacy.org.id, ["*"])
    r = await pharmacy.client.get(pharmacy.url(), headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 401


async def test_unknown_ids_in_paths(pharmacy) -> None:
    assert (await pharmacy.client.get("/pharmacies/abc/debtors", headers=pharmacy.writer)).status_code == 404
    r = await pharmacy.client.get("/pharmacies/999999/debtors", headers=pharmacy.writer)
    assert r.status_code == 404 and r.json() == {"detail": "Pharmacy not found"}
    r = await pharmacy.get("/999999/communications")
    assert r.status_code == 404 and r.json() == {"detail": "Debtor not found"}
