"""Issue 19, point 9: schemathesis fuzzes every operation of `/openapi.json` with each face's
credentials, a few examples each, and no answer may be a 500 (schemathesis' `not_a_server_error`
check; whether answers match their documented schemas is the contract-details issue's)."""

from __future__ import annotations

import time
import warnings
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import NonInteractiveExampleWarning

EXAMPLES = 3  # per operation
BUDGET_SECONDS = 200.0  # the whole run; the operations not reached are named in the failure
SKIP_PREFIXES = ("/ws",)  # WebSocket routes are not HTTP operations


def _cases(strategy: Any, n: int) -> list[Any]:
    """Up to `n` generated cases, drawn by one short Hypothesis run (`strategy.example()` generates a
    batch of ten and hands them out one by one: three were used, ten paid for)."""
    drawn: list[Any] = []

    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(case: Any) -> None:
        drawn.append(case)

    draw()
    return drawn


def _credentials(path: str, creds: dict[str, dict[str, str]]) -> dict[str, str]:
    if path.startswith("/api/v1/collections") or path.startswith("/api/webhooks"):
        return creds["pct"]
    if path.startswith("/api/v1"):
        return creds["ins"]
    return creds["jwt"]


@pytest.mark.slow  # about 60-150 s: three examples of each of ~110 operations
@pytest.mark.timeout(400)
async def test_no_operation_answers_500(app: Any, client: httpx.AsyncClient, world: Any) -> None:
    org = await world.org()
    creds = {"jwt": await world.login_headers(client, org.id),
             "pct": {"Authorization": f"Bearer {(await world.api_key(org.id, ['*'], kind='pct'))[1]}"},
             "ins": {"Authorization": f"Bearer {(await world.api_key(org.id, ['*'], kind='ins'))[1]}"}}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50, "the schema lost its operations"
    started, sent, server_errors, unreached = time.monotonic(), 0, [], []
    warnings.simplefilter("ignore", NonInteractiveExampleWarning)
    for op in operations:
        if op.path.startswith(SKIP_PREFIXES):
            continue
        if time.monotonic() - started > BUDGET_SECONDS:
            unreached.append(op.label)
            continue
        for case in _cases(op.as_strategy(), EXAMPLES):
            kwargs = case.as_transport_kwargs(base_url="http://testserver",
                                              headers=_credentials(op.path, creds))
            kwargs.pop("cookies", None)
            request = client.build_request(**kwargs)
            try:
                await request.aread()  # a generated multipart value httpx cannot encode: not a request
            except (TypeError, AttributeError, ValueError):
                continue
            r = await client.send(request)
            sent += 1
            if r.status_code >= 500 and r.status_code != 503:  # 503: an outage answer, by design
                server_errors.append(f"{op.label} -> {r.status_code}: {case.as_curl_command()}\n{r.text[:300]}")
    assert not server_errors, "\n\n".join(server_errors[:10])
    if unreached:
        pytest.fail(f"{len(unreached)} operations not fuzzed within {BUDGET_SECONDS:g} s: {unreached[:10]}")
    assert sent >= len(operations), sent  # most generated cases were sent
