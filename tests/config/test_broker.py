import queue
import threading
import time

from kombu import Connection

from config.broker import AtomicFilesystemTransport


def channel(folder):
    (folder / "queue").mkdir(exist_ok=True)
    options = {"data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
               "control_folder": str(folder / "control"), "store_processed": False}  # fmt: skip
    return Connection(transport=AtomicFilesystemTransport, transport_options=options).default_channel


def test_it_never_hands_a_consumer_a_half_written_message(tmp_path):
    sent = [{"n": n, "text": "x" * 20000} for n in range(300)]
    producer_channel, consumer_channel = channel(tmp_path), channel(tmp_path)

    def produce() -> None:
        for payload in sent:
            producer_channel._put("jobs", payload)

    producer = threading.Thread(target=produce)
    producer.start()
    received = []
    deadline = time.monotonic() + 30
    while len(received) < len(sent) and time.monotonic() < deadline:
        try:
            received.append(consumer_channel._get("jobs"))  # polls as fast as it can
        except queue.Empty:
            pass
    producer.join()
    assert sorted(m["n"] for m in received) == list(range(300))
    assert all(m["text"] == "x" * 20000 for m in received)


def test_it_reads_an_exchange_table_that_is_being_created_as_empty(tmp_path):
    ch = channel(tmp_path)
    (tmp_path / "control").mkdir(exist_ok=True)
    (tmp_path / "control" / "celery.exchange").write_text("")  # created, not yet written
    assert ch.get_table("celery") == []
    ch._queue_bind("celery", "celery", "", "celery")
    ch._queue_bind("celery", "celery", "", "celery")
    assert [tuple(row) for row in ch.get_table("celery")] == [("celery", "", "celery")]
