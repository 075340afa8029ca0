"""The messaging pacer through a Redis outage: FallbackPacer lives in arrears.messaging.ratelimit
(beside the pacers it switches between); this name stays importable."""

from arrears.messaging.ratelimit import FALLBACK_COMPONENT as COMPONENT
from arrears.messaging.ratelimit import FallbackPacer

__all__ = ["COMPONENT", "FallbackPacer"]
