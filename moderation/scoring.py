"""The active models, loaded once per process and per version.

The active version of each model is a ``ModelVersion`` row, written by the learning loop; with
none, the shipped artifacts (``MODERATO_ARTIFACTS_DIR``, the configured or newest version) are
active. A process looks the rows up again every ``MODERATO_MODEL_REFRESH_SECONDS``, so a worker
picks up a promotion or a rollback within that time without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError

from ml import scoring
from ml.artifacts import load_model
from ml.model import LinearTextModel

logger = logging.getLogger(__name__)

MODELS = ("toxicity", "spam")
_lock = threading.Lock()
_models: dict[tuple[Path, str, str | None], LinearTextModel] = {}
_scorers: dict[tuple[tuple[Path, str, str | None], ...], scoring.Scorer] = {}
_active: tuple[float, tuple[object, ...], tuple[tuple[Path, str, str | None], ...]] | None = None


def shipped_version(name: str) -> str | None:
    return settings.MODERATO_TOXICITY_MODEL if name == "toxicity" else settings.MODERATO_SPAM_MODEL


def active_sources() -> tuple[tuple[Path, str, str | None], ...]:
    """(directory, model, version) of each active model; version None means the newest shipped."""
    from moderation.models import ModelVersion

    try:
        rows = dict(
            (name, (Path(directory), version))
            for name, version, directory in ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values_list(
                "name", "version", "directory"
            )
        )
    except DatabaseError:  # before migrate has created the table: the shipped models
        rows = {}
    return tuple(
        (rows[name][0], name, rows[name][1])
        if name in rows
        else (Path(settings.MODERATO_ARTIFACTS_DIR), name, shipped_version(name))
        for name in MODELS
    )


def get_scorer() -> scoring.Scorer:
    global _active
    with _lock:
        now = time.monotonic()
        shipped = (str(settings.MODERATO_ARTIFACTS_DIR), settings.MODERATO_TOXICITY_MODEL, settings.MODERATO_SPAM_MODEL)
        if _active is None or _active[1] != shipped or now - _active[0] > settings.MODERATO_MODEL_REFRESH_SECONDS:
            _active = (now, shipped, active_sources())
        sources = _active[2]
        scorer = _scorers.get(sources)
        if scorer is None:
            scorer = scoring.Scorer(
                {name: model_load(directory, name, version) for directory, name, version in sources}
            )
            _scorers[sources] = scorer
            logger.info("scoring with %s", scorer.versions)
        return scorer


def model_load(directory: Path, name: str, version: str | None) -> LinearTextModel:
    """Load a model version once per process (call with the lock held)."""
    key = (Path(directory).resolve(), name, version)
    if key not in _models:
        _models[key] = load_model(key[0], name, version)
    return _models[key]


def clear_cache() -> None:
    """Forget the active versions and every loaded model (after a promotion, and in tests)."""
    global _active
    with _lock:
        _active = None
        _scorers.clear()
        _models.clear()
