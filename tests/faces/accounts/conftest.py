"""Fixtures: the RepaySync builders (organisations, customers, loans through the API)."""

from tests.faces.repaysync.conftest import rs  # noqa: F401
