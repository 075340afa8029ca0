"""/api/v1/figures/promises, /collected and /cei through HTTP on a book, payments and promises made
by the test (tests/figures/book.py works the figures out by hand): a payment between two reports is
counted once, the CEI of a two-report book, what each role sees, ins_ keys by scope, the partner
error body for bad dates and ids, another organisation's reports 404. Both databases."""

from __future__ import annotations

from typing import Any

from tests.faces.repaysync.conftest import RS, Tenant
from tests.figures.book import M1, M1_START, M2, M3, M3_END, M3_START, R1, assign_k1_to, make_book
from tests.partners.fixtures import Partner

OCT_NOV = {"dateFrom": M1, "dateTo": M3}  # the book's three months


async def _key(t: Tenant, scopes: list[str]) -> dict[str, str]:
    p = Partner(t.client, t.world)
    p.org, p.headers = t.org, await t.h("admin")
    c = await p.create_client(scopes=scopes)
    return p.key_headers((await p.create_key(c["id"], scopes=scopes))["key"])


async def _get(t: Tenant, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await t.client.get(f"/api/v1/figures/{path}", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _months(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["month"]: row for row in body["data"]}


async def test_collected_counts_a_payment_between_two_reports_once(rs: RS, tmp_path):
    t = await rs.tenant()
    await make_book(t, tmp_path, promises=False)
    r = await t.client.get("/api/v1/figures/collected", headers=await t.h("manager"), params=OCT_NOV)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [row["month"] for row in body["data"]] == [M1, M2, M3]
    months = _months(body)
    # M1: the payment dated on the first report's date (it is in that report's balance).
    assert months[M1] == {"month": M1, "payments": 100, "bookFalls": 0, "paymentsInFalls": 0,
                                 "book": 0, "collected": 100}
    # M2: 300 paid; the book fell 900 (K1 600, K3 settled 300), 250 of it the payments between
    # the reports (M2's 15th and R2) explain: 650 more, 950 in all — never 1200.
    assert months[M2] == {"month": M2, "payments": 300, "bookFalls": 900, "paymentsInFalls": 250,
                                 "book": 650, "collected": 950}
    assert months[M3]["collected"] == 0
    assert body["totals"]["collected"] == 1050 and body["dateFrom"] == M1_START.isoformat() and body["dateTo"] == M3_END.isoformat()
    assert '"payments":300.00' in r.text  # JSON numbers to the cent, never through float


async def test_cei_of_a_two_report_book_by_default_and_by_ids(rs: RS, tmp_path):
    t = await rs.tenant()
    b = await make_book(t, tmp_path, promises=False)
    body = await _get(t, "cei", await t.h("manager"))
    assert body["fromReport"]["id"] == b.reports[0] and body["toReport"]["id"] == b.reports[1]
    assert body["fromReport"]["reportDate"] == R1 and body["toReport"]["partial"] is False
    assert (body["beginningReceivables"], body["creditSales"], body["endingReceivables"],
            body["endingCurrentReceivables"]) == (1800, 800, 1100, 800)
    assert body["cei"] == 83.33
    same = await _get(t, "cei", await t.h("admin"), fromReport=b.reports[0], toReport=b.reports[1])
    assert same["cei"] == 83.33
    # The wrong way round, one of the two, not an id, a report that is not done: 400 in the partner body.
    h = await t.h("manager")
    for params, name in (({"fromReport": b.reports[1], "toReport": b.reports[0]}, "fromReport"),
                         ({"fromReport": b.reports[0]}, "toReport"),
                         ({"fromReport": "nope", "toReport": b.reports[1]}, "fromReport")):
        r = await t.client.get("/api/v1/figures/cei", headers=h, params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"] == "VALIDATION_ERROR" and name in r.text and "message" in r.json()


async def test_cei_without_two_reports_is_null(rs: RS):
    t = await rs.tenant()
    body = await _get(t, "cei", await t.h("manager"))
    assert body["cei"] is None and body["fromReport"] is None


async def test_promises_per_agent_and_month_with_kept_rate_and_amounts(rs: RS, tmp_path):
    t = await rs.tenant()
    b = await make_book(t, tmp_path)
    body = await _get(t, "promises", await t.h("manager"), **OCT_NOV)
    a, bb = b.agents["A"], b.agents["B"]
    rows = {(row["agentId"], row["month"]): row for row in body["data"]}
    assert set(rows) == {(a.id, M2), (a.id, M3), (bb.id, M2)}
    assert rows[(a.id, M2)] == {"agentId": a.id, "agent": a.username, "month": M2, "made": 2,
                                       "kept": 1, "broken": 1, "open": 0, "cancelled": 0, "keptRate": 50.0,
                                       "promised": 350, "paid": 290}
    assert rows[(a.id, M3)]["keptRate"] is None and rows[(a.id, M3)]["open"] == 1
    # A cancelled promise is made, but promises nothing any more.
    assert rows[(bb.id, M2)] | {} == {"agentId": bb.id, "agent": bb.username, "month": M2, "made": 2,
                                            "kept": 1, "broken": 0, "open": 0, "cancelled": 1, "keptRate": 100.0,
                                            "promised": 50, "paid": 50}
    agents = {row["agentId"]: row for row in body["agents"]}
    assert agents[a.id]["made"] == 3 and agents[a.id]["promised"] == 410 and agents[a.id]["keptRate"] == 50.0
    months = {row["month"]: row for row in body["months"]}
    assert list(months) == [M1, M2, M3]
    assert months[M2]["made"] == 4 and months[M2]["keptRate"] == 66.67
    assert months[M1]["made"] == 0
    # The period narrows what counts (made_on).
    only_m3 = await _get(t, "promises", await t.h("manager"), dateFrom=M3_START.isoformat(), dateTo=M3_END.isoformat())
    assert [(r["agentId"], r["month"]) for r in only_m3["data"]] == [(a.id, M3)]


async def test_every_role_sees_the_figures_of_the_accounts_it_may_see(rs: RS, tmp_path):
    t = await rs.tenant()
    b = await make_book(t, tmp_path)
    officer = await t.member("collection_officer")
    for role in ("admin", "manager", "calling_agent", "field_officer"):
        for access in ("write", "read"):
            h = await t.h(role, access=access)
            assert _months(await _get(t, "collected", h, **OCT_NOV))[M2]["collected"] == 950, role
            assert (await _get(t, "cei", h))["cei"] == 83.33
            assert len((await _get(t, "promises", h, **OCT_NOV))["data"]) == 3
    # A collection officer sees the customers assigned to them: none yet, then K1's.
    h = officer.headers
    assert _months(await _get(t, "collected", h, **OCT_NOV))[M2]["collected"] == 0
    assert (await _get(t, "promises", h, **OCT_NOV))["data"] == []
    await assign_k1_to(b, officer.id)
    months = _months(await _get(t, "collected", h, **OCT_NOV))
    assert months[M1]["payments"] == 100
    assert months[M2] | {} == {"month": M2, "payments": 250, "bookFalls": 600, "paymentsInFalls": 250,
                                     "book": 350, "collected": 600}
    cei = await _get(t, "cei", h)
    assert (cei["beginningReceivables"], cei["endingReceivables"], cei["cei"]) == (1000, 400, 70.0)
    assert {r["agentId"] for r in (await _get(t, "promises", h, **OCT_NOV))["data"]} == {b.agents["A"].id}


async def test_ins_keys_by_scope_and_another_organisations_reports(rs: RS, tmp_path):
    t = await rs.tenant()
    b = await make_book(t, tmp_path, promises=False)
    for scopes in (["figures:read"], ["accounts:read"], ["*"]):
        key = await _key(t, scopes)
        assert _months(await _get(t, "collected", key, **OCT_NOV))[M2]["collected"] == 950
        assert (await _get(t, "cei", key))["cei"] == 83.33
    r = await t.client.get("/api/v1/figures/collected", headers=await _key(t, ["tasks:read"]))
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    r = await t.client.get("/api/v1/figures/collected")
    assert r.status_code == 401

    other = await rs.tenant("Other Org")
    for h in (await other.h("admin"), await _key(other, ["figures:read"])):
        r = await other.client.get("/api/v1/figures/cei", headers=h,
                                   params={"fromReport": b.reports[0], "toReport": b.reports[1]})
        assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND", r.text
        # Nothing of the first organisation's money shows in the other's figures.
        assert _months(await _get(other, "collected", h, **OCT_NOV))[M2]["collected"] == 0
        assert (await _get(other, "cei", h))["cei"] is None


async def test_periods_default_to_twelve_months_and_bad_dates_are_400(rs: RS):
    t = await rs.tenant()
    h = await t.h("manager")
    body = await _get(t, "collected", h)
    assert len(body["data"]) == 12 and body["dateFrom"].endswith("-01")
    assert body["data"][-1]["month"] == body["dateTo"][:7]
    for params, name in (({"dateFrom": "2026-13-01"}, "dateFrom"), ({"dateTo": "yesterday"}, "dateTo"),
                         ({"dateFrom": "2026-10-02", "dateTo": "2026-10-01"}, "dateFrom"),
                         ({"dateFrom": "2000-01", "dateTo": M2}, "dateFrom"),
                         ({"dateTo": "0001-01"}, "dateTo"), ({"dateTo": "9999-12"}, "dateTo")):
        for path in ("collected", "promises"):
            r = await t.client.get(f"/api/v1/figures/{path}", headers=h, params=params)
            assert r.status_code == 400, (path, params, r.text)
            assert r.json()["error"] == "VALIDATION_ERROR" and name in r.text
