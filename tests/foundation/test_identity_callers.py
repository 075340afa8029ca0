"""Identity's services that change data take the `Caller` and decide who may (issue 18, point 6):
organisations are made by the deployment's operator only; settings, API keys and memberships by
the organisation's admins with write access (or the system caller); another organisation's
rows are not found. Both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from arrears.db import transaction
from arrears.errors import Forbidden, NotFound
from arrears.events import DomainEvent
from arrears.identity import service as identity
from arrears.identity.caller import Caller
from arrears.identity.models import ApiKey, Membership, Organisation, User


async def _caller(user, org_id: int) -> Caller:
    async with transaction() as s:
        return await identity.caller_for_user(s, user.id, org_id)


async def _key_caller(world, org_id: int) -> Caller:
    key, _ = await world.api_key(org_id, ["*"], kind="ins")
    return Caller(kind="api_key", org_id=org_id, api_key=key, access="write", scopes=frozenset({"*"}))


async def test_only_the_operator_creates_organisations(world):
    org = await world.org()
    admin = await _caller(await world.user(org.id, role="admin"), org.id)
    for who in (admin, await _key_caller(world, org.id)):
        async with transaction() as s:
            with pytest.raises(Forbidden) as refused:
                await identity.create_org(s, who, name="Side Business")
        assert refused.value.status == 403
    async with transaction() as s:
        made = await identity.create_org(s, Caller.operator("cli"), name="Side Business")
        actor = await s.scalar(select(DomainEvent.actor).where(DomainEvent.type == "organisation.created",
                                                               DomainEvent.org_id == made.id))
    assert actor == "cli"
    async with transaction() as s:
        names = list(await s.scalars(select(Organisation.name).order_by(Organisation.id)))
    assert names == [org.name, "Side Business"]  # the refused ones made nothing


async def test_settings_are_the_admins_and_another_organisation_is_not_found(world):
    org, other = await world.org(), await world.org("Other Org")
    manager = await _caller(await world.user(org.id, role="manager"), org.id)
    reader = await _caller(await world.user(org.id, role="admin", access="read"), org.id)
    stranger = await _caller(await world.user(other.id, role="admin"), other.id)
    for who, refusal in ((manager, Forbidden), (reader, Forbidden), (await _key_caller(world, org.id), Forbidden),
                         (stranger, NotFound)):
        async with transaction() as s:
            with pytest.raises(refusal) as refused:
                await identity.set_org_settings(s, who, await identity.get_org(s, org.id), {"timezone": "UTC"})
        assert refused.value.status == (404 if refusal is NotFound else 403)
    admin = await _caller(await world.user(org.id, role="admin"), org.id)
    async with transaction() as s:
        await identity.set_org_settings(s, admin, await identity.get_org(s, org.id), {"timezone": "UTC"})
    async with transaction() as s:
        assert (await identity.get_org(s, org.id)).settings == {"timezone": "UTC"}
        actors = list(await s.scalars(select(DomainEvent.actor).where(DomainEvent.type == "organisation.updated",
                                                                      DomainEvent.org_id == org.id)))
    assert actors == [admin.actor]


async def test_api_keys_are_made_and_revoked_by_admins_of_their_own_organisation(world):
    org, other = await world.org(), await world.org("Other Org")
    manager = await _caller(await world.user(org.id, role="manager"), org.id)
    admin = await _caller(await world.user(org.id, role="admin"), org.id)
    stranger = await _caller(await world.user(other.id, role="admin"), other.id)
    async with transaction() as s:
        with pytest.raises(Forbidden):
            await identity.create_api_key(s, manager, kind="pct", scopes=["*"])
    async with transaction() as s:
        key, _ = await identity.create_api_key(s, admin, kind="pct", scopes=["collections:read"])
    assert key.org_id == org.id and key.created_by_user_id == admin.user_id
    for who, refusal in ((manager, Forbidden), (stranger, NotFound)):
        async with transaction() as s:
            with pytest.raises(refusal):
                await identity.revoke_api_key(s, who, await s.get(ApiKey, key.id))
    partner = await _key_caller(world, org.id)
    async with transaction() as s:
        assert (await s.get(ApiKey, key.id)).revoked_at is None
        # An API key (the partner face checks its clients:write scope) may; so may the CLI.
        await identity.revoke_api_key(s, partner, await s.get(ApiKey, key.id))
    async with transaction() as s:
        assert (await s.get(ApiKey, key.id)).revoked_at is not None


async def test_memberships_are_the_admins_of_the_organisation_joined(world):
    org, other = await world.org(), await world.org("Other Org")
    outsider = await world.user(other.id, role="collection_officer")
    manager = await _caller(await world.user(org.id, role="manager"), org.id)
    for who in (manager, await _key_caller(world, org.id)):
        async with transaction() as s:
            with pytest.raises(Forbidden):
                await identity.add_membership(s, who, await s.get(User, outsider.id), "read")
    stranger = await _caller(await world.user(other.id, role="admin"), other.id)
    admin = await _caller(await world.user(org.id, role="admin"), org.id)
    async with transaction() as s:
        # Another organisation's admin can only ever add people to their own organisation.
        await identity.add_membership(s, stranger, await s.get(User, outsider.id), "read")
        await identity.add_membership(s, admin, await s.get(User, outsider.id), "read")
    async with transaction() as s:
        rows = (await s.execute(select(Membership.org_id, Membership.access)
                                .where(Membership.user_id == outsider.id).order_by(Membership.org_id))).all()
    assert [tuple(r) for r in rows] == [(org.id, "read"), (other.id, "read")]
