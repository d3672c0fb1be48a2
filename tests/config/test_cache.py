import uuid

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from tests.comments.test_views import DEAD_REDIS_CACHE

# The Redis cache even in the embedded run (which caches in files): the Redis this run may use, else the
# local one CI and the README start, under this run's key prefix.
REDIS_CACHE = {
    "default": {
        "BACKEND": "config.cache.RedisCache",
        "LOCATION": settings.REDIS_URL or "redis://127.0.0.1:6379/15",
        "KEY_PREFIX": settings.REDIS_PREFIX,
    }
}


@override_settings(CACHES=REDIS_CACHE)
def test_it_keeps_one_client_per_pool_and_caches_through_it():
    cache = caches["default"]
    assert type(cache).__module__ == "config.cache"
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client("another key", write=True) is client
    key = f"test-cache-{uuid.uuid4().hex}"
    assert cache.add(key, 1, timeout=10) and not cache.add(key, 2, timeout=10)
    assert cache.get(key) == 1
    cache.set_many({key: {"a": 3}}, timeout=10)
    assert cache.get(key) == {"a": 3}
    cache.delete(key)
    assert cache.get(key) is None


def test_a_redis_that_does_not_answer_still_raises_so_that_callers_fail_open():
    import redis

    with override_settings(CACHES=DEAD_REDIS_CACHE):
        cache = caches["default"]
        with pytest.raises(redis.ConnectionError):
            cache.get("anything")
        with pytest.raises(redis.ConnectionError):  # the kept client does not hide a dead server either
            cache.add("anything", 1, timeout=10)
