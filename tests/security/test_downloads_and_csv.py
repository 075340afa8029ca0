"""Issue 19, point 8, end to end through the collections API: the debit-order CSV (once unguarded)
goes through the one formula-injection guard, and a stored file whose name a user chose in
Cyrillic downloads (RFC 6266 `filename*`) instead of answering 500."""

from __future__ import annotations

import csv
import io
from datetime import date
from urllib.parse import quote

from tests.faces.collections.test_collections_api import BASE, policy_body, setup_captive, unpaids_for

NAME = "Ответ банка 2024.txt"


async def test_debit_csv_is_guarded_and_a_cyrillic_name_downloads(client, world):
    cap = await setup_captive(client, world, policies=1)
    r = await client.post("/api/webhooks/policies/update", headers=cap.headers,
                          json=policy_body("P2", client_name='=HYPERLINK("http://evil.example","pay")'))
    assert r.status_code == 200, r.text
    r = await client.post(f"{BASE}/runs", json={"action_date": "2024-01-31"}, headers=cap.headers)
    assert r.status_code == 201, r.text
    files = {f["kind"]: f for f in r.json()["data"]["files_created"]}
    r = await client.get(f"{BASE}/files/{files['csv']['id']}/download", headers=cap.headers)
    names = [row["client_name"] for row in csv.DictReader(io.StringIO(r.text))]
    assert names == ["Client P1", "'=HYPERLINK(\"http://evil.example\",\"pay\")"]

    acb = (await client.get(f"{BASE}/files/{files['acb']['id']}/download", headers=cap.headers)).text
    answer = unpaids_for(acb, {"M-P1": "12"}, date(2024, 2, 2))
    r = await client.post(f"{BASE}/reconciliations", headers=cap.headers,
                          files={"file": (NAME, answer.encode(), "text/plain")})
    assert r.status_code == 201, r.text
    stored = r.json()["data"]["file"]
    r = await client.get(f"{BASE}/files/{stored['id']}/download", headers=cap.headers)
    assert r.status_code == 200 and r.text == answer
    disposition = r.headers["content-disposition"]
    assert disposition.isascii() and f"filename*=UTF-8''{quote(NAME)}" in disposition, disposition
    assert 'filename="' in disposition  # an ASCII fallback beside it
