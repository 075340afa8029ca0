from tests.partners.fixtures import allow_private, partner, receiver  # noqa: F401
