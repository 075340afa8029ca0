"""One module per page group; each exposes `router`, and `arrears.web.app` mounts them all in menu
order. Every module is imported here explicitly: a broken import is an error at start-up."""

from arrears.web.pages import (
    agents,
    auth,
    books,
    collections,
    figures,
    home,
    letters,
    messaging,
    partners,
    pharmacy,
    premiums,
    settings,
    strategies,
)

__all__ = ["agents", "auth", "books", "collections", "figures", "home", "letters", "messaging", "partners", "pharmacy",
           "premiums", "settings", "strategies"]
