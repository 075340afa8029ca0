"""The figures leave the visibility subquery out for callers who see every customer of their
organisation (arrears.figures.service._whole_org). This holds only while the customers' rule gives
those roles the whole organisation: if that rule changes, this test fails before figures leak."""

from __future__ import annotations

from arrears.customers.models import Customer
from arrears.customers.service import customer_scope
from arrears.figures.service import _whole_org
from arrears.identity.caller import Caller
from arrears.identity.models import User


def _sql(expr) -> str:
    return str(expr.compile(compile_kwargs={"literal_binds": True}))


def test_whole_org_callers_are_exactly_those_the_customers_rule_gives_the_organisation():
    whole = _sql(Customer.org_id == 7)
    for role in ("admin", "manager", "collection_officer", "calling_agent", "field_officer"):
        caller = Caller(kind="user", org_id=7, user=User(id=3, username="x", password_hash="", role=role,
                                                         primary_org_id=7), role=role)
        assert _whole_org(caller) == (_sql(customer_scope(caller)) == whole), role
    assert not _whole_org(Caller(kind="user", org_id=7, role="collection_officer"))
    assert _whole_org(Caller(kind="api_key", org_id=7))
