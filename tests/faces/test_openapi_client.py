"""Issue 20, point 5: a client generated from /openapi.json with openapi-python-client (no warning:
a schema the generator cannot read is the schema's fault) imports, and calls operations of each
face against the app over HTTP, decoding each answer into its typed model — successes and one
error of each face in that face's own error body."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

PACKAGE = "arrears_oa"
CONFIG = f"post_hooks: []\nproject_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\n"


def _generate(spec: dict[str, Any], where: Path) -> str:
    (where / "openapi.json").write_text(json.dumps(spec))
    (where / "config.yaml").write_text(CONFIG)
    cli = Path(sys.executable).parent / "openapi-python-client"
    done = subprocess.run([str(cli), "generate", "--path", str(where / "openapi.json"), "--meta", "none",
                           "--output-path", str(where / PACKAGE), "--config", str(where / "config.yaml")],
                          capture_output=True, text=True, timeout=240)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


class Generated:
    """The generated package, and its operations found by the schema's operationId."""

    def __init__(self, package: ModuleType, spec: dict[str, Any], root: Path) -> None:
        self.package = package
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.spec = spec
        self.modules = {p.stem: f"{PACKAGE}.api.{p.parent.name}.{p.stem}"
                        for p in (root / PACKAGE / "api").glob("*/*.py") if p.stem != "__init__"}

    def op(self, method: str, path: str) -> Any:
        operation_id = self.spec["paths"][path][method]["operationId"]
        name = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", operation_id.lower())).strip("_")
        return importlib.import_module(self.modules[name])

    def client(self, app: Any, token: str | None = None) -> Any:
        args = {"transport": httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))}
        if token is None:
            return self.package.Client(base_url="http://testserver", httpx_args=args)
        return self.package.AuthenticatedClient(base_url="http://testserver", token=token, httpx_args=args)


