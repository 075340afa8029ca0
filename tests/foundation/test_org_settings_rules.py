"""The organisation's own values are checked by identity (one rule for the settings page, the CLI
and any API), not by the page: a name, a real time zone, a two-letter region."""

from __future__ import annotations

import pytest

from arrears.db import transaction
from arrears.errors import ValidationFailed
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.models import Organisation


async def test_bad_values_are_named_and_change_nothing(world):
    org = await world.org()
    async with transaction() as s:
        row = await s.get(Organisation, org.id)
        with pytest.raises(ValidationFailed) as caught:
            await identity.set_org_settings(s, Caller.system(row.id), row, {"name": " ", "timezone": "Mars/Olympus",
                                                     "default_region": "ZAF"})
    assert set(caught.value.field_errors or {}) == {"name", "timezone", "default_region"}
    async with transaction(readonly=True) as s:
        row = await s.get(Organisation, org.id)
        assert row.name == org.name and "timezone" not in (row.settings or {})


async def test_good_values_are_kept_and_the_region_upper_cased(world):
    org = await world.org()
    async with transaction() as s:
        row = await s.get(Organisation, org.id)
        await identity.set_org_settings(s, Caller.system(row.id), row, {"timezone": "Africa/Johannesburg", "default_region": "za"})
    async with transaction(readonly=True) as s:
        row = await s.get(Organisation, org.id)
        assert identity.org_setting(row, "timezone") == "Africa/Johannesburg"
        assert identity.org_setting(row, "default_region") == "ZA"


async def test_user_uuids_are_read_in_one_query(world):
    org = await world.org()
    a = await world.user(org.id)
    b = await world.user(org.id)
    async with transaction(readonly=True) as s:
        assert await identity.user_uuids(s, [a.id, b.id, a.id]) == {a.id: str(a.uuid), b.id: str(b.uuid)}
        assert await identity.user_uuids(s, []) == {}
