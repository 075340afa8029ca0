"""/api/v1/templates and /api/v1/opt-outs: the organisation's own templates and opt-outs."""

from __future__ import annotations

import pytest

from tests.faces.messaging.helpers import customer, opt_outs

BODY = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."


@pytest.fixture
async def admin(client, world):
    org = await world.org("Acme")
    return org, await world.login_headers(client, org.id, role="admin")


async def test_crud_round_trip(client, admin):
    org, h = admin
    r = await client.post("/api/v1/templates", headers=h, json={"name": "  Final   notice ", "body": BODY})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["name"] == "Final notice" and t["channel"] == "sms" and t["subject"] is None and t["body"] == BODY
    assert t["createdAt"].endswith("Z")
    r = await client.get(f"/api/v1/templates/{t['id']}", headers=h)
    assert r.status_code == 200 and r.json() == t
    r = await client.put(f"/api/v1/templates/{t['id']}", headers=h, json={"body": BODY + " Thanks."})
    assert r.status_code == 200 and r.json()["body"].endswith("Thanks.") and r.json()["name"] == "Final notice"
    r = await client.get("/api/v1/templates", headers=h)
    assert r.json()["pagination"] == {"page": 1, "limit": 20, "total": 1, "totalPages": 1}
    assert r.json()["data"][0]["id"] == t["id"]
    r = await client.delete(f"/api/v1/templates/{t['id']}", headers=h)
    assert r.status_code == 204
    r = await client.get(f"/api/v1/templates/{t['id']}", headers=h)
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"


async def test_email_template_with_subject(client, admin):
    _, h = admin
    r = await client.post("/api/v1/templates", headers=h, json={
        "name": "Email reminder", "channel": "email", "subject": "Account [AccountCode] is overdue",
        "body": "Dear [CustomerName],\n\nAccount [AccountCode]: you owe R[TotalBalance]."})
    assert r.status_code == 201 and r.json()["subject"] == "Account [AccountCode] is overdue"
    r = await client.post("/api/v1/templates", headers=h, json={"name": "No subject", "channel": "email",
                                                                "body": BODY})
    assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR"
    r = await client.post("/api/v1/templates", headers=h, json={"name": "Bad subject", "channel": "email",
                                                                "subject": "Hi [Nmae]", "body": BODY})
    assert r.status_code == 400 and "did you mean [CustomerName]" not in r.json()["message"]


async def test_validation_errors_say_what_to_fix(client, admin):
    _, h = admin
    r = await client.post("/api/v1/templates", headers=h, json={"name": "x", "body": "Hi [Customer Name]"})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "VALIDATION_ERROR"  # the partner spec's code for a 400
    problems = {(d["code"], d["placeholder"]) for d in body["details"]}
    assert ("UNKNOWN_PLACEHOLDER", "[Customer Name]") in problems
    assert ("MISSING_PLACEHOLDER", "[AccountCode]") in problems
    assert "did you mean [CustomerName]?" in body["message"]
    r = await client.post("/api/v1/templates", headers=h, json={"name": "x", "body": BODY + "a" * 1600})
    assert r.status_code == 400 and "shorten it to at most 1,600" in r.json()["message"]
    r = await client.post("/api/v1/templates", headers=h, json={"name": "x", "body": BODY, "colour": "red"})
    assert r.status_code == 400
    r = await client.post("/api/v1/templates/validate", headers=h, json={"body": "Hi {{CustomerName}}"})
    assert r.status_code == 200 and r.json()["valid"] is False


async def test_names_are_unique_and_builtins_are_reserved(client, admin):
    _, h = admin
    assert (await client.post("/api/v1/templates", headers=h, json={"name": "Mine", "body": BODY})).status_code == 201
    r = await client.post("/api/v1/templates", headers=h, json={"name": "mine", "body": BODY})
    assert r.status_code == 409 and r.json()["error"] == "TEMPLATE_NAME_TAKEN"
    r = await client.post("/api/v1/templates", headers=h, json={"name": "Friendly Reminder", "body": BODY})
    assert r.status_code == 409


async def test_who_may_change_templates(client, world, admin):
    org, h = admin
    officer = await world.login_headers(client, org.id, role="collection_officer")
    r = await client.post("/api/v1/templates", headers=officer, json={"name": "Mine", "body": BODY})
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    assert (await client.get("/api/v1/templates", headers=officer)).status_code == 200
    r = await client.post("/api/v1/templates", headers=h, json={"name": "Mine", "body": BODY})
    tid = r.json()["id"]
    stranger = await world.login_headers(client, (await world.org("Other")).id, role="admin")
    for method in ("GET", "PUT", "DELETE"):
        r = await client.request(method, f"/api/v1/templates/{tid}", headers=stranger,
                                 json={"body": BODY} if method == "PUT" else None)
        assert r.status_code == 404, method
    assert (await client.get("/api/v1/templates", headers=stranger)).json()["pagination"]["total"] == 0
    r = await client.get("/api/v1/templates")
    assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED"


async def test_pagination_limits(client, admin):
    _, h = admin
    for params in ({"limit": 101}, {"page": 0}):
        r = await client.get("/api/v1/templates", headers=h, params=params)
        assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR"


