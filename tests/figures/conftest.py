"""Fixtures: the RepaySync builders (organisations, members by role) and the figures' book."""

from tests.faces.repaysync.conftest import rs  # noqa: F401
