"""The guard around kombu's restore of unacknowledged messages (config/redis_broker.py)."""

import pytest
from django.conf import settings

from config import redis_broker


@pytest.fixture
def channel():
    from kombu import Connection

    url = settings.REDIS_URL or "redis://127.0.0.1:6379/15"
    prefix = f"{settings.REDIS_PREFIX or 'moderato-test'}:guard:"
    connection = Connection(url, transport_options={"global_keyprefix": prefix})
    channel = connection.default_channel
    yield channel
    channel.qos._delivered.clear()
    connection.release()


def state_after_redis_went_away(channel) -> None:
    """What kombu leaves when Celery closes a worker's connection after Redis went away: the
    transport has dropped its connection and the channel its pool, one message still unacknowledged."""
    channel.qos._delivered["delivery-1"] = object()
    channel.connection.client = None
    channel._pool = None


def test_without_the_guards_the_restore_raises_what_stopped_the_workers(channel, monkeypatch):
    from kombu.transport import redis

    def unguarded(function):
        return getattr(function, "__wrapped__", function)

    monkeypatch.setattr(redis.Channel, "_connparams", unguarded(redis.Channel._connparams))
    state_after_redis_went_away(channel)
    with pytest.raises(AttributeError, match="hostname"):
        unguarded(redis.QoS.restore_unacked)(channel.qos)


def test_with_the_guard_it_restores_nothing_and_says_so(channel, caplog):
    from kombu.transport import redis

    redis_broker.install()
    redis_broker.install()  # once is enough: a second call does not wrap twice
    assert redis.QoS.restore_unacked.__wrapped__.__name__ == "restore_unacked"
    assert not hasattr(redis.QoS.restore_unacked.__wrapped__, "__wrapped__")
    state_after_redis_went_away(channel)
    with caplog.at_level("WARNING", logger="config.redis_broker"):
        assert channel.qos.restore_unacked() is None
    assert not channel.qos._delivered
    assert "1 unacknowledged message(s) left for Redis" in caplog.text


def test_with_a_connection_the_guard_leaves_the_restore_to_kombu(channel):
    calls = []
    guarded = redis_broker.restore_unacked_guarded(lambda qos, client=None: calls.append(client))
    guarded(channel.qos)  # the connection is there: the wrapped restore runs
    assert calls == [None]


def test_a_closed_channel_raises_a_broker_error_that_celery_handles_not_an_attribute_error(channel):
    """A task that finishes after its channel was closed acknowledges on it: kombu would build a client
    for a channel without a connection (AttributeError, the worker stops); the guard raises the Redis
    ConnectionError that Celery's "Couldn't ack" path catches."""
    import redis as redis_py
    from kombu.transport import redis

    redis_broker.install()
    channel.qos._delivered["delivery-2"] = object()
    channel._pool = None
    connection, channel.connection = channel.connection, None
    try:
        assert redis_py.exceptions.ConnectionError in connection.connection_errors
        with pytest.raises(redis_py.exceptions.ConnectionError, match="closed"):
            channel.qos.ack("delivery-2")
        unguarded = redis.Channel._connparams.__wrapped__
        with pytest.raises(AttributeError, match="client"):
            unguarded(channel)
    finally:
        channel.connection = connection