async def test_documented_in_openapi(client):
    spec = (await client.get("/openapi.json")).json()
    assert {"/api/v1/templates", "/api/v1/templates/{template_id}", "/api/v1/opt-outs",
            "/api/messaging/send", "/providers/smsportal/dlr/{token}"} <= set(spec["paths"])
    assert set(spec["paths"]["/api/v1/templates"]) == {"get", "post"}
    assert set(spec["paths"]["/api/v1/templates/{template_id}"]) == {"get", "put", "delete"}


# ------------------------------------------------------------------ opt-outs


async def test_opt_outs_api(client, world, admin):
    org, h = admin
    john = await customer(org)
    r = await client.post("/api/v1/opt-outs", headers=h, json={"customerId": john.id, "channel": "sms",
                                                               "reason": "asked by phone"})
    assert r.status_code == 201, r.text
    [o] = r.json()["data"]
    assert o["channel"] == "sms" and o["customerId"] == john.id and o["customerUuid"] == str(john.uuid)
    assert o["source"] == "api" and o["reason"] == "asked by phone"
    again = await client.post("/api/v1/opt-outs", headers=h, json={"customerId": str(john.uuid), "channel": "sms"})
    assert again.json()["data"][0]["id"] == o["id"]  # idempotent
    # A bare number opts out of the channel it reaches (SMS), stored as the E.164 digits sends use.
    r = await client.post("/api/v1/opt-outs", headers=h, json={"recipient": "+27 83 123 4567", "channel": "all"})
    assert [(x["channel"], x["recipient"]) for x in r.json()["data"]] == [("sms", "27831234567")]
    r = await client.post("/api/v1/opt-outs", headers=h, json={"recipient": "083 123 4567", "channel": "sms"})
    assert r.status_code == 201 and len(await opt_outs()) == 2  # the same number: idempotent
    r = await client.post("/api/v1/opt-outs", headers=h, json={"recipient": "Jane@Example.com", "channel": "all"})
    assert [(x["channel"], x["recipient"]) for x in r.json()["data"]] == [("email", "jane@example.com")]
    for bad in ({"recipient": "12345", "channel": "sms"}, {"recipient": "jane@example.com", "channel": "sms"},
                {"recipient": "082 123 4567", "channel": "email"}):
        r = await client.post("/api/v1/opt-outs", headers=h, json=bad)
        assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR", bad
    r = await client.get("/api/v1/opt-outs", headers=h, params={"customerId": john.id})
    assert r.json()["pagination"]["total"] == 1
    assert (await client.get("/api/v1/opt-outs", headers=h)).json()["pagination"]["total"] == 3
    stranger = await world.login_headers(client, (await world.org("Other")).id, role="admin")
    r = await client.post("/api/v1/opt-outs", headers=stranger, json={"customerId": john.id, "channel": "sms"})
    assert r.status_code == 404
    assert (await client.delete(f"/api/v1/opt-outs/{o['id']}", headers=stranger)).status_code == 404
    assert (await client.get("/api/v1/opt-outs", headers=stranger)).json()["pagination"]["total"] == 0
    assert (await client.delete(f"/api/v1/opt-outs/{o['id']}", headers=h)).status_code == 204
    assert len(await opt_outs()) == 2
    r = await client.post("/api/v1/opt-outs", headers=h, json={"channel": "fax", "customerId": john.id})
    assert r.status_code == 400


async def test_api_keys_need_the_scopes(client, world, admin):
    from arrears.db import transaction
    from arrears.partners.models import ApiClient

    org, h = admin
    async with transaction() as s:
        api_client = ApiClient(org_id=org.id, name="Partner", contact_email="p@example.com", status="ACTIVE",
                               rate_limit_tier="basic", scopes=["templates:read"], redirect_uris=[])
        s.add(api_client)
        await s.flush()
        client_id = api_client.id
    _, reader = await world.api_key(org.id, ["templates:read"], kind="ins", client_id=client_id)
    _, writer = await world.api_key(org.id, ["templates:write", "opt-outs:write"], kind="ins", client_id=client_id)
    r = await client.post("/api/v1/templates", headers={"Authorization": f"Bearer {reader}"},
                          json={"name": "K", "body": BODY})
    assert r.status_code == 403
    r = await client.post("/api/v1/templates", headers={"Authorization": f"Bearer {writer}"},
                          json={"name": "K", "body": BODY})
    assert r.status_code == 201
    r = await client.get("/api/v1/templates", headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 200 and r.json()["pagination"]["total"] == 1
    r = await client.get("/api/v1/opt-outs", headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 403


async def test_read_only_members_neither_record_nor_remove_opt_outs(client, world, admin):
    # The opt-out service refuses them (issue 18, point 6): the face only parses and renders.
    org, h = admin
    john = await customer(org)
    reader = await world.login_headers(client, org.id, role="admin", access="read")
    r = await client.post("/api/v1/opt-outs", headers=reader, json={"customerId": john.id, "channel": "sms"})
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    assert await opt_outs() == []
    [o] = (await client.post("/api/v1/opt-outs", headers=h, json={"customerId": john.id, "channel": "sms"})).json()["data"]
    r = await client.delete(f"/api/v1/opt-outs/{o['id']}", headers=reader)
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    assert len(await opt_outs()) == 1