@pytest.fixture
async def generated(client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    spec = (await client.get("/openapi.json")).json()
    output = await asyncio.to_thread(_generate, spec, tmp_path)
    assert "Warning" not in output and "WARNING" not in output, output
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield Generated(importlib.import_module(PACKAGE), spec, tmp_path)
    finally:
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


async def _tokens(world: Any, client: httpx.AsyncClient, org_id: int) -> dict[str, str]:
    jwt = (await world.login_headers(client, org_id))["Authorization"].removeprefix("Bearer ")
    return {"jwt": jwt, "pct": (await world.api_key(org_id, ["*"], kind="pct"))[1]}


@pytest.mark.slow  # the generator takes 5-30 s
@pytest.mark.timeout(300)
async def test_a_generated_client_decodes_each_faces_answers(app: Any, client: httpx.AsyncClient, world: Any,
                                                             generated: Generated) -> None:
    org, other = await world.org(), await world.org("Other Pharmacy")
    tokens = await _tokens(world, client, org.id)
    m = generated.models
    user, pct = (generated.client(app, tokens[k]) for k in ("jwt", "pct"))

    # RepaySync: a customer made and read back typed; a bad one refused with field errors.
    create = generated.op("post", "/api/customers/")
    made = await create.asyncio(client=user, body=m.CustomerIn(name="Thandi Mokoena", phone="+27821234567"))
    assert isinstance(made, m.CustomerOut) and isinstance(made.id, int) and made.name == "Thandi Mokoena"
    listed = await generated.op("get", "/api/customers/").asyncio(client=user)
    assert [c.id for c in listed] == [made.id] and isinstance(listed[0], m.CustomerOut)
    refused = await create.asyncio_detailed(client=user, body=m.CustomerIn(name="", email="not-an-email"))
    assert refused.status_code == 400 and isinstance(refused.parsed, m.RepaySyncError)
    assert set(refused.parsed.errors.additional_properties) >= {"name", "email"}, refused.content
    missing = await generated.op("get", "/api/customers/{customer_id}/").asyncio_detailed(
        client=user, customer_id=made.id + 1000)
    assert missing.status_code == 404 and isinstance(missing.parsed.error, str)
    # Signing in: a public operation, its 401 decoded.
    signin = await generated.op("post", "/api/auth/token/").asyncio_detailed(
        client=generated.client(app), body=m.TokenRequest(username="nobody", password="wrong-password"))
    assert signin.status_code == 401 and isinstance(signin.parsed, m.RepaySyncError), signin.content

    # AAMA: a typed page parameter; an unknown upload and a bad page in AAMA's error body.
    uploads = generated.op("get", "/api/uploads")
    page = await uploads.asyncio_detailed(client=user, page=1, per_page=10)
    assert page.status_code == 200 and json.loads(page.content)["uploads"] == []
    bad = await uploads.asyncio_detailed(client=user, page=0)
    assert bad.status_code == 400 and isinstance(bad.parsed, m.AamaError)
    assert bad.parsed.code == "VALIDATION_ERROR" and isinstance(bad.parsed.details, str)
    assert "page" in bad.parsed.field_errors.additional_properties
    unknown = await generated.op("get", "/api/uploads/{upload_id}").asyncio_detailed(
        client=user, upload_id=str(uuid.uuid4()))
    assert unknown.status_code == 404 and isinstance(unknown.parsed, m.AamaError), unknown.content

    # Pharmacy: the caller's own pharmacy lists (typed flags and buckets); another's is not found.
    debtors = generated.op("get", "/pharmacies/{pharmacy_id}/debtors")
    own = await debtors.asyncio_detailed(client=user, pharmacy_id=org.id, has_email=True,
                                         ageing_buckets="d60,d90", per_page=5)
    assert own.status_code == 200 and json.loads(own.content)["debtors"] == [], own.content
    theirs = await debtors.asyncio_detailed(client=user, pharmacy_id=other.id)
    assert theirs.status_code == 404 and isinstance(theirs.parsed, m.PharmacyError)
    assert theirs.parsed.detail == "Pharmacy not found"

    # Premium: the webhook log with a pct_ key; a user token refused in the premium body.
    logs = generated.op("get", "/api/webhooks/logs")
    assert (await logs.asyncio_detailed(client=pct, page=1, limit=5)).status_code == 200
    refused_jwt = await logs.asyncio_detailed(client=user)
    assert refused_jwt.status_code == 401 and isinstance(refused_jwt.parsed, m.PremiumError)
    assert isinstance(refused_jwt.parsed.error, m.PremiumErrorPremiumErrorDetail)
    assert refused_jwt.parsed.error.code and refused_jwt.parsed.error.message

    # Debit orders: runs listed with the captive's key; an unknown run in the premium body.
    runs = await generated.op("get", "/api/v1/collections/runs").asyncio_detailed(client=pct, limit=5)
    assert runs.status_code == 200 and json.loads(runs.content)["data"] == []
    no_run = await generated.op("get", "/api/v1/collections/runs/{run_id}").asyncio_detailed(
        client=user, run_id=str(uuid.uuid4()))
    assert no_run.status_code == 404 and isinstance(no_run.parsed, m.PremiumError)
    assert no_run.parsed.error.code == "RUN_NOT_FOUND"

    # Partner: a client created with the admin's JWT, listed with the ins_ key by a typed enum sort;
    # an unknown client in the partner body.
    body = m.ClientCreate.from_dict({"name": "Typed App", "redirectUris": ["https://example.com/cb"],
                                     "contactEmail": "tech@example.com", "scopes": ["*"]})
    created = await generated.op("post", "/api/v1/api-clients").asyncio_detailed(client=user, body=body)
    assert created.status_code == 201, created.content
    client_id = json.loads(created.content)["id"]
    key = await generated.op("post", "/api/v1/api-keys").asyncio_detailed(
        client=user, body=m.KeyCreate(client_id=client_id, name="typed key", scopes=["*"]))
    assert key.status_code == 201, key.content
    ins = generated.client(app, json.loads(key.content)["key"])  # a partner key of that client
    list_clients = generated.op("get", "/api/v1/api-clients")
    sort_by, sort_order = (next(t for name, t in vars(m).items() if name.startswith("ListClients")
                                and name.endswith(suffix)) for suffix in ("GetSortby", "GetSortorder"))
    listed_clients = await list_clients.asyncio_detailed(client=ins, sort_by=sort_by("name"),
                                                         sort_order=sort_order("asc"))
    assert listed_clients.status_code == 200, listed_clients.content
    assert [c["name"] for c in json.loads(listed_clients.content)["data"]] == ["Typed App"]
    nowhere = await generated.op("get", "/api/v1/api-clients/{client_id}").asyncio_detailed(
        client=ins, client_id=str(uuid.uuid4()))
    assert nowhere.status_code == 404 and isinstance(nowhere.parsed, m.PartnerError)
    assert nowhere.parsed.error == "NOT_FOUND" and nowhere.parsed.message
