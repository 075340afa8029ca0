"""The webhook client's transport: now the core `arrears.netguard_transport` (the SMS gateway
uses it too); kept importable here."""

from arrears.netguard_transport import SHARD, GuardedTransport

__all__ = ["SHARD", "GuardedTransport"]
