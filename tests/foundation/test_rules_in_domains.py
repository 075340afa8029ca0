"""Issue 18 §6: who may see what is decided by the domains, not by the pages that show it. Each
rule the web pages used to hold is checked here through its service, with another organisation's
ids (the pages' own tests check the same through HTTP)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from arrears.db import transaction
from arrears.debtors import service as debtors
from arrears.debtors.models import DebtorReport
from arrears.errors import Forbidden, NotFound, ValidationFailed
from arrears.identity import admin
from arrears.identity import service as identity
from arrears.messaging import service as messaging
from arrears.premiums import listing
from arrears.premiums.models import Policy


async def _caller(user, org_id):
    async with transaction() as s:
        return await identity.caller_for_user(s, user.id, org_id)


async def _report(org_id: int, user_id: int, status: str, name: str) -> None:
    async with transaction() as s:
        s.add(DebtorReport(uuid=uuid.uuid4(), org_id=org_id, user_id=user_id, source="spreadsheet",
                           filename=name, original_filename=name, file_size=1, mime_type="text/csv",
                           file_format="csv", status=status, stage=status, total_rows=0, processed_rows=0,
                           success_rows=0, failed_rows=0, progress=1.0, progress_message="", attempts=1))


async def test_whose_uploads_a_list_shows_is_the_debtors_rule(env, world):
    org, other = await world.org("Mine"), await world.org("Theirs")
    manager, officer = await world.user(org.id, role="manager"), await world.user(org.id, role="collection_officer")
    stranger = await world.user(other.id, role="admin")
    await _report(org.id, officer.id, "completed", "officer-old.csv")
    await _report(org.id, manager.id, "completed", "manager.csv")
    await _report(org.id, officer.id, "failed", "officer-failed.csv")
    await _report(other.id, stranger.id, "completed", "theirs.csv")
    m, o, x = await _caller(manager, org.id), await _caller(officer, org.id), await _caller(stranger, other.id)
    assert (debtors.default_scope(m), debtors.default_scope(o)) == ("organisation", "own")
    async with transaction(readonly=True) as s:
        seen = {"m": [r.original_filename for r in (await debtors.list_reports(s, m, scope=None)).items],
                "o": [r.original_filename for r in (await debtors.list_reports(s, o, scope=None)).items],
                "x": [r.original_filename for r in (await debtors.list_reports(s, x, scope=None)).items]}
        assert seen == {"m": ["officer-failed.csv", "manager.csv", "officer-old.csv"],
                        "o": ["officer-failed.csv", "officer-old.csv"], "x": ["theirs.csv"]}
        # Completed ones only, newest first, in the same scope; never another organisation's.
        assert [r.original_filename for r in await debtors.completed_reports(s, m, 5)] == ["manager.csv",
                                                                                          "officer-old.csv"]
        assert [r.original_filename for r in await debtors.completed_reports(s, m, 1)] == ["manager.csv"]
        assert [r.original_filename for r in await debtors.completed_reports(s, o, 5)] == ["officer-old.csv"]
        assert [r.original_filename for r in await debtors.completed_reports(s, x, 5)] == ["theirs.csv"]
        with pytest.raises(Forbidden):  # an officer asking for the organisation's
            await debtors.list_reports(s, o, scope="organisation")


async def test_premium_lists_are_for_admins_and_managers(env, world):
    org, other = await world.org("Insurer"), await world.org("Other insurer")
    manager, officer = await world.user(org.id, role="manager"), await world.user(org.id, role="collection_officer")
    m, o = await _caller(manager, org.id), await _caller(officer, org.id)
    async with transaction() as s:
        for org_id, number in ((org.id, "POL_MINE"), (other.id, "POL_THEIRS")):
            s.add(Policy(org_id=org_id, policy_number=number, client_name="John Doe", premium_amount=150,
                         frequency="monthly", status="active"))
    assert listing.may_view(m) and not listing.may_view(o)
    async with transaction(readonly=True) as s:
        assert (await listing.policy(s, m, "POL_MINE")).policy_number == "POL_MINE"
        with pytest.raises(NotFound):
            await listing.policy(s, m, "POL_THEIRS")
        assert (await s.scalars(listing.policy_list(m))).all()[0].policy_number == "POL_MINE"
        assert len((await s.scalars(listing.policy_list(m))).all()) == 1
        assert (await listing.request_log(s, m, page=1, limit=10)) is not None
        for denied in (lambda: listing.policy_list(o), lambda: listing.collection_list(o)):
            with pytest.raises(Forbidden):
                denied()
        with pytest.raises(Forbidden):
            await listing.policy(s, o, "POL_MINE")
        with pytest.raises(Forbidden):
            await listing.request_log(s, o, page=1, limit=10)
        with pytest.raises(Forbidden):
            await listing.collection_outcomes(s, o, date(2026, 1, 1))


async def test_the_member_list_and_template_management_are_the_domains_rules(env, world):
    org = await world.org()
    manager, officer = await world.user(org.id, role="manager"), await world.user(org.id, role="collection_officer")
    reader = await world.user(org.id, role="manager", access="read")
    m, o, r = await _caller(manager, org.id), await _caller(officer, org.id), await _caller(reader, org.id)
    async with transaction(readonly=True) as s:
        names = {u.username for u, _ in (await s.execute(admin.members(m))).all()}
        assert names == {manager.username, officer.username, reader.username}
    with pytest.raises(Forbidden):
        admin.members(o)
    assert messaging.may_manage_templates(m)
    assert not messaging.may_manage_templates(o) and not messaging.may_manage_templates(r)


async def test_premium_keys_are_listed_and_revoked_by_their_own_admins(env, world):
    org, other = await world.org("Mine"), await world.org("Theirs")
    boss, manager = await world.user(org.id, role="admin"), await world.user(org.id, role="manager")
    viewer = await world.user(org.id, role="admin", access="read")
    a, m, v = await _caller(boss, org.id), await _caller(manager, org.id), await _caller(viewer, org.id)
    mine, _ = await world.api_key(org.id, ["policies:read"], kind="pct")
    theirs, _ = await world.api_key(other.id, ["policies:read"], kind="pct")
    async with transaction(readonly=True) as s:
        assert [k.key_id for k in (await s.scalars(admin.premium_keys(v))).all()] == [mine.key_id]
    with pytest.raises(Forbidden):
        admin.premium_keys(m)
    async with transaction() as s:
        for caller in (m, v):  # a manager; an admin with read-only access
            with pytest.raises(Forbidden):
                await admin.revoke_premium_key(s, caller, mine.key_id)
        for ident in (theirs.key_id, str(theirs.id), "pct_nope"):  # another organisation's is not found
            with pytest.raises(NotFound):
                await admin.revoke_premium_key(s, a, ident)
        assert (await admin.revoke_premium_key(s, a, mine.key_id)).revoked_at is not None
    async with transaction(readonly=True) as s:
        assert (await identity.find_api_key(s, theirs.key_id)).revoked_at is None


async def test_premium_keys_are_made_by_admins_with_known_permissions(env, world):
    org = await world.org()
    boss, manager = await world.user(org.id, role="admin"), await world.user(org.id, role="manager")
    viewer = await world.user(org.id, role="admin", access="read")
    a, m, v = await _caller(boss, org.id), await _caller(manager, org.id), await _caller(viewer, org.id)
    async with transaction() as s:
        for caller in (m, v):
            with pytest.raises(Forbidden):
                admin.premium_key_errors(caller, "", [])  # refused before the input is looked at
            with pytest.raises(Forbidden):
                await admin.create_premium_key(s, caller, name="Sync", scopes=["policies:read"])
        assert admin.premium_key_errors(a, " ", ["policies:read", "root"]) == {
            "name": ["Give the key a name, so that you recognise it later (e.g. the system that uses it)."],
            "scopes": ["Unknown permission."]}
        assert admin.premium_key_errors(a, "Sync", []) == {"scopes": ["Choose at least one permission."]}
        with pytest.raises(ValidationFailed) as bad:
            await admin.create_premium_key(s, a, name="Sync", scopes=["root"])
        assert bad.value.field_errors == {"scopes": ["Unknown permission."]}
        key, raw = await admin.create_premium_key(s, a, name=" Sync ", scopes=["policies:read", "*"])
        assert (key.org_id, key.kind, key.name, key.scopes) == (org.id, "pct", "Sync", ["*", "policies:read"])
        assert raw.startswith("pct_") and key.created_by_user_id == boss.id
    async with transaction(readonly=True) as s:
        assert [k.key_id for k in (await s.scalars(admin.premium_keys(a))).all()] == [key.key_id]


async def test_who_may_create_users_is_the_identity_services_rule(env, world):
    """`create_user` and `enrol_user` take the caller and authorise: the organisation's admins with
    write access and the system caller (the CLI) may; a manager, a read-only admin and an API key
    (even one with every scope) may not. The user lands in the caller's organisation."""
    from sqlalchemy import select

    from arrears.events import DomainEvent
    from arrears.identity.caller import Caller
    from arrears.identity.models import Membership

    org = await world.org("Mine")
    admin_user = await world.user(org.id, role="admin")
    admin_c = await _caller(admin_user, org.id)
    reader_c = await _caller(await world.user(org.id, role="admin", access="read"), org.id)
    manager_c = await _caller(await world.user(org.id, role="manager"), org.id)
    async with transaction() as s:
        key, _ = await identity.create_api_key(s, Caller.system(org.id), kind="pct", scopes=["*"])
    key_c = Caller(kind="api_key", org_id=org.id, api_key=key, access="write", scopes=frozenset({"*"}))
    fields = {"password": "Sup3r-secret-pw", "role": "collection_officer"}
    for who, refusal in ((manager_c, "Only organisation admins"), (reader_c, "read-only"),
                         (key_c, "Only organisation admins")):
        for make in (identity.create_user, identity.enrol_user):
            async with transaction() as s:
                with pytest.raises(Forbidden, match=refusal):
                    extra = {"email": None, "access": "write"} if make is identity.enrol_user else {}
                    await make(s, who, username=f"x{uuid.uuid4().hex[:6]}", **fields, **extra)
    async with transaction() as s:
        made = await identity.create_user(s, admin_c, username="by-admin", **fields)
        cli = await identity.enrol_user(s, Caller.system(org.id, "cli"), username="by-cli", email=None,
                                        access="read", **fields)
    async with transaction(readonly=True) as s:
        for user, actor, access in ((made, f"user:{admin_user.id}", "write"), (cli, "cli", "read")):
            assert (await s.scalar(select(Membership.access).where(Membership.user_id == user.id,
                                                                   Membership.org_id == org.id))) == access
            assert (await s.scalar(select(DomainEvent.actor).where(
                DomainEvent.type == "user.created", DomainEvent.subject_id == str(user.id)))) == actor
