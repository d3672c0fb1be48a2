"""System checks: a missing or broken model artifact fails ``manage.py check``, not a request."""

from typing import Any

from django.core.checks import Error, register

from ml.artifacts import ArtifactError


@register()
def model_artifacts_check(app_configs: Any, **kwargs: Any) -> list[Error]:
    from moderation.scoring import get_scorer

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
    return []
