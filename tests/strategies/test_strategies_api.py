"""/api/v1/strategies: CRUD with steps, validation, preview, runs (a dry run at once, a real one
through the worker), pausing a strategy and an account, the hand-over export; every role, ins_ keys
by scope, another organisation's ids (404 everywhere)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from arrears.db import transaction
from arrears.jobs.models import Job
from arrears.strategies import jobs
from arrears.worker import run_until_idle
from tests.faces.accounts.test_accounts_api import _key
from tests.strategies.helpers import book, row, template


async def _body(t, **extra):
    sms = await template(t)
    return {"name": "Standard", "isDefault": True, "runTime": "09:30",
            "segment": {"minBalance": 10, "oldestBuckets": ["d30", "d60"],
                        "customerConditions": [{"field": "city", "op": "empty"}]},
            "steps": [{"action": "sms", "messageTemplateId": sms, "minDaysPastDue": 0, "waitDays": 3},
                      {"action": "call_task", "minDaysPastDue": 30, "repeatDays": 7},
                      {"action": "hand_over", "handOverTo": "Agency", "minDaysPastDue": 120}]} | extra


async def test_managers_write_others_read_and_the_run_goes_through_the_worker(rs, tmp_path):
    t = await rs.tenant()
    ids = await book(t, tmp_path, [row("A1", "Alpha", "082 123 4567", d30=100)])
    body = await _body(t)
    for role, access in (("calling_agent", "write"), ("collection_officer", "write"), ("manager", "read")):
        r = await t.client.post("/api/v1/strategies", json=body, headers=await t.h(role, access=access))
        assert r.status_code == 403, (role, access, r.text)
    r = await t.client.post("/api/v1/strategies", json=body, headers=await t.h("manager"))
    assert r.status_code == 201, r.text
    st = r.json()
    assert st["runTime"] == "09:30" and st["segment"]["minBalance"] == 10 and len(st["steps"]) == 3
    assert st["ownerId"] == (await t.member("manager")).user.id
    assert [s["position"] for s in st["steps"]] == [1, 2, 3]
    sid = st["id"]
    for role in ("calling_agent", "field_officer"):
        got = await t.client.get(f"/api/v1/strategies/{sid}", headers=await t.h(role))
        assert got.status_code == 200 and got.json() == st
    listed = await t.client.get("/api/v1/strategies", headers=await t.h("manager", access="read"))
    assert listed.json()["pagination"]["total"] == 1

    # Change: keep step 1 (by id), drop the others, add a visit.
    steps = [{"id": st["steps"][0]["id"], "action": "sms", "messageTemplateId": st["steps"][0]["messageTemplateId"],
              "minDaysPastDue": 30}, {"action": "visit_task", "minDaysPastDue": 60}]
    r = await t.client.patch(f"/api/v1/strategies/{sid}", json={"steps": steps, "challengerPercent": 0},
                             headers=await t.h("admin"))
    assert r.status_code == 200, r.text
    assert [s["action"] for s in r.json()["steps"]] == ["sms", "visit_task"]
    assert r.json()["steps"][0]["id"] == st["steps"][0]["id"]

    # Invalid: each problem by field.
    bad = await t.client.post("/api/v1/strategies", headers=await t.h("admin"), json={
        "name": "Standard", "steps": [{"action": "fax"}, {"action": "sms", "messageTemplateId": "nope"},
                                      {"action": "hand_over"}], "challengerPercent": 101,
        "segment": {"oldestBuckets": ["d45"], "customerConditions": [{"field": "shoe", "op": "eq"}]}})
    assert bad.status_code == 400
    assert set(bad.json()["details"]) >= {"name", "steps[0].action", "steps[1].messageTemplateId",
                                          "steps[2].handOverTo", "challengerPercent", "segment.oldestBuckets",
                                          "segment.customerConditions[0]"}

    # Preview (anyone who reads), then a dry run (recorded at once), then a real run via the worker.
    pv = await t.client.get(f"/api/v1/strategies/{sid}/preview", headers=await t.h("calling_agent"))
    assert pv.status_code == 200 and pv.json()["steps"][0]["accounts"] == 1, pv.text
    assert (await t.client.post(f"/api/v1/strategies/{sid}/runs", json={},
                                headers=await t.h("calling_agent"))).status_code == 403
    dry = await t.client.post(f"/api/v1/strategies/{sid}/runs", json={"dryRun": True}, headers=await t.h("manager"))
    assert dry.status_code == 201 and dry.json()["status"] == "completed" and dry.json()["accounts"] == 1
    assert dry.json()["counts"]["strategies"][0]["steps"] == pv.json()["steps"]
    real = await t.client.post(f"/api/v1/strategies/{sid}/runs", json={}, headers=await t.h("manager"))
    assert real.status_code == 202 and real.json()["status"] == "queued"
    # Creating the strategy queued today's daily run at 09:30 in the organisation's zone: once the
    # wall clock has passed that, it would run first and do today's step, leaving this run nothing.
    # The daily chain is test_jobs' subject; here it waits until tomorrow so the hand-started run is alone.
    async with transaction() as s:
        moved = await s.execute(update(Job).where(Job.kind == jobs.DAILY, Job.org_id == t.org.id)
                                .values(run_at=datetime.now(UTC) + timedelta(days=1)))
        assert moved.rowcount == 2  # today's and tomorrow's
    await run_until_idle()
    runs = (await t.client.get(f"/api/v1/strategies/{sid}/runs", headers=await t.h("calling_agent"))).json()
    mine = {r["id"]: r for r in runs["data"]}
    done = mine[real.json()["id"]]
    assert done["status"] == "completed" and done["messages"] == 1 and done["dryRun"] is False
    one = await t.client.get(f"/api/v1/strategies/{sid}/runs/{done['id']}", headers=await t.h("manager"))
    assert one.json()["counts"] == done["counts"]

    # The account: where it is; paused by a manager (not by an agent).
    acc = str(ids["A1"])
    where = (await t.client.get(f"/api/v1/accounts/{acc}/strategy", headers=await t.h("calling_agent"))).json()
    assert where["strategyId"] == sid and where["position"] == 1 and where["paused"] is False
    assert (await t.client.put(f"/api/v1/accounts/{acc}/strategy", json={"paused": True},
                               headers=await t.h("calling_agent"))).status_code == 403
    paused = await t.client.put(f"/api/v1/accounts/{acc}/strategy", json={"paused": True},
                                headers=await t.h("manager"))
    assert paused.status_code == 200 and paused.json()["paused"] is True
    # The strategy: paused, resumed.
    r = await t.client.post(f"/api/v1/strategies/{sid}/pause", headers=await t.h("manager"))
    assert r.json()["paused"] is True
    r = await t.client.post(f"/api/v1/strategies/{sid}/resume", headers=await t.h("manager"))
    assert r.json()["paused"] is False
    csv = await t.client.get(f"/api/v1/strategies/{sid}/handovers.csv", headers=await t.h("manager"))
    assert csv.status_code == 200 and csv.text.startswith("handed_over_on,handed_over_to")
    assert (await t.client.delete(f"/api/v1/strategies/{sid}", headers=await t.h("calling_agent"))).status_code == 403
    assert (await t.client.delete(f"/api/v1/strategies/{sid}", headers=await t.h("manager"))).status_code == 204
    assert (await t.client.get(f"/api/v1/strategies/{sid}", headers=await t.h("manager"))).status_code == 404


async def test_keys_by_scope_and_another_organisations_ids_are_404(rs, tmp_path):
    t, other = await rs.tenant(), await rs.tenant("Other Lending")
    ids = await book(t, tmp_path, [row("A1", "Alpha", "082 123 4567", d30=100)])
    reader, writer, none = (await _key(t, ["strategies:read"]), await _key(t, ["strategies:write"]),
                            await _key(t, ["accounts:read"]))
    body = await _body(t)
    assert (await t.client.post("/api/v1/strategies", json=body, headers=reader)).status_code == 403
    r = await t.client.post("/api/v1/strategies", json=body, headers=writer)
    assert r.status_code == 400 and "ownerId" in r.json()["details"]  # a key names the owner
    body["ownerId"] = (await t.member("admin")).user.id
    r = await t.client.post("/api/v1/strategies", json=body, headers=writer)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert (await t.client.get(f"/api/v1/strategies/{sid}", headers=reader)).status_code == 200
    r = await t.client.get("/api/v1/strategies", headers=none)
    assert r.status_code == 403 and "strategies:read" in r.json()["message"]
    # Another organisation: 404 for every id of this one, and its lists are empty.
    acc = str(ids["A1"])
    for h in (await other.h(), await _key(other, ["*"])):
        for method, path, payload in (
                ("get", f"/api/v1/strategies/{sid}", None), ("patch", f"/api/v1/strategies/{sid}", {"name": "x"}),
                ("delete", f"/api/v1/strategies/{sid}", None), ("get", f"/api/v1/strategies/{sid}/preview", None),
                ("post", f"/api/v1/strategies/{sid}/runs", {}), ("get", f"/api/v1/strategies/{sid}/runs", None),
                ("post", f"/api/v1/strategies/{sid}/pause", None),
                ("get", f"/api/v1/strategies/{sid}/handovers.csv", None),
                ("get", f"/api/v1/accounts/{acc}/strategy", None),
                ("put", f"/api/v1/accounts/{acc}/strategy", {"paused": True})):
            kw = {"json": payload} if payload is not None else {}
            r = await t.client.request(method.upper(), path, headers=h, **kw)
            assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert (await t.client.get("/api/v1/strategies", headers=h)).json()["data"] == []
    # A message template of another organisation is not one of this one's.
    foreign = await template(other)
    body2 = await _body(t, name="Other")
    body2["steps"][0]["messageTemplateId"] = foreign
    r = await t.client.post("/api/v1/strategies", json=body2, headers=await t.h("admin"))
    assert r.status_code == 400 and "steps[0].messageTemplateId" in r.json()["details"]
