"""The home page's collection figures (collected per month, the kept rate, the CEI of the two newest
reports) and the agents' page (per agent: made, kept, broken, kept rate, promised against paid),
over the accounts the person sees, rendered through the app (tests/figures/book.py holds the data)."""

from __future__ import annotations

import re

from tests.faces.repaysync.conftest import RS, rs  # noqa: F401
from tests.figures.book import M1, M2, M3, M3_END, M3_START, R1, R2, assign_k1_to, make_book

NBSP = "\u00a0"


def _row(html: str, table: str, agent: str) -> list[str]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    row = next(r for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S) if agent in r)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]


async def test_home_shows_collected_kept_rate_and_cei(rs: RS, people, tmp_path):  # noqa: F811
    t = await rs.tenant()
    b = await make_book(t, tmp_path)
    ui, _ = await people(t.org.id, role="manager")
    r = await ui.get("/app/")
    assert r.status_code == 200
    section = r.text.split(">Collections<", 1)[1].split("</section>", 1)[0]
    # Kept 2 of 3 kept or broken in the last 12 months; CEI 83.33 %; 1 050 collected (950 in M2).
    assert "66.7%" in section and "83.3%" in section and f"{R1} to {R2}" in section
    assert f"R{NBSP}1{NBSP}050.00 in the last 12 months" in section
    assert f"{M2}: R{NBSP}950.00" in section  # the chart's description, month by month

    # A collection officer with no customers sees no figures; with K1's customer, K1's only.
    officer_ui, officer = await people(t.org.id, role="collection_officer")
    assert ">Collections<" not in (await officer_ui.get("/app/")).text
    await assign_k1_to(b, officer.id)
    section = (await officer_ui.get("/app/")).text.split(">Collections<", 1)[1].split("</section>", 1)[0]
    assert f"{M2}: R{NBSP}600.00" in section and "70.0%" in section and "50.0%" in section


async def test_agents_page_shows_each_agents_promises(rs: RS, people, tmp_path):  # noqa: F811
    t = await rs.tenant()
    b = await make_book(t, tmp_path)
    a, bb = b.agents["A"], b.agents["B"]
    ui, _ = await people(t.org.id, role="calling_agent")
    r = await ui.get("/app/agents", params={"dateFrom": M1, "dateTo": M3})
    assert r.status_code == 200 and 'href="/app/agents"' in r.text
    money = lambda v: f"R{NBSP}{v}"  # noqa: E731
    assert _row(r.text, "agent-figures", a.username) == [a.username, "3", "1", "1", "1", "50.0%", money("410.00"),
                                                         money("290.00")]
    assert _row(r.text, "agent-figures", bb.username) == [bb.username, "2", "1", "0", "0", "100.0%", money("50.00"),
                                                          money("50.00")]
    assert _row(r.text, "month-figures", M2)[1:6] == ["4", "2", "1", "0", "66.7%"]
    # A narrower period; a bad date is shown beside its field (and the default period used).
    r = await ui.get("/app/agents", params={"dateFrom": M3_START.isoformat(), "dateTo": M3_END.isoformat()})
    assert bb.username not in r.text.split('id="agent-figures"', 1)[1]
    r = await ui.get("/app/agents", params={"dateFrom": "soon"})
    assert r.status_code == 400 and "Not a valid date" in r.text

    # Another organisation's people see none of it.
    other = await rs.tenant("Other Org")
    other_ui, _ = await people(other.org.id, role="manager")
    r = await other_ui.get("/app/agents", params={"dateFrom": M1, "dateTo": M3})
    assert r.status_code == 200 and a.username not in r.text and "No promises in this period." in r.text
