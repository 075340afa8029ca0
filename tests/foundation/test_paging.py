"""The core's paging: the page parameters and their 400, the UI's clamping, count + offset on
the test database (SQLite, or PostgreSQL with TEST_DATABASE_URL), and the one `Page`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from arrears.errors import ValidationFailed
from arrears.paging import MAX_ROW, Page, PageRequest, PageRule, fetch, of_list, page_count

AAMA = PageRule(20, 100)
PARTNER = PageRule(20, 100, size_name="limit")


def test_defaults_and_strings() -> None:
    assert AAMA.check() == PageRequest(1, 20)
    assert AAMA.check("", " ") == PageRequest(1, 20)
    assert AAMA.check(" 3 ", "100") == PageRequest(3, 100)
    assert PARTNER.check(2, 5).offset == 5


@pytest.mark.parametrize(("page", "size", "field", "words"), [
    (0, None, "page", "must be 1 or more"),
    (-1, None, "page", "must be 1 or more"),
    (None, 0, "limit", "must be between 1 and 100"),
    (None, 101, "limit", "must be between 1 and 100"),
    ("x", None, "page", "must be a whole number"),
    ("1.5", None, "page", "must be a whole number"),
    (True, None, "page", "must be a whole number"),
    ("9" * 5000, None, "page", "must be a whole number"),  # no quadratic int() of a huge string
    (MAX_ROW, None, "page", "must be at most"),
    (10**40, None, "page", "must be at most"),
    (MAX_ROW // 100 + 1, 100, "page", "must be at most"),
])
def test_bad_values_are_refused_naming_the_field(page, size, field, words) -> None:
    with pytest.raises(ValidationFailed) as caught:
        PARTNER.check(page, size)
    assert caught.value.status == 400
    assert list(caught.value.field_errors or {}) == [field]
    assert words in caught.value.message and caught.value.message.startswith(f"{field}: ")


def test_every_bad_value_is_named_at_once() -> None:
    with pytest.raises(ValidationFailed) as caught:
        AAMA.check(0, 1000)
    assert caught.value.field_errors == {"page": ["must be 1 or more"], "per_page": ["must be between 1 and 100"]}


def test_the_last_reachable_page_is_accepted() -> None:
    last = PARTNER.check(MAX_ROW // 100, 100)
    assert last.offset + last.size <= MAX_ROW


@pytest.mark.parametrize(("page", "size", "expected"), [
    (None, None, PageRequest(1, 20)), ("0", "0", PageRequest(1, 1)), ("-4", "5000", PageRequest(1, 100)),
    ("x", "y", PageRequest(1, 20)), (str(MAX_ROW), "100", PageRequest(MAX_ROW // 100, 100)),
    ("9" * 60, "10", PageRequest(1, 10)),
])
def test_the_ui_clamps(page, size, expected) -> None:
    assert AAMA.clamp(page, size) == expected


def test_page_figures() -> None:
    empty = Page([], 0, 1, 20)
    assert (empty.pages, empty.last_page, empty.has_more, empty.has_prev, empty.first_index, empty.last_index) == (
        0, 1, False, False, 0, 0)
    middle = Page(["c", "d"], 5, 2, 2)
    assert (middle.pages, middle.has_more, middle.has_next, middle.has_prev) == (3, True, True, True)
    assert (middle.first_index, middle.last_index) == (3, 4)
    last = Page(["e"], 5, 3, 2)
    assert (last.has_more, last.first_index, last.last_index) == (False, 5, 5)
    assert middle.with_items([1, 2]) == Page([1, 2], 5, 2, 2)
    assert page_count(0, 10) == 0 and page_count(10, 10) == 1 and page_count(11, 10) == 2


def test_pages_of_a_list() -> None:
    items = list("abcde")
    assert of_list(items, PageRequest(2, 2)) == Page(["c", "d"], 5, 2, 2)
    assert of_list(items, PageRequest(9, 2)) == Page([], 5, 9, 2)  # past the end: empty, the right total
    assert of_list(items, PageRequest(9, 2), last_when_past=True) == Page(["e"], 5, 3, 2)
    assert of_list([], PageRequest(4, 2), last_when_past=True) == Page([], 0, 1, 2)


async def test_count_and_offset_on_the_database(world) -> None:
    from arrears.db import transaction
    from arrears.identity.models import Organisation

    ids = [(await world.org(f"Org {i}")).id for i in range(5)]
    query = select(Organisation.id).where(Organisation.id.in_(ids)).order_by(Organisation.id)
    async with transaction(readonly=True) as s:
        assert await fetch(s, query, PageRequest(2, 2)) == Page(ids[2:4], 5, 2, 2)
        assert await fetch(s, query, PageRequest(9, 2)) == Page([], 5, 9, 2)
        assert await fetch(s, query, PageRequest(9, 2), last_when_past=True) == Page(ids[4:], 5, 3, 2)
        rows = await fetch(s, query, PageRequest(1, 3), scalars=False)
        assert [r[0] for r in rows.items] == ids[:3] and rows.total == 5
        # A total counted by the caller (a cheaper count) is trusted as given.
        assert (await fetch(s, query, PageRequest(1, 2), total=99)).total == 99
        # The furthest page a 64-bit offset reaches is read, empty, on both databases.
        far = PARTNER.check(MAX_ROW // 100, 100)
        assert await fetch(s, query, far) == Page([], 5, far.page, 100)
