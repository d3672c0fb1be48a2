"""A guard for kombu's Redis transport when a worker loses the broker (kombu 5.7.0).

When Redis goes away under a running worker, Celery closes the old connection
(``Consumer.on_connection_error_after_connected``). Closing its channel restores the messages the
worker had received and not yet acknowledged (``QoS.restore_unacked``), which needs a Redis client,
which needs the connection's parameters; by then kombu has already dropped the connection
(``Transport.client`` is None) and the restore raises ``AttributeError: 'NoneType' object has no
attribute 'hostname'``. Celery takes that for an unrecoverable error and the worker stops: after a
Redis restart every worker that was busy is gone until something restarts it (``bench/chaos.py``
found the fleet dead after one restart).

The same missing connection breaks the acknowledgement of a task that finishes after it
(``QoS.ack`` on the closed channel: ``'NoneType' object has no attribute 'client'``), with the same
end. So two guards: a restore with no connection left restores nothing and says so, and any
client the closed channel would build raises a Redis ``ConnectionError``, which Celery handles as
it handles every broker error ("Couldn't ack", then reconnect). Nothing is lost: the messages are
still in Redis's unacknowledged set, which the transport restores after its visibility timeout,
and the comments they were for are still pending, which the periodic sweep queues again sooner.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


def restore_unacked_guarded(restore: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(restore)
    def guarded(self: Any, client: Any = None) -> Any:
        if client is None and getattr(self.channel.connection, "client", None) is None:
            if self._delivered:
                logger.warning(
                    "broker connection already closed: %d unacknowledged message(s) left for Redis to "
                    "restore after the visibility timeout",
                    len(self._delivered),
                )
            self._delivered.clear()
            return None
        return restore(self, client)

    guarded.moderato_guarded = True  # type: ignore[attr-defined]
    return guarded


def connparams_guarded(connparams: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(connparams)
    def guarded(self: Any, asynchronous: bool = False) -> Any:
        if self.connection is None or getattr(self.connection, "client", None) is None:
            import redis

            raise redis.exceptions.ConnectionError("the broker connection of this channel is closed")
        return connparams(self, asynchronous=asynchronous)

    guarded.moderato_guarded = True  # type: ignore[attr-defined]
    return guarded


def install() -> None:
    """Wrap ``QoS.restore_unacked`` and ``Channel._connparams`` of kombu's Redis transport once."""
    from kombu.transport import redis

    if not getattr(redis.QoS.restore_unacked, "moderato_guarded", False):
        redis.QoS.restore_unacked = restore_unacked_guarded(redis.QoS.restore_unacked)  # type: ignore[method-assign]
    channel: Any = redis.Channel  # the stubs do not know its private _connparams
    if not getattr(channel._connparams, "moderato_guarded", False):
        channel._connparams = connparams_guarded(channel._connparams)
