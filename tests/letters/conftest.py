"""Fixtures: the RepaySync builders (organisations with one user per role, customers and loans
through the API) and the messaging stand-ins."""

from tests.faces.messaging.helpers import live, quick, sendgrid, smtp_server  # noqa: F401
from tests.faces.repaysync.conftest import rs  # noqa: F401
from tests.fixtures import cheap_password_hashing  # noqa: F401
