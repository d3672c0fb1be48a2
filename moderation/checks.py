"""System checks: the shipped model artifacts must load (an Error), and a degraded process is a Warning.

``manage.py`` stops on ``moderation.E001``; gunicorn (``config.wsgi``) and the Celery worker refuse to
start through ``moderation.scoring.shipped_models_load``, since neither stops on a check.
"""

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from ml.artifacts import ArtifactError


@register()
def model_artifacts_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    from moderation.scoring import get_scorer, model_health

    try:
        get_scorer()
    except (ArtifactError, OSError) as exc:
        return [
            Error(
                f"The configured model artifacts cannot be loaded: {exc}",
                hint="Check MODERATO_ARTIFACTS_DIR, MODERATO_TOXICITY_MODEL and MODERATO_SPAM_MODEL.",
                id="moderation.E001",
            )
        ]
    return [
        Warning(
            f"Scoring degraded: {problem}",
            hint="Roll the model back in the admin (Model versions), or promote another version.",
            id="moderation.W001",
        )
        for problem in model_health().problems
    ]
