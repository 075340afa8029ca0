"""Partner platform: API clients, API keys, rate-limit tiers, usage, outbound webhook subscriptions
and signed deliveries.

Importing the package subscribes the webhook fan-out to domain events (fanout.on_event), so every
process that records events must import it: the app (through the partner face), the worker (through
arrears.partners.jobs) and migrations (through arrears.partners.models) do."""

from arrears.partners import fanout as _fanout  # noqa: F401
