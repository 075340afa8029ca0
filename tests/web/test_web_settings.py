"""Settings pages: organisation settings (credentials write-only), users and their access."""

from __future__ import annotations

from arrears.db import transaction
from arrears.identity.caller import Caller
from tests.web.conftest import PASSWORD


async def _settings(org_id: int) -> dict:
    from arrears.identity import service as identity

    async with transaction(readonly=True) as s:
        org = await identity.get_org(s, org_id)
        return {"raw": dict(org.settings or {}), "masked": identity.masked_settings(org),
                "secret": identity.org_setting(org, "smsportal_api_secret")}


async def test_org_settings_and_write_only_credentials(people, world):
    org = await world.org("Acme Collections")
    ui, _ = await people(org.id, role="admin")
    r = await ui.get("/app/settings")
    assert r.status_code == 200 and 'value="Acme Collections"' in r.text
    assert "SMSPortal API secret" in r.text and "Not set" in r.text
    r = await ui.post("/app/settings", {"name": "", "timezone": "Mars/Olympus", "default_region": "ZAF"})
    assert r.status_code == 400
    for field in ("name", "timezone", "default_region"):
        assert f'id="{field}-error"' in r.text
    r = await ui.post("/app/settings", {"name": "Acme Debt Recovery", "timezone": "Africa/Johannesburg",
                                        "default_region": "za", "currency_symbol": "R",
                                        "cred_smsportal_client_id": "client-123",
                                        "cred_smsportal_api_secret": "s3cr3t-value"})
    assert r.status_code == 303
    stored = await _settings(org.id)
    assert stored["secret"] == "s3cr3t-value"
    assert "s3cr3t-value" not in str(stored["raw"])  # encrypted at rest
    r = await ui.get("/app/settings")
    assert "s3cr3t-value" not in r.text and "client-123" in r.text
    assert 'value="Acme Debt Recovery"' in r.text and 'value="ZA"' in r.text
    # A blank field keeps the stored secret; "Remove" clears it.
    r = await ui.post("/app/settings", {"name": "Acme Debt Recovery", "cred_smsportal_api_secret": ""})
    assert (await _settings(org.id))["secret"] == "s3cr3t-value"
    r = await ui.post("/app/settings", {"name": "Acme Debt Recovery", "clear_smsportal_api_secret": "1"})
    assert (await _settings(org.id))["secret"] is None
    # Any other setting, with secret-looking names encrypted too.
    r = await ui.post("/app/settings", {"name": "Acme Debt Recovery", "extra_key": "Bad Name", "extra_value": "x"})
    assert r.status_code == 400 and 'id="extra_key-error"' in r.text
    r = await ui.post("/app/settings", {"name": "Acme Debt Recovery", "extra_key": "crm_api_key",
                                        "extra_value": "crm-secret"})
    assert r.status_code == 303
    r = await ui.get("/app/settings")
    assert "crm_api_key" in r.text and "crm-secret" not in r.text and "Set (secret)" in r.text


async def test_org_settings_need_an_admin_with_write_access(people, world):
    org = await world.org()
    manager, _ = await people(org.id, role="manager")
    r = await manager.get("/app/settings")
    assert r.status_code == 200 and "Save settings" not in r.text and "Only an organisation admin" in r.text
    assert (await manager.post("/app/settings", {"name": "Hijacked"})).status_code == 403
    reader, _ = await people(org.id, role="admin", access="read")
    assert (await reader.post("/app/settings", {"name": "Hijacked"})).status_code == 403
    assert (await _settings(org.id))["masked"]["name"] != "Hijacked"


