"""The collection state machine, table-driven over every pair of statuses."""

from __future__ import annotations

import itertools

import pytest

from arrears.premiums.state import (
    FINAL,
    OPEN,
    STATUSES,
    TRANSITIONS,
    CollectionStatus,
    InvalidStatus,
    InvalidTransition,
    can_transition,
    check_transition,
    is_final,
    parse_status,
)

# The machine as the issue writes it: pending → submitted → successful | failed,
# pending | submitted → cancelled.
ALLOWED = {("pending", "submitted"), ("pending", "cancelled"), ("submitted", "successful"),
           ("submitted", "failed"), ("submitted", "cancelled")}
ALL_PAIRS = list(itertools.product(STATUSES, STATUSES))


def test_the_table_is_the_machine():
    assert {(a.value, b.value) for a, nxt in TRANSITIONS.items() for b in nxt} == ALLOWED
    assert {s.value for s in FINAL} == {"successful", "failed", "cancelled"}
    assert {s.value for s in OPEN} == {"pending", "submitted"}
    assert set(TRANSITIONS) == set(CollectionStatus)


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_every_pair(current, target):
    if current == target:
        assert check_transition(current, target) is False  # a harmless repeat
        assert not can_transition(current, target)
    elif (current, target) in ALLOWED:
        assert check_transition(current, target) is True
        assert can_transition(current, target)
    else:
        assert not can_transition(current, target)
        with pytest.raises(InvalidTransition) as info:
            check_transition(current, target)
        assert info.value.status == 409 and info.value.code == "INVALID_STATUS_TRANSITION"
        assert current in info.value.message and target in info.value.message


@pytest.mark.parametrize("status", STATUSES)
def test_final_states_have_no_way_out(status):
    assert is_final(status) == (status in {"successful", "failed", "cancelled"})
    if is_final(status):
        assert all(not can_transition(status, t) for t in STATUSES)


@pytest.mark.parametrize("value", ["done", "", None, 3, "PENDINGX"])
def test_unknown_status(value):
    with pytest.raises(InvalidStatus) as info:
        parse_status(value)
    assert info.value.code == "INVALID_STATUS" and info.value.status == 400


def test_status_is_case_insensitive():
    assert parse_status(" Successful ") is CollectionStatus.SUCCESSFUL
