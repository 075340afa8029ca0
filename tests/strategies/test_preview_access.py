"""Who may preview a strategy, and what they see: admins, managers (also read-only ones), calling
agents and field officers every account of the organisation; a collection officer their own
customers' accounts only (exactly their share of the full preview); an ins_ key with
strategies:read (or :write) everything, without it 403; another organisation's strategy 404 for
every one of them. The web editor's preview panel follows the same rule."""

from __future__ import annotations

from sqlalchemy import update

from arrears.accounts.models import Account
from arrears.customers.models import Customer
from arrears.db import transaction
from arrears.identity.caller import Caller
from arrears.identity.service import set_org_settings
from arrears.worker import run_until_idle
from tests.faces.accounts.test_accounts_api import _key
from tests.strategies.helpers import book, row, strategy, template

ROLES = [("admin", "write"), ("manager", "write"), ("manager", "read"), ("calling_agent", "write"),
         ("field_officer", "write"), ("collection_officer", "write")]


async def _tenant_with_book(rs, tmp_path, name):
    t = await rs.tenant(name)
    async with transaction() as s:
        org = await s.get(type(t.org), t.org.id)
        await set_org_settings(s, Caller.system(org.id), org, {"contact_hours": "off", "contact_cap": "0"})
    ids = await book(t, tmp_path, [row("A1", "Alpha", "082 123 4561", d30=100), row("A2", "Beta", "082 123 4562", d30=100),
                                   row("A3", "Gamma", None, d30=100)], name=name.replace(" ", ""))
    return t, ids


async def _strategy(t):
    return await strategy(t, [{"action": "sms", "messageTemplateId": await template(t), "minDaysPastDue": 30},
                              {"action": "call_task", "minDaysPastDue": 30}])


async def _tenants(rs, tmp_path, *names):
    """The books first, their upload jobs done (an upload starts a strategy run), then the strategies."""
    made = [await _tenant_with_book(rs, tmp_path, name) for name in names]
    await run_until_idle()
    return [(t, ids, await _strategy(t)) for t, ids in made]


async def test_every_role_and_key_previews_what_it_may_see(rs, tmp_path):
    (t, ids, sid), (other, _, other_sid) = await _tenants(rs, tmp_path, "Acme One", "Other Two")
    officer = await t.member("collection_officer")
    async with transaction() as s:  # A1 and A3 are the officer's; A2 is nobody's
        for code in ("A1", "A3"):
            acc = await s.get(Account, ids[code])
            await s.execute(update(Customer).where(Customer.id == acc.customer_id)
                            .values(assigned_collection_officer_id=officer.user.id))
    url = f"/api/v1/strategies/{sid}/preview"
    heads = {(role, access): await t.h(role, access=access) for role, access in ROLES}  # every user first
    full = (await t.client.get(url, headers=await t.h("admin"))).json()
    assert full["scope"] == "organisation"
    assert (full["accounts"], full["messages"], full["excluded"]) == (3, 2, 1), full
    for role, access in ROLES:
        headers = heads[(role, access)]
        r = await t.client.get(url, headers=headers)
        assert r.status_code == 200, (role, access, r.text)
        if role == "collection_officer":
            mine = r.json()
            assert mine["scope"] == "own"
            assert (mine["accounts"], mine["messages"], mine["excluded"]) == (2, 1, 1)
            [sms] = [s for s in mine["steps"] if s["action"] == "sms"]
            assert sms["excluded"] == {"no_contact": 1}
        else:
            assert r.json() == full, (role, access)
        # Another organisation's strategy is not there, whoever asks.
        assert (await t.client.get(f"/api/v1/strategies/{other_sid}/preview", headers=headers)).status_code == 404
    for scopes in (["strategies:read"], ["strategies:write"], ["*"]):
        key = await _key(t, scopes)
        r = await t.client.get(url, headers=key)
        assert r.status_code == 200 and r.json() == full, scopes
        assert (await t.client.get(f"/api/v1/strategies/{other_sid}/preview", headers=key)).status_code == 404
    assert (await t.client.get(url, headers=await _key(t, ["accounts:read"]))).status_code == 403
    assert (await t.client.get(f"/api/v1/strategies/{sid}/preview", headers=await other.h("admin"))).status_code == 404


async def test_the_service_counts_an_officers_own_accounts(rs, tmp_path):
    [(t, ids, sid)] = await _tenants(rs, tmp_path, "Acme Web")
    officer = await t.member("collection_officer")
    async with transaction() as s:
        acc = await s.get(Account, ids["A2"])
        await s.execute(update(Customer).where(Customer.id == acc.customer_id)
                        .values(assigned_collection_officer_id=officer.user.id))
    from arrears.strategies import preview as previews
    from tests.strategies.helpers import caller

    officer_caller, agent_caller = await caller(t, "collection_officer"), await caller(t, "calling_agent")
    async with transaction() as s:
        mine = await previews.preview(s, officer_caller, sid)
        everyone = await previews.preview(s, agent_caller, sid)
    assert (mine["scope"], mine["accounts"], mine["messages"]) == ("own", 1, 1)
    assert (everyone["scope"], everyone["accounts"], everyone["messages"]) == ("organisation", 3, 2)
