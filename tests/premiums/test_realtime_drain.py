"""A short-lived program (the CLI) publishes every event it committed to Redis and then exits:
cancelling a publish in flight used to leave redis-py, and asyncio.run() with it, waiting forever."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import redis

from arrears.realtime.hub import channel_for

PROGRAM = textwrap.dedent("""
    import asyncio, sys
    from arrears.realtime.hub import hub
    from arrears.state import state

    async def main():
        for i in range(int(sys.argv[1])):
            hub().publish(7, {"type": "test", "i": i})
            await asyncio.sleep(0)
        await state.close()  # as the CLI ends: the hub publishes what is queued

    asyncio.run(main())
    print("exited")
""")


def test_a_program_publishes_everything_then_exits(redis_url: str, tmp_path):
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe(channel_for(redis_url))
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    env = {"REDIS_URL": redis_url, "ARREARS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    p = subprocess.run([sys.executable, "-c", PROGRAM, "300"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and "exited" in p.stdout, p.stderr
    got = []
    while (m := pubsub.get_message(timeout=2)) is not None:
        if m["type"] == "message":
            got.append(json.loads(m["data"])["message"]["i"])
    assert got == list(range(300))
    pubsub.close()
    client.close()
