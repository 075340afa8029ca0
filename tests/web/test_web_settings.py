"""Settings pages: organisation settings (credentials write-only), users and their access."""

from __future__ import annotations

from arrears.db import transaction


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
