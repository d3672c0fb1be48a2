"""Django's Redis cache, with one client object per connection pool instead of one per call.

``django.core.cache.backends.redis.RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every
cache operation; since redis-py 5 that constructor sets up the client's response callbacks each time,
which was half the CPU of a cache call (bench/submit_profile.py: the wake-up look of every submission,
the rate limits, the thread listings). A ``redis.Redis`` holds no connection of its own (it takes one
from the pool for each command) and may be shared between threads, so one per pool is kept.
"""

from typing import Any

from django.core.cache.backends import redis


class ReusedClientRedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}  # id of a pool (Django keeps each for good) -> its client

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's get_client with the client kept (_get_connection_pool and _client are not in the stubs).
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient  # (Django sets its client class here, not on the class)