async def test_users_and_access(people, world):
    org = await world.org()
    other = await world.org("Other")
    stranger = await world.user(other.id, username="stranger")
    admin, me = await people(org.id, role="admin", username="boss")
    r = await admin.get("/app/settings/users")
    assert r.status_code == 200 and "boss" in r.text and "Add user" in r.text
    assert "stranger" not in r.text
    r = await admin.post("/app/settings/users", {"username": "", "password": "short", "role": "wizard",
                                                 "access": "write", "email": "nope"})
    assert r.status_code == 400
    for field in ("username", "password", "role", "email"):
        assert f'id="{field}-error"' in r.text
    r = await admin.post("/app/settings/users", {"username": "lerato", "password": "Another-pw-123",
                                                 "role": "collection_officer", "access": "read"})
    assert r.status_code == 303
    r = await admin.get("/app/settings/users?search=lera")
    assert "<strong>lerato</strong>" in r.text and "<strong>boss</strong>" not in r.text
    from sqlalchemy import select

    from arrears.identity.models import User

    async with transaction(readonly=True) as s:
        lerato = await s.scalar(select(User).where(User.username == "lerato"))
    r = await admin.post(f"/app/settings/users/{lerato.id}/access", {"access": "write"})
    assert r.status_code == 303
    async with transaction(readonly=True) as s:
        from arrears.identity import service as identity

        assert (await identity.caller_for_user(s, lerato.id)).access == "write"
    assert (await admin.post(f"/app/settings/users/{me.id}/access", {"access": "read"})).status_code == 400
    assert (await admin.post(f"/app/settings/users/{stranger.id}/access", {"access": "read"})).status_code == 404
    # The new user signs in through the UI with the password the admin chose.
    manager, _ = await people(org.id, role="manager")
    r = await manager.get("/app/settings/users")
    assert r.status_code == 200 and "Add user" not in r.text
    assert (await manager.post("/app/settings/users", {"username": "x", "password": "y" * 10,
                                                       "role": "admin"})).status_code == 403
    officer, _ = await people(org.id, role="collection_officer")
    assert (await officer.get("/app/settings/users")).status_code == 403
    r = await officer.get("/app/settings")
    assert "Users and access" not in r.text and "API keys" not in r.text


async def _user_row(user_id: int) -> tuple[str, bool, list[str]]:
    from sqlalchemy import select

    from arrears.events import DomainEvent
    from arrears.identity.models import User

    async with transaction(readonly=True) as s:
        user = await s.get(User, user_id)
        kinds = (await s.scalars(select(DomainEvent.type).where(DomainEvent.subject_type == "user",
                                                                 DomainEvent.subject_id == str(user_id))
                                 .order_by(DomainEvent.id))).all()
        return user.role, user.is_active, list(kinds)


async def test_admin_changes_a_users_role(people, world):
    org = await world.org()
    other = await world.org("Other")
    stranger = await world.user(other.id, username="stranger", role="calling_agent")
    admin, me = await people(org.id, role="admin", username="boss")
    lerato = await world.user(org.id, username="lerato", role="collection_officer")
    r = await admin.get("/app/settings/users")
    assert f'action="/app/settings/users/{lerato.id}/role"' in r.text
    assert f'action="/app/settings/users/{me.id}/role"' not in r.text  # not one's own
    r = await admin.post(f"/app/settings/users/{lerato.id}/role", {"role": "manager"})
    assert r.status_code == 303
    assert "lerato is now manager." in admin.followed.text
    assert await _user_row(lerato.id) == ("manager", True, ["user.created", "user.updated"])
    # The new role applies at lerato's next request: a manager sees the users page.
    ui, _ = await people(org.id, role="calling_agent", username="agent7")
    assert (await ui.get("/app/settings/users")).status_code == 403

    r = await admin.post(f"/app/settings/users/{lerato.id}/role", {"role": "wizard"})
    assert r.status_code == 400 and "Must be one of: admin, manager" in r.text
    r = await admin.post(f"/app/settings/users/{me.id}/role", {"role": "calling_agent"})
    assert r.status_code == 400 and "You cannot change your own role" in r.text
    assert (await admin.post(f"/app/settings/users/{stranger.id}/role", {"role": "admin"})).status_code == 404
    assert (await admin.post("/app/settings/users/999999/role", {"role": "admin"})).status_code == 404
    assert (await _user_row(stranger.id))[0] == "calling_agent"
    assert (await _user_row(me.id))[0] == "admin"
    assert (await _user_row(lerato.id))[0] == "manager"


