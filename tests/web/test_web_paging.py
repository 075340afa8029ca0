"""The UI clamps page values instead of refusing them (people type URLs): an absurd page, one
below 1, an unreadable one or a page size over the maximum shows the nearest page, never an
error, on every kind of list (a query, a domain service's list, a list in memory)."""

from __future__ import annotations

import re

import pytest

INT64 = 2**63 - 1
ABSURD = (str(INT64), "9" * 60, "-5", "x", "")


@pytest.mark.parametrize("path", ["/app/books", "/app/pharmacy", "/app/partners", "/app/settings/users",
                                  "/app/premiums/log"])
async def test_absurd_pages_show_the_nearest_page(people, world, path) -> None:
    org = await world.org("Paging UI", kind="pharmacy" if "pharmacy" in path else "cell_captive")
    ui, _ = await people(org.id)
    for page in ABSURD:
        r = await ui.get(path, params={"page": page, "per_page": "100000"})
        assert r.status_code == 200, (path, page, r.status_code)
        assert "Page 1 of 1" in r.text or "pager" not in r.text


async def test_a_page_past_the_end_shows_the_last_one(people, world) -> None:
    org = await world.org("Paging UI members")
    ui, _ = await people(org.id)
    for _ in range(3):
        await world.user(org.id, role="collection_officer")
    r = await ui.get("/app/settings/users", params={"page": str(INT64), "per_page": "2"})
    assert r.status_code == 200 and "Page 2 of 2" in r.text
    assert re.search(r"3–4 of 4", r.text)
