"""Issue 20 §4: a body that is not JSON answers one plain message in each face's own body, not a
field error keyed by a character offset ({"errors": {"1": […]}} before)."""

from __future__ import annotations

BAD = b'{"name": "John", '


async def test_repaysync_says_the_body_is_not_json(client, world):
    org = await world.org()
    user = await world.user(org.id, role="admin")
    h = {"Authorization": f"Bearer {await world.token(client, user.username)}",
         "Content-Type": "application/json"}
    r = await client.post("/api/customers/", content=BAD, headers=h)
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"error"} and body["error"].startswith("Request body is not valid JSON: ")
    assert "character" in body["error"]
    r = await client.post("/api/auth/token/", content=b"not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"].startswith("Request body is not valid JSON")


async def test_every_face_says_it_in_its_own_body(client, world):
    org = await world.org(kind="cell_captive")
    user = await world.user(org.id, role="admin")
    jwt = {"Authorization": f"Bearer {await world.token(client, user.username)}",
           "Content-Type": "application/json"}
    _, pct = await world.api_key(org.id, ["*"])
    pct_h = {"Authorization": f"Bearer {pct}", "Content-Type": "application/json"}
    r = await client.post(f"/pharmacies/{org.id}/debtors/download-csv", content=BAD, headers=jwt)
    assert r.status_code == 400 and r.json()["detail"].startswith("Request body is not valid JSON")
    r = await client.post("/api/webhooks/policies/update", content=BAD, headers=pct_h)
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("Request body is not valid JSON")
    r = await client.post("/api/messaging/send", content=BAD, headers=jwt)
    assert r.status_code == 400 and r.json()["message"].startswith("Request body is not valid JSON")
    assert isinstance(r.json()["details"], str)
