"""Untrusted files are parsed in child processes under hard limits (memory, CPU, wall time).

    from arrears.sandbox import get_pool, ParseFailed
    extraction = get_pool().call(extract_debtors, data)        # one answer
    for block in get_pool().stream(read_blocks, path):        # an iterator, streamed back
        ...
"""

from arrears.sandbox.limits import ParseLimits, get_parse_limits
from arrears.sandbox.pool import ParseFailed, ParsePool, get_pool, warm_pool_in_background

__all__ = ["ParseFailed", "ParseLimits", "ParsePool", "get_parse_limits", "get_pool",
           "warm_pool_in_background"]
