"""Issue 19, point 9: no request is a 500 — integers past 64 bits in JSON bodies, deeply nested
JSON, malformed multipart bodies and 5,000-character file names are each a 400 in the face's body."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

BIG = 2**70
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
async def faces(client: httpx.AsyncClient, world: Any) -> dict[str, Any]:
    org = await world.org()
    pharmacy = await world.org("Corner Pharmacy", kind="pharmacy")
    return {"user": await world.login_headers(client, org.id),
            "pharmacy": pharmacy.id, "pharmacist": await world.login_headers(client, pharmacy.id)}


def _json(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "application/json"}


async def test_integers_past_64_bits_are_400(client: httpx.AsyncClient, faces: dict[str, Any]) -> None:
    p = faces["pharmacy"]
    for route in ("download-csv", "download-pdf", "send-sms"):
        r = await client.post(f"/pharmacies/{p}/debtors/{route}", json={"debtor_ids": [BIG]},
                              headers=faces["pharmacist"])
        assert r.status_code == 400 and set(r.json()) == {"detail"}, (route, r.text)
    loan = {"customer": BIG, "loan_account_number": "L-1", "principal_amount": "1000", "interest_rate": "5",
            "loan_type": "personal", "tenure_months": BIG, "loan_date": "2026-01-01"}
    r = await client.post("/api/loans/", json=loan, headers=faces["user"])
    assert r.status_code == 400 and ("error" in r.json() or "errors" in r.json()), r.text
    r = await client.put("/api/uploads/00000000-0000-0000-0000-000000000000/selection",
                         json={"account_ids": [BIG], "is_selected": True}, headers=faces["user"])
    assert r.status_code in (400, 404) and "code" in r.json(), r.text


@pytest.mark.parametrize("path", ["/api/auth/token/", "/api/loans/", "/pharmacies/{p}/debtors/download-csv",
                                  "/api/uploads/00000000-0000-0000-0000-000000000000/selection",
                                  "/api/messaging/send", "/api/v1/api-clients",
                                  "/api/webhooks/collections/update"])
async def test_deeply_nested_json_is_400(client: httpx.AsyncClient, faces: dict[str, Any], path: str) -> None:
    headers = faces["pharmacist"] if "pharmacies" in path else faces["user"]
    method = "PUT" if path.endswith("selection") else "POST"
    r = await client.request(method, path.format(p=faces["pharmacy"]), content=DEEP, headers=_json(headers))
    assert r.status_code in (400, 401), r.text  # never a 500; keys faces may refuse the JWT first
    assert r.json()


MULTIPART_ROUTES = ["/api/uploads", "/pharmacies/{p}/debtors/upload", "/api/customers/bulk/upload/"]


@pytest.mark.parametrize("path", MULTIPART_ROUTES)
@pytest.mark.parametrize(("ctype", "body"), [
    ("multipart/form-data; boundary=", b"--\r\n"),  # an empty boundary
    ("multipart/form-data; boundary=" + "b" * 5000, b"--b\r\n"),  # an absurd boundary
    ("multipart/form-data; boundary=XyZ", b"garbage without a boundary line"),
    ("multipart/form-data; boundary=XyZ",  # truncated mid-part
     b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nname,balance\r\nA,1'),
    ("multipart/form-data; boundary=XyZ", b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename'),
])
async def test_malformed_multipart_is_400(client: httpx.AsyncClient, faces: dict[str, Any], path: str,
                                          ctype: str, body: bytes) -> None:
    headers = faces["pharmacist"] if "pharmacies" in path else faces["user"]
    r = await client.post(path.format(p=faces["pharmacy"]), content=body, headers={**headers, "Content-Type": ctype})
    assert r.status_code == 400, r.text
    assert r.json()


@pytest.mark.parametrize("path", MULTIPART_ROUTES)
async def test_a_5000_character_file_name_is_not_a_500(client: httpx.AsyncClient, faces: dict[str, Any],
                                                      path: str) -> None:
    headers = faces["pharmacist"] if "pharmacies" in path else faces["user"]
    name = "n" * 4996 + (".pdf" if "pharmacies" in path else ".csv")
    content = b"%PDF-1.4\n%%EOF\n" if "pharmacies" in path else b"name,balance\nA,1\n"
    r = await client.post(path.format(p=faces["pharmacy"]), files={"file": (name, content)}, headers=headers)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.status_code == 400, r.text
    assert json.dumps(r.json())


async def test_a_status_filter_past_any_http_status_is_400(client: httpx.AsyncClient, world: Any) -> None:
    """Found by the fuzzer on PostgreSQL: an integer past int32 in a query filter was a 500."""
    org = await world.org()
    key = (await world.api_key(org.id, ["*"], kind="pct"))[1]
    for value in ("211125245394977357824", "3000000000", "99"):
        r = await client.get("/api/webhooks/logs", params={"status_code": value},
                             headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "VALIDATION_ERROR", r.text


async def test_a_value_the_database_cannot_hold_is_400_whatever_handler_was_installed_last(
        app: Any, client: httpx.AsyncClient, world: Any) -> None:
    """The outage handlers (503) are installed over the DBAPIError handler; an error that is not an
    outage must still reach it: a value past the column's range is the client's 400, not a 500."""
    from sqlalchemy import text

    from arrears import db

    async def out_of_range() -> dict[str, Any]:
        async with db.transaction(readonly=True) as session:
            await session.execute(text("SELECT count(*) FROM webhook_logs WHERE response_status = :v"),
                                  {"v": 2**70})
        return {}

    app.add_api_route("/api/v1/collections/test-out-of-range", out_of_range, methods=["GET"])
    r = await client.get("/api/v1/collections/test-out-of-range")
    assert r.status_code == 400 and "out of range" in r.text, r.text
