"""The process's one model cache: active versions read from the database, a shipped fallback, health."""

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pytest
from django.utils import timezone

from comments.models import Comment, Thread
from ml.artifacts import ArtifactError, load_model, newest_version
from moderation import scoring, services
from moderation.checks import model_artifacts_check
from moderation.model_store import version_files_store
from moderation.models import ModelArtifactFile, ModelVersion

SHIPPED = Path(__file__).resolve().parents[2] / "ml" / "artifacts"
OLDER = "toxicity-2026.11.28.3"  # a real model that scores differently from the newest shipped one
LOCAL = "toxicity-2026.12.01.1-local"
TEXT = "You are a pathetic 1d10t, shut up"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_cache(settings, tmp_path):
    settings.MODERATO_MODEL_DIR = tmp_path / "models"
    scoring.clear_cache()
    yield
    scoring.clear_cache()


def stored_version(tmp_path: Path, version: str = LOCAL, status: str = "active") -> ModelVersion:
    """A version stored only in the database, as the learning loop leaves it: the older shipped
    toxicity model under a new name (nothing on disk, so a process can only read it from the database)."""
    build = tmp_path / "build" / version
    shutil.copytree(SHIPPED / "toxicity" / OLDER, build)
    meta = json.loads((build / "meta.json").read_text(encoding="utf-8"))
    meta["version"] = version
    (build / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    row = ModelVersion.objects.create(
        name="toxicity", version=version, status=status, based_on=OLDER, promoted_at=timezone.now()
    )
    version_files_store(model_version=row, version_dir=build)
    shutil.rmtree(build)
    return row


def corrupt(row: ModelVersion, how: str) -> None:
    weights = row.files.get(name="weights.npz")
    if how == "bytes":  # the bytes changed, their recorded hash did not
        content = bytearray(weights.content)
        content[len(content) // 2] ^= 0xFF
        ModelArtifactFile.objects.filter(pk=weights.pk).update(content=bytes(content))
    elif how == "missing":
        weights.delete()
    elif how == "meta":  # consistent hashes, but meta.json describes another artifact
        meta = row.files.get(name="meta.json")
        altered = bytes(meta.content).replace(LOCAL.encode(), b"toxicity-1999.01.01")
        ModelArtifactFile.objects.filter(pk=meta.pk).update(content=altered, sha256=hashlib.sha256(altered).hexdigest())


@pytest.fixture
def pending(site) -> Comment:
    thread = Thread.objects.create(site=site, key="/scoring")
    return Comment.objects.create(thread=thread, author_name="Carol", body=TEXT)


def test_it_scores_with_the_newest_shipped_models_when_no_version_is_active():
    shipped = {name: newest_version(SHIPPED, name) for name in ("toxicity", "spam")}
    assert scoring.get_scorer().versions == shipped
    health = scoring.model_health()
    assert health == scoring.ModelHealth(versions=shipped, active=shipped, problems=())
    assert not health.degraded
    assert model_artifacts_check(None) == []


def test_it_loads_an_active_version_from_the_database_into_its_own_cache(settings, tmp_path):
    row = stored_version(tmp_path)
    scorer = scoring.get_scorer()
    assert scorer.versions["toxicity"] == row.version
    older = load_model(SHIPPED, "toxicity", OLDER)
    assert scorer.score(TEXT)["TOXICITY"] == pytest.approx(older.score(TEXT)["TOXICITY"], abs=1e-6)
    assert (settings.MODERATO_MODEL_DIR / "toxicity" / row.version / "weights.npz").is_file()
    assert not scoring.model_health().degraded


def test_a_process_with_another_data_directory_reads_the_same_version(settings, tmp_path):
    row = stored_version(tmp_path)
    first = scoring.get_scorer().score(TEXT)
    settings.MODERATO_MODEL_DIR = tmp_path / "another-process"
    scoring.clear_cache()
    assert scoring.get_scorer().versions["toxicity"] == row.version
    assert scoring.get_scorer().score(TEXT) == first


@pytest.mark.parametrize(
    ("how", "says"), [("bytes", "SHA-256"), ("missing", "no stored weights.npz"), ("meta", "describes")]
)
def test_an_active_version_that_cannot_be_loaded_gives_way_to_the_shipped_model(tmp_path, caplog, how, says):
    row = stored_version(tmp_path)
    corrupt(row, how)
    with caplog.at_level(logging.ERROR, logger="moderation.scoring"):
        scorer = scoring.get_scorer()
    shipped = newest_version(SHIPPED, "toxicity")
    assert scorer.versions["toxicity"] == shipped
    health = scoring.model_health()
    assert health.degraded and health.versions["toxicity"] == shipped and health.active["toxicity"] == row.version
    assert len(health.problems) == 1 and row.version in health.problems[0] and says in health.problems[0]
    assert [record.levelname for record in caplog.records] == ["ERROR"]
    assert [message.id for message in model_artifacts_check(None)] == ["moderation.W001"]


def test_a_comment_is_still_scored_and_decided_when_the_active_version_is_corrupt(tmp_path, pending):
    corrupt(stored_version(tmp_path), "bytes")
    outcome = services.comment_score(comment_id=pending.pk)
    pending.refresh_from_db()
    assert outcome == pending.status and pending.status in {"published", "held", "rejected"}
    assert not any(reason.get("code") == "scoring_failed" for reason in pending.reasons)
    assert pending.model_versions["TOXICITY"] == newest_version(SHIPPED, "toxicity")
    assert pending.scores["TOXICITY"] == pytest.approx(scoring.get_scorer().score(TEXT)["TOXICITY"])


def test_the_perspective_endpoint_answers_with_the_shipped_model_when_the_active_version_is_corrupt(
    tmp_path, api, site
):
    from moderation.compat import services as compat

    _, key = compat.api_key_create(site=site, name="Coral Talk")
    corrupt(stored_version(tmp_path), "bytes")
    body = {"comment": {"text": TEXT}, "requestedAttributes": {"TOXICITY": {}}}
    response = api.post(f"/v1alpha1/comments:analyze?key={key}", body, format="json")
    assert response.status_code == 200, response.content
    shipped = load_model(SHIPPED, "toxicity", newest_version(SHIPPED, "toxicity"))
    value = response.json()["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
    assert value == pytest.approx(shipped.score(TEXT)["TOXICITY"], abs=1e-6)


def test_a_broken_version_is_logged_once_and_tried_again_once_stored_again(tmp_path, caplog):
    row = stored_version(tmp_path)
    good = tmp_path / "good" / row.version
    good.mkdir(parents=True)
    for file in row.files.all():
        (good / file.name).write_bytes(bytes(file.content))
    corrupt(row, "bytes")
    with caplog.at_level(logging.ERROR, logger="moderation.scoring"):
        for _ in range(3):
            scoring.active_versions_refresh()
            scoring.get_scorer()
    assert len(caplog.records) == 1 and scoring.model_health().degraded
    row.files.all().delete()
    version_files_store(model_version=row, version_dir=good)
    scoring.active_versions_refresh()
    assert scoring.get_scorer().versions["toxicity"] == row.version
    assert not scoring.model_health().degraded


def test_a_damaged_copy_in_the_cache_is_replaced_from_the_database(settings, tmp_path):
    row = stored_version(tmp_path)
    expected = scoring.get_scorer().score(TEXT)
    cached = settings.MODERATO_MODEL_DIR / "toxicity" / row.version / "weights.npz"
    cached.write_bytes(b"half a file")
    scoring.clear_cache()
    assert scoring.get_scorer().score(TEXT) == expected
    assert not scoring.model_health().degraded
    assert cached.read_bytes() == bytes(row.files.get(name="weights.npz").content)


def test_it_keeps_only_the_active_versions_and_the_shipped_ones_in_memory(tmp_path):
    shipped = sorted([newest_version(SHIPPED, "toxicity"), newest_version(SHIPPED, "spam")])
    first = stored_version(tmp_path, "toxicity-2026.12.01.1-local")
    scoring.get_scorer()
    assert scoring.cached_versions() == sorted([*shipped, first.version])
    ModelVersion.objects.filter(pk=first.pk).update(status="retired")
    second = stored_version(tmp_path, "toxicity-2026.12.02.1-local")
    scoring.active_versions_refresh()
    assert scoring.get_scorer().versions["toxicity"] == second.version
    assert scoring.cached_versions() == sorted([*shipped, second.version])
    ModelVersion.objects.filter(pk=second.pk).update(status="retired")  # back to the shipped model
    scoring.active_versions_refresh()
    scoring.get_scorer()
    assert scoring.cached_versions() == shipped


def test_without_the_shipped_artifacts_the_process_cannot_score_and_the_check_fails(settings, tmp_path):
    settings.MODERATO_ARTIFACTS_DIR = tmp_path / "nothing"
    with pytest.raises(ArtifactError):
        scoring.get_scorer()
    with pytest.raises(ArtifactError):
        scoring.shipped_models_load()
    health = scoring.model_health()
    assert health.degraded and health.versions == {} and "shipped" in health.problems[0]
    assert [message.id for message in model_artifacts_check(None)] == ["moderation.E001"]


def test_a_degraded_process_says_so_on_healthz_and_metrics_but_keeps_serving(tmp_path):
    """Degraded is not down: /healthz answers 200 with status "degraded" (a load balancer keeps the
    process), the models check names the problem, and the metric moderato_models_degraded is 1."""
    from django.test import Client

    from moderation.health import models_check

    corrupt(stored_version(tmp_path), "bytes")
    check = models_check()
    assert check["ok"] and check["degraded"] and check["active"]["toxicity"] == LOCAL and check["problems"]
    metrics = Client().get("/metrics").content.decode()
    assert "moderato_models_degraded 1.0" in metrics
    assert f'moderato_model_info{{model="toxicity",version="{newest_version(SHIPPED, "toxicity")}"}} 1.0' in metrics
