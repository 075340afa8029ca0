"""Issue 19 point 4: the actions that move a captive's money, tried by every role, both access
levels and every kind of key, through HTTP; another captive's ids are 404."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from arrears.db import transaction, utcnow
from arrears.events import DomainEvent
from tests.premiums.debit_orders.helpers import captive

ROLES = ("admin", "manager", "collection_officer", "calling_agent", "field_officer")
BASE = "/api/v1/collections"
ANSWER = "reference,status\nNOSUCHREF1,successful\n"


async def _callers(world, client, org_id: int) -> dict[str, dict[str, str]]:
    """Every role with write and with read access, and keys with and without the scope."""
    out: dict[str, dict[str, str]] = {}
    for role in ROLES:
        for access in ("write", "read"):
            out[f"{role}/{access}"] = await world.login_headers(client, org_id, role=role, access=access)
    for name, kind, scopes in (("pct/write", "pct", ["collections:write"]), ("pct/all", "pct", ["*"]),
                               ("pct/read", "pct", ["collections:read"]), ("pct/none", "pct", []),
                               ("ins/all", "ins", ["*"])):
        _, raw = await world.api_key(org_id, scopes, kind=kind)
        out[name] = {"Authorization": f"Bearer {raw}"}
    return out


MOVERS = {"admin/write", "manager/write", "pct/write", "pct/all"}


async def test_only_the_captives_admins_change_the_debit_order_settings(client, world):
    org = await captive(world)
    callers = await _callers(world, client, org.id)
    for name, headers in callers.items():
        r = await client.put(f"{BASE}/settings", headers=headers, json={"nominated_account": "10099999999"})
        if name == "admin/write":
            assert r.status_code == 200, r.text
        elif name == "ins/all":
            assert r.status_code == 401, r.text  # this face takes no insurer keys at all
        else:
            assert r.status_code == 403, (name, r.status_code, r.text)
        # Reading the settings is for every member and every key with a collections scope.
        seen = await client.get(f"{BASE}/settings", headers=headers)
        assert seen.status_code == (401 if name == "ins/all" else 403 if name == "pct/none" else 200), name
    async with transaction(readonly=True) as s:
        changes = list(await s.scalars(select(DomainEvent).where(
            DomainEvent.type == "debit_orders.settings_updated", DomainEvent.org_id == org.id)
            .order_by(DomainEvent.id)))
    change = changes[-1]  # the first is the captive's setup by the test
    assert change.actor.startswith("user:")
    assert change.before["nominated_account"] != change.after["nominated_account"]
    assert change.after["nominated_account"].endswith("9999")
    assert len(changes) == 2  # nobody else changed anything


async def test_runs_reconciliation_and_settling_need_a_manager_or_admin_or_a_scoped_key(client, world):
    org = await captive(world)
    callers = await _callers(world, client, org.id)
    today = utcnow().date()
    record_id = None
    for name, headers in callers.items():
        allowed = name in MOVERS
        refused = 401 if name == "ins/all" else 403
        run = await client.post(f"{BASE}/runs", headers=headers, json={"action_date": today.isoformat()})
        assert run.status_code in ((200, 201) if allowed else (refused,)), (name, run.text)
        imported = await client.post(f"{BASE}/reconciliations?format=csv", headers=headers,
                                     content=ANSWER.encode())
        assert imported.status_code in ((200, 201) if allowed else (refused,)), (name, imported.text)
        if allowed:
            record_id = imported.json()["data"]["records"][0]["id"]
        settled = await client.post(f"{BASE}/settle", headers=headers, json={})
        assert settled.status_code == (200 if allowed else refused), (name, settled.text)
        future = await client.post(f"{BASE}/settle", headers=headers,
                                   json={"as_of": (today + timedelta(days=1)).isoformat()})
        assert future.status_code == (400 if allowed else refused), (name, future.text)
    assert record_id is not None
    dismissed = 0
    for name, headers in callers.items():
        r = await client.post(f"{BASE}/reconciliation-records/{record_id}/resolve", headers=headers,
                              json={"dismiss": True})
        if name in MOVERS:
            assert r.status_code in (200, 409), (name, r.text)  # 409: dismissed by the one before
            dismissed += r.status_code == 200
        else:
            assert r.status_code == (401 if name == "ins/all" else 403), (name, r.text)
    assert dismissed == 1
    async with transaction(readonly=True) as s:
        resolved = await s.scalar(select(DomainEvent).where(DomainEvent.type == "reconciliation.resolved"))
        created = await s.scalar(select(DomainEvent).where(DomainEvent.type == "debit_order_run.created"))
    assert resolved is not None and resolved.before == {"resolution": None, "outcome": "unmatched"}
    assert resolved.after["resolution"] == "dismissed"
    assert created is not None and created.before is None
    assert created.after == {"action_date": today.isoformat(), "status": "open"}


async def test_another_captives_ids_are_404(client, world):
    mine = await captive(world, "Mine")
    theirs = await captive(world, "Theirs", user_code="TH01", abbreviated_name="THEIRCAP")
    me = await world.login_headers(client, mine.id, role="admin")
    _, key = await world.api_key(mine.id, ["collections:write"])
    them = await world.login_headers(client, theirs.id, role="admin")
    today = utcnow().date().isoformat()
    run = (await client.post(f"{BASE}/runs", headers=them, json={"action_date": today})).json()["data"]
    rec = (await client.post(f"{BASE}/reconciliations?format=csv", headers=them,
                             content=ANSWER.encode())).json()["data"]["records"][0]
    for headers in (me, {"Authorization": f"Bearer {key}"}):
        assert (await client.get(f"{BASE}/runs/{run['id']}", headers=headers)).status_code == 404
        r = await client.post(f"{BASE}/reconciliation-records/{rec['id']}/resolve", headers=headers,
                              json={"dismiss": True})
        assert r.status_code == 404, r.text
    # The other captive's record is untouched.
    still = await client.get(f"{BASE}/reconciliation-records?open=true", headers=them)
    assert [x["id"] for x in still.json()["data"]] == [rec["id"]]
