"""Fixtures: the RepaySync builders (organisations, users, customers, loans through the API)."""

from tests.faces.repaysync.conftest import rs  # noqa: F401
from tests.fixtures import cheap_password_hashing  # noqa: F401
