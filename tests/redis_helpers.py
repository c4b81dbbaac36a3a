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
