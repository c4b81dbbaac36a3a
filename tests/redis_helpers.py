"""The local Redis of the tests that share state between nodes (`.ci/run` starts one)."""

import pytest


def redis_or_skip(url: str):
    """A client of the Redis at `url`; the test is skipped, saying why, when none answers."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis server answers at 127.0.0.1:6379 (.ci/run starts one)")
    return client


def forget_queue(client, queue_name: str, prefix: str) -> None:
    """Remove what a test's own RQ queue and key prefix left in the shared Redis."""
    client.srem("rq:queues", f"rq:queue:{queue_name}")
    for pattern in (f"*{queue_name}*", f"*{prefix.rstrip(':')}*"):
        for name in client.scan_iter(match=pattern):
            client.delete(name)
