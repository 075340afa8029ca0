"""Issue 20, point 5: every answer conforms to /openapi.json. Schemathesis generates a few requests
for each operation — with each credential the operation admits, with path ids of real rows of the
caller's organisation, and invalid ones — and checks each answer with its response-conformance
checks: the status is documented, the media type is, the body matches the documented schema and
the documented headers are sent."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
BUDGET_SECONDS = 110.0
SKIP_PREFIXES = ("/ws",)  # WebSocket routes are not HTTP operations

CLIENT_BODY = {"name": "Conformance App", "redirectUris": ["https://example.com/callback"],
               "contactEmail": "tech@example.com", "scopes": ["*"]}
TEMPLATE = "Dear [CustomerName], account [AccountCode] owes [TotalBalance]."


async def _created(client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    r = await client.post(path, json=body, headers=headers)
    assert r.status_code == 201, f"{path}: {r.status_code} {r.text}"
    return r.json()["id"] if "id" in r.json() else r.json()


async def _seed(client: httpx.AsyncClient, jwt: dict[str, str], org_id: int) -> dict[str, Any]:
    """Rows of the caller's organisation, so that ids in paths name something real."""
    customer = await _created(client, "/api/customers/", {"name": "Thandi Mokoena", "phone": "+27821234567"}, jwt)
    loan = await _created(client, "/api/loans/", {
        "loan_account_number": "LN-OA-1", "principal_amount": "50000.00", "interest_rate": "10.50",
        "loan_type": "personal", "tenure_months": 12, "loan_date": "2025-03-09", "customer": customer}, jwt)
    interaction = await _created(client, "/api/interactions/field/create/",
                                 {"loan": loan, "disposition": "Promise to pay"}, jwt)
    api_client = await _created(client, "/api/v1/api-clients", CLIENT_BODY, jwt)
    template = await _created(client, "/api/v1/templates", {"name": "Reminder", "body": TEMPLATE}, jwt)
    r = await client.post("/api/v1/api-keys", json={"clientId": api_client, "name": "k", "scopes": ["*"]},
                          headers=jwt)
    assert r.status_code == 201, r.text
    return {"ins_key": r.json()["key"], "customer_id": customer, "loan_id": loan, "interaction_id": interaction,
            "client_id": api_client, "template_id": template, "pharmacy_id": org_id}


def _credentials(path: str, creds: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """Every credential the operation's face admits (as documented in its `security`)."""
    if path.startswith("/api/v1/collections"):
        return [creds["jwt"], creds["pct"]]
    if path.startswith("/api/webhooks"):
        return [creds["pct"]]
    if path.startswith("/api/v1"):
        return [creds["jwt"], creds["ins"]]
    return [creds["jwt"]]


def _draw(strategy: Any) -> Any:
    """One generated case (`strategy.example()` generates ten to return one: ten times slower)."""
    drawn: list[Any] = []

    @settings(max_examples=1, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(case: Any) -> None:
        drawn.append(case)

    draw()
    if not drawn:
        raise Unsatisfiable("no case")
    return drawn[0]


async def _send(client: httpx.AsyncClient, case: Any, headers: dict[str, str]) -> httpx.Response | None:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    kwargs.pop("cookies", None)
    if not headers:
        kwargs["headers"] = {k: v for k, v in kwargs["headers"].items() if k.lower() != "authorization"}
    request = client.build_request(**kwargs)
    try:
        await request.aread()  # a generated multipart value httpx cannot encode: not a request
    except (TypeError, AttributeError, ValueError):
        return None
    return await client.send(request)


def _failure(op: Any, case: Any, r: httpx.Response, exc: BaseException) -> str:
    return f"{op.label} -> {r.status_code} {r.headers.get('content-type')}: {exc}\n{case.as_curl_command()}\n{r.text[:300]}"


@pytest.mark.slow  # about 60-110 s: a few examples of each of ~115 operations
@pytest.mark.timeout(300)
async def test_every_answer_conforms_to_the_documented_schema(app: Any, client: httpx.AsyncClient,
                                                              world: Any) -> None:
    org = await world.org()
    creds = {"jwt": await world.login_headers(client, org.id),
             "pct": {"Authorization": f"Bearer {(await world.api_key(org.id, ['*'], kind='pct'))[1]}"}}
    ids = await _seed(client, creds["jwt"], org.id)
    creds["ins"] = {"Authorization": f"Bearer {ids['ins_key']}"}  # a partner key of the seeded client
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50, "the schema lost its operations"
    started, failures, statuses, unreached, checked = time.monotonic(), [], set(), [], 0
    for op in operations:
        if op.path.startswith(SKIP_PREFIXES):
            continue
        if time.monotonic() - started > BUDGET_SECONDS:
            unreached.append(op.label)
            continue
        names = {p.name for p in op.path_parameters}
        real = {name: ids[name] for name in names if name in ids}
        admitted = _credentials(op.path, creds)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                case = _draw(op.as_strategy(mode))
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                continue
            sends = [(case, admitted[0] if mode == GenerationMode.POSITIVE else admitted[-1])]
            if mode == GenerationMode.POSITIVE:
                sends.append((case, {}))  # no credential at all
                if real:  # the same request on rows that exist, with each credential admitted
                    sends += [(op.Case(path_parameters={**case.path_parameters, **real}, query=case.query,
                                       body=case.body, media_type=case.media_type), headers)
                              for headers in admitted]
            for sent, headers in sends:
                r = await _send(client, sent, headers)
                if r is None:
                    continue
                statuses.add(r.status_code)
                checked += 1
                try:
                    sent.validate_response(r, checks=CHECKS, headers=headers)
                except (Exception, BaseExceptionGroup) as exc:  # FailureGroup: each check that failed
                    failures.append(_failure(op, sent, r, exc))
    assert not failures, f"{len(failures)} answers do not conform:\n\n" + "\n\n".join(failures[:12])
    if unreached:
        pytest.fail(f"{len(unreached)} operations not checked within {BUDGET_SECONDS:g} s: {unreached[:10]}")
    # The run saw successes and the faces' errors, not only one kind of answer.
    assert {200, 201, 400, 401, 404} <= statuses, statuses
    assert checked >= 3 * len(operations), checked  # most generated requests could be sent