async def test_only_a_writing_admin_changes_roles_and_activity(people, world):
    org = await world.org()
    target = await world.user(org.id, username="target", role="field_officer")
    manager, _ = await people(org.id, role="manager")
    reader, _ = await people(org.id, role="admin", access="read")
    for ui in (manager, reader):
        r = await ui.get("/app/settings/users")
        assert r.status_code == 200 and "Change role" not in r.text and "Deactivate" not in r.text
        assert (await ui.post(f"/app/settings/users/{target.id}/role", {"role": "admin"})).status_code == 403
        assert (await ui.post(f"/app/settings/users/{target.id}/deactivate")).status_code == 403
    admin, _ = await people(org.id, role="admin")
    assert (await admin.post(f"/app/settings/users/{target.id}/role", {"role": "admin"}, csrf=False)).status_code == 403
    assert await _user_row(target.id) == ("field_officer", True, ["user.created"])


async def test_deactivated_user_is_signed_out_and_cannot_sign_in_until_reactivated(people, world, client):
    org = await world.org()
    admin, me = await people(org.id, role="admin", username="boss")
    sipho_ui, sipho = await people(org.id, role="collection_officer", username="sipho")
    assert (await sipho_ui.get("/app/")).status_code == 200
    r = await client.post("/api/auth/token/", json={"username": "sipho", "password": PASSWORD})
    assert r.status_code == 200
    access_token = r.json()["access"]

    r = await admin.get("/app/settings/users")
    assert 'aria-label="Deactivate sipho"' in r.text and 'aria-label="Deactivate boss"' not in r.text
    r = await admin.post(f"/app/settings/users/{sipho.id}/deactivate")
    assert r.status_code == 303
    assert "sipho is deactivated and can no longer sign in." in admin.followed.text
    assert "badge-inactive" in admin.followed.text and 'aria-label="Reactivate sipho"' in admin.followed.text
    assert await _user_row(sipho.id) == ("collection_officer", False, ["user.created", "user.deactivated"])

    # The open session ends at its next request, the API token stops working, sign-in fails.
    r = await sipho_ui.get("/app/")
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login")
    r = await client.get("/api/customers/", headers={"Authorization": f"Bearer {access_token}"})
    assert r.status_code == 401
    r = await client.post("/api/auth/token/", json={"username": "sipho", "password": PASSWORD})
    assert r.status_code == 401
    await sipho_ui.get("/app/login")
    r = await sipho_ui.post("/app/login", {"username": "sipho", "password": PASSWORD})
    assert r.status_code == 401 and "No active account found" in r.text

    assert (await admin.post(f"/app/settings/users/{me.id}/deactivate")).status_code == 400
    assert (await _user_row(me.id))[1] is True
    r = await admin.post(f"/app/settings/users/{sipho.id}/reactivate")
    assert r.status_code == 303 and "sipho can sign in again." in admin.followed.text
    assert await _user_row(sipho.id) == ("collection_officer", True,
                                         ["user.created", "user.deactivated", "user.activated"])
    await sipho_ui.login("sipho")
    assert (await sipho_ui.get("/app/")).status_code == 200


async def test_a_user_of_two_organisations_is_changed_only_by_an_admin_of_both(people, world):
    from arrears.identity import service as identity
    from arrears.identity.models import User

    north, south = await world.org("North"), await world.org("South")
    shared = await world.user(north.id, username="shared", role="calling_agent")
    async with transaction() as s:
        await identity.add_membership(s, Caller.system(south.id), await s.get(User, shared.id), "write")
    north_admin, _ = await people(north.id, role="admin")
    r = await north_admin.post(f"/app/settings/users/{shared.id}/deactivate")
    assert r.status_code == 403 and "also belongs to an organisation you do not administer" in r.text
    assert (await north_admin.post(f"/app/settings/users/{shared.id}/role", {"role": "admin"})).status_code == 403
    assert await _user_row(shared.id) == ("calling_agent", True, ["user.created"])
    # An admin with write access in both may.
    both, both_user = await people(north.id, role="admin")
    async with transaction() as s:
        await identity.add_membership(s, Caller.system(south.id), await s.get(User, both_user.id), "write")
    assert (await both.post(f"/app/settings/users/{shared.id}/role", {"role": "manager"})).status_code == 303
    assert (await _user_row(shared.id))[0] == "manager"
