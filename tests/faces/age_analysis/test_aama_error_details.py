"""Issue 20 §6: the AAMA error body's `details` is a string, as the spec writes it; structured
details go under named keys of their own, so a strictly typed client decodes every error."""

from __future__ import annotations

from arrears.faces.errors import Problem, _aama


def test_field_errors_move_to_their_own_key():
    body = _aama(Problem(400, "VALIDATION_ERROR", "Invalid request", field_errors={"page": ["must be 1 or more"]}))
    assert body == {"message": "Invalid request", "code": "VALIDATION_ERROR", "details": "page: must be 1 or more",
                    "field_errors": {"page": ["must be 1 or more"]}}


def test_structured_details_get_named_keys_and_a_summary():
    body = _aama(Problem(400, "INVALID_ACCOUNTS", "Unknown accounts",
                         details={"unknown_account_ids": [f"id{i}" for i in range(7)]}))
    assert body["unknown_account_ids"] == [f"id{i}" for i in range(7)]
    assert body["details"] == "unknown_account_ids: id0, id1, id2, id3, id4 and 2 more"
    problems = [{"code": "MISSING_PLACEHOLDER", "placeholder": "[AccountCode]", "message": "needs [AccountCode]"}]
    body = _aama(Problem(400, "INVALID_TEMPLATE", "Invalid template", details=problems))
    assert body["problems"] == problems and body["details"] == "needs [AccountCode]"


def test_nothing_to_add_is_an_empty_string_and_a_string_stays():
    assert _aama(Problem(401, "UNAUTHORIZED", "Sign in"))["details"] == ""
    assert _aama(Problem(400, "X", "m", details="more words"))["details"] == "more words"
    # A detail named like one of the spec's keys never overwrites it.
    body = _aama(Problem(400, "X", "m", details={"code": 7}))
    assert body["code"] == "X" and body["detail_code"] == 7


async def test_every_aama_error_decodes_with_a_string_details(client, world):
    org = await world.org()
    user = await world.user(org.id, role="admin")
    token = await world.token(client, user.username)
    h = {"Authorization": f"Bearer {token}"}
    for r in (await client.get("/api/uploads", params={"per_page": 1000}, headers=h),
              await client.get("/api/uploads/not-a-uuid/summary", headers=h),
              await client.get("/api/uploads"),
              await client.post("/api/messaging/send", json={"account_ids": [1]}, headers=h)):
        body = r.json()
        assert r.status_code >= 400 and {"message", "code", "details"} <= set(body), body
        assert isinstance(body["details"], str), body
