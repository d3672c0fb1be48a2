"""The active models of this process: the one model cache, and the process's model health.

The active version of each model is a ``ModelVersion`` row, written by the learning loop, and its
files are stored in the database (``moderation.model_store``); with no active row, the shipped
artifacts (``MODERATO_ARTIFACTS_DIR``, the configured or newest version) are active. A process looks
the rows up again every ``MODERATO_MODEL_REFRESH_SECONDS``, so it picks up a promotion or a rollback
within that time without a restart.

Loaded models are kept by version; a version that is no longer active is dropped at the next
refresh (the shipped ones stay: they are the fallback). When an active version cannot be loaded
(files missing, bytes altered, an artifact this code cannot read) the process logs an error, scores
with the shipped model and reports itself degraded (``model_health``). When the shipped artifacts
cannot be loaded, ``get_scorer`` raises ``ArtifactError``: ``config.wsgi`` and the Celery worker
then refuse to start (``shipped_models_load``), and ``manage.py`` stops on check ``moderation.E001``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction

from ml.artifacts import ArtifactError, load_model, newest_version
from ml.model import LinearTextModel
from ml.scoring import Scorer

logger = logging.getLogger(__name__)

MODELS = ("toxicity", "spam")
STORED = "database"  # the origin of versions stored by the learning loop, in the cache's keys


@dataclass(frozen=True)
class ModelHealth:
    """What this process scores with, what the database says should be active, and what went wrong.

    ``versions`` and ``active`` map model name to version, e.g. ``{"toxicity": "toxicity-2026.11.30"}``;
    they differ for a model whose active version could not be loaded. ``problems`` has one line per
    such model (empty when healthy).
    """

    versions: dict[str, str]
    active: dict[str, str]
    problems: tuple[str, ...] = ()

    @property
    def degraded(self) -> bool:
        return bool(self.problems)

    def as_json(self) -> dict[str, object]:
        return {
            "versions": self.versions,
            "active": self.active,
            "problems": list(self.problems),
            "degraded": self.degraded,
        }


@dataclass
class _State:
    checked_at: float
    shipped_config: tuple[str, str | None, str | None]
    rows: dict[str, str]  # model name -> version, from the active ModelVersion rows
    scorer: Scorer
    health: ModelHealth
    # version -> (stored files' fingerprint, problem) of active versions whose stored files are
    # unusable: retried only once they are stored again, so one error is logged, not one per refresh.
    failed: dict[str, tuple[Fingerprint, str]] = field(default_factory=dict)


Fingerprint = tuple[tuple[int, str, str], ...] | None
_lock = threading.Lock()
_models: dict[tuple[str, str], LinearTextModel] = {}  # (origin, version) -> model; origin: a directory or STORED
_state: _State | None = None


def shipped_version(name: str) -> str | None:
    """The configured shipped version of ``name`` (``None``: the newest in ``MODERATO_ARTIFACTS_DIR``)."""
    return settings.MODERATO_TOXICITY_MODEL if name == "toxicity" else settings.MODERATO_SPAM_MODEL


def _shipped_config() -> tuple[str, str | None, str | None]:
    return (str(settings.MODERATO_ARTIFACTS_DIR), settings.MODERATO_TOXICITY_MODEL, settings.MODERATO_SPAM_MODEL)


def _shipped(name: str) -> LinearTextModel:
    """The shipped model (call with the lock held); raise ``ArtifactError`` when it cannot be loaded."""
    directory = Path(settings.MODERATO_ARTIFACTS_DIR).resolve()
    version = shipped_version(name) or newest_version(directory, name)
    key = (str(directory), version)
    if key not in _models:
        _models[key] = load_model(directory, name, version)
    return _models[key]


def _stored(name: str, version: str) -> LinearTextModel:
    """A version stored by the learning loop, copied into the cache directory first (lock held)."""
    from moderation.model_store import version_materialise

    key = (STORED, version)
    if key not in _models:
        _models[key] = load_model(version_materialise(name=name, version=version), name, version)
    return _models[key]


def _active_rows() -> dict[str, str] | None:
    """Map model name to its active version; ``None`` when the table cannot be read (before migrate)."""
    from moderation.models import ModelVersion

    try:
        with transaction.atomic():  # a failed query must not break the caller's transaction
            return dict(ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values_list("name", "version"))
    except DatabaseError:
        return None


def _stored_fingerprint(version: str) -> Fingerprint:
    from moderation.model_store import stored_fingerprint

    try:
        with transaction.atomic():
            return stored_fingerprint(version=version)
    except DatabaseError:
        return None


def _refresh(now: float) -> _State:
    """Read the active versions, load what is missing, drop what is no longer active (lock held)."""
    from moderation.model_store import StoredModelError

    shipped = {name: _shipped(name) for name in MODELS}
    rows = _active_rows()
    if rows is None:  # before migrate, or the database is away for a moment: keep what this process had
        rows = dict(_state.rows) if _state is not None else {}
    previous_failures = _state.failed if _state is not None else {}
    failed: dict[str, tuple[Fingerprint, str]] = {}
    models: dict[str, LinearTextModel] = {}
    problems: list[str] = []
    for name in MODELS:
        version = rows.get(name)
        if version is None:
            models[name] = shipped[name]
            continue
        earlier = previous_failures.get(version)
        if earlier is not None and _stored_fingerprint(version) == earlier[0]:
            failed[version] = earlier
            problems.append(earlier[1])
            models[name] = shipped[name]
            continue
        try:
            with transaction.atomic():
                models[name] = _stored(name, version)
        except (StoredModelError, ArtifactError, DatabaseError, OSError) as exc:
            problem = (
                f"{name}: the active version {version} cannot be loaded ({exc}); "
                f"scoring with the shipped {shipped[name].version}"
            )
            logger.error("model health: %s", problem)
            if isinstance(exc, (StoredModelError, ArtifactError)):  # the files are at fault, not a passing error
                failed[version] = (_stored_fingerprint(version), problem)
            problems.append(problem)
            models[name] = shipped[name]
    keep = {(STORED, model.version) for model in models.values()} | {
        key for key, model in _models.items() if model in shipped.values()
    }
    for key in set(_models) - keep:
        logger.info("model cache: dropping %s, no longer active", key[1])
        del _models[key]
    versions = {name: model.version for name, model in models.items()}
    scorer = _state.scorer if _state is not None and _state.scorer.models == models else Scorer(models)
    if _state is None or _state.scorer is not scorer:
        logger.info("scoring with %s", versions)
    health = ModelHealth(
        versions=versions,
        active={name: rows.get(name, shipped[name].version) for name in MODELS},
        problems=tuple(problems),
    )
    return _State(
        checked_at=now, shipped_config=_shipped_config(), rows=rows, scorer=scorer, health=health, failed=failed
    )


def get_scorer() -> Scorer:
    """The scorer of the active models (refreshed every ``MODERATO_MODEL_REFRESH_SECONDS``)."""
    global _state
    with _lock:
        now = time.monotonic()
        if (
            _state is None
            or _state.shipped_config != _shipped_config()
            or now - _state.checked_at > settings.MODERATO_MODEL_REFRESH_SECONDS
        ):
            _state = _refresh(now)
        return _state.scorer


def model_health() -> ModelHealth:
    """This process's models: the versions it scores with, the active ones, and any problem (never raises).

    For ``/healthz``, ``/metrics`` and the system check ``moderation.W001``; ``degraded`` is true when
    an active version could not be loaded and the shipped model stands in for it.
    """
    try:
        get_scorer()
    except (ArtifactError, OSError) as exc:
        return ModelHealth(versions={}, active={}, problems=(f"the shipped models cannot be loaded: {exc}",))
    assert _state is not None
    return _state.health


def shipped_model(name: str) -> LinearTextModel:
    """The shipped model ``name`` (the base the learning loop fine-tunes), from the process's cache."""
    with _lock:
        return _shipped(name)


def shipped_models_load() -> dict[str, str]:
    """Load the shipped models, reading no database; raise ``ArtifactError`` when they cannot be loaded.

    A web or worker process calls this while it starts, so that it refuses to run without them.
    """
    with _lock:
        return {name: _shipped(name).version for name in MODELS}


def cached_versions() -> list[str]:
    """Every model version this process holds in memory, sorted: the active ones and the shipped ones."""
    with _lock:
        return sorted(version for _, version in _models)


def active_versions_refresh() -> None:
    """Read the active versions again at the next ``get_scorer`` (after a promotion or a rollback)."""
    global _state
    with _lock:
        if _state is not None:
            _state.checked_at = float("-inf")


def clear_cache() -> None:
    """Forget every loaded model and the active versions (in tests, or after artifacts change on disk)."""
    global _state
    with _lock:
        _state = None
        _models.clear()
