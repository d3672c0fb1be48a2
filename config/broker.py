"""The embedded broker: kombu's file-system transport, with messages written atomically.

kombu's own ``_put`` creates the message file in the queue folder and writes it afterwards; a
worker polling at that moment takes the still-empty file, loses the message and its consumer
dies on the empty JSON. Here a message is written under a temporary folder and renamed into
the queue, so a worker only ever sees complete messages (rename is atomic on one file system).
The exchange table has the same race (created truncated, then locked): it is created without
truncation and rewritten under its lock, and an empty table reads as no bindings.
"""

import fcntl
import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps, loads


class AtomicChannel(filesystem.Channel):
    # kombu's filesystem Channel._put has this signature too (its stubs mark the same override).
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        filename = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        incoming = os.path.join(os.path.dirname(os.path.normpath(self.data_folder_out)), "incoming")
        os.makedirs(incoming, exist_ok=True)
        staged = os.path.join(incoming, filename)
        try:
            with open(staged, "wb") as f:
                f.write(dumps(payload).encode())
            os.replace(staged, os.path.join(self.data_folder_out, filename))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {filename!r} to directory") from exc

    def get_table(self, exchange: str) -> list[Any]:
        try:
            # _exchange_file is kombu's (5.4+), missing from celery-types' kombu stubs.
            with self._exchange_file(exchange).open("r") as f:  # type: ignore[attr-defined]
                fcntl.flock(f, fcntl.LOCK_SH)
                content = f.read()
        except FileNotFoundError:
            return []
        return [filesystem.exchange_queue_t(*q) for q in loads(content)] if content.strip() else []

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str | None, queue: str) -> None:
        file = self._exchange_file(exchange)  # type: ignore[attr-defined]  # as in get_table
        self.control_folder.mkdir(parents=True, exist_ok=True)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with os.fdopen(os.open(file, os.O_RDWR | os.O_CREAT, 0o644), "r+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            content = f.read()
            table = [filesystem.exchange_queue_t(*q) for q in loads(content)] if content.strip() else []
            if binding not in table:
                table.insert(0, binding)
                f.seek(0)
                f.truncate()
                f.write(dumps(table))


class AtomicFilesystemTransport(filesystem.Transport):
    Channel = AtomicChannel

    # The virtual transport's signature (celery-types' stubs give its base class **kwargs instead).
    def drain_events(self, connection: Any, timeout: float | None = None) -> None:  # type: ignore[override]
        # Celery's blocking loop drains for up to 2 s at a time and notices a stop request only
        # in between: shorter waits let a worker start its warm shutdown at once on SIGTERM.
        super().drain_events(connection, timeout=None if timeout is None else min(timeout, 0.2))

    @property
    def default_connection_params(self) -> dict[str, Any]:
        # No default host: a folder has none, and kombu warns "No hostname was supplied" about the
        # "filesystem://" URL whenever a default exists and the URL names no host.
        return {"port": self.default_port, "hostname": None}
