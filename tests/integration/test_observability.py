"""Metrics, health and the request id through a real worker process, on whichever database and broker are configured."""

import json
import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import wait_for_status
from tests.integration.test_pipeline import CLEAN, TOXIC

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def scrape(base_url: str) -> dict[tuple[str, frozenset], float]:
    response = httpx.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def submit(base_url: str, body: str, request_id: str) -> int:
    payload = {"site": "planet", "thread": "/obs", "name": "Alice", "comment": body}
    response = httpx.post(f"{base_url}/api/v1/comments", json=payload, headers={"X-Request-ID": request_id}, timeout=10)
    assert response.status_code == 202, response.text
    assert response.headers["X-Request-ID"] == request_id
    return response.json()["id"]


def test_the_worker_scores_and_metrics_and_logs_say_so(worker, live_server, site):
    before = scrape(live_server.url)
    ids = {
        request_id: submit(live_server.url, body, request_id)
        for request_id, body in (
            (f"obs-clean-{uuid.uuid4().hex[:8]}", CLEAN),
            (f"obs-toxic-{uuid.uuid4().hex[:8]}", TOXIC),
        )
    }
    statuses = [wait_for_status(comment_id, {"published", "held", "rejected"}) for comment_id in ids.values()]
    assert statuses == ["published", "held"]

    def delta(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    # Observed in the worker process (just after it writes the decision), read by the web process.
    deadline = time.monotonic() + 10
    after = scrape(live_server.url)
    while delta("moderato_scoring_seconds_count") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        after = scrape(live_server.url)
    assert delta("moderato_scoring_seconds_count") == 2
    assert delta("moderato_comments_scored_total", outcome="published") == 1
    assert delta("moderato_comments_scored_total", outcome="held") == 1
    # Read from the database at scrape time.
    assert after[("moderato_comments_submitted_total", frozenset())] == 2
    assert after[("moderato_comments", frozenset({("status", "held")}))] == 1
    assert after[("moderato_comments", frozenset({("status", "pending")}))] == 0

    # Each comment has its scoring line in the worker's log, with its id; the drain that scored them
    # logs under the id of the request that woke it (the first submission's, or the second's).
    deadline = time.monotonic() + 15
    found: dict[int, dict] = {}
    while len(found) < len(ids) and time.monotonic() < deadline:
        for text in worker.log_path.read_text(errors="replace").splitlines():
            if text.startswith("{") and '"moderation.tasks"' in text:
                line = json.loads(text)
                if line.get("comment_id") in ids.values():
                    found[line["comment_id"]] = line
        time.sleep(0.1)
    assert set(found) == set(ids.values()), worker.log_path.read_text(errors="replace")[-3000:]
    for comment_id, line in found.items():
        assert line["message"].startswith(f"comment {comment_id}: ")
        assert line["request_id"] in ids


def test_healthz_hears_from_the_real_worker(worker, live_server, db):
    # The worker beats every second here; a previous test may have emptied the table.
    deadline = time.monotonic() + 15
    while True:
        response = httpx.get(f"{live_server.url}/healthz", timeout=10)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["workers"]["heard_from"] >= 1
