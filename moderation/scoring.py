"""The models of ``ml``, as configured by settings, loaded once per process."""

from django.conf import settings

from ml import scoring


def get_scorer() -> scoring.Scorer:
    return scoring.get_scorer(
        artifacts_dir=settings.MODERATO_ARTIFACTS_DIR,
        toxicity_version=settings.MODERATO_TOXICITY_MODEL,
        spam_version=settings.MODERATO_SPAM_MODEL,
    )
