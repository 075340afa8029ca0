"""Namespaces of `arrears.db.advisory_lock` for messaging's check-then-write rules that no unique
index expresses, each keyed by the organisation id: the per-customer contact cap (count the recent
messages, then write more) and template names that are unique regardless of case.
"""

from __future__ import annotations

_BASE = 0x4D534700  # "MSG\0"
CONTACT_CAP = _BASE + 1
TEMPLATE_NAMES = _BASE + 2
