"""Partner platform: API clients, API keys, rate-limit tiers, usage, outbound webhook subscriptions
and signed deliveries.

The webhook fan-out (fanout.on_event) is subscribed to domain events by `arrears.wiring.wire()`,
which the server, the worker and the CLI call at start; importing this package registers nothing."""
