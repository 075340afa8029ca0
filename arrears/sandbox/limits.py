"""The limits of a parse of an untrusted file: the `parse` section of the settings tree
(ARREARS_PARSE_* variables; see arrears.config.ParseSettings). The child process reads the same
section from the environment it inherits."""

from __future__ import annotations

from arrears.config import ParseSettings, get_settings

# The sandbox's own name for the section (tests build lenient or strict limits with it).
ParseLimits = ParseSettings


def get_parse_limits() -> ParseLimits:
    return get_settings().parse
