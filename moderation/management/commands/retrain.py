"""Build a candidate model from the moderators' labels; promote it with --promote if every gate passes."""

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from comments.models import Site
from ml.datasets import DataError
from ml.vocabulary import MODEL_NAMES
from moderation import learning
from moderation.models import ModelVersion


class Command(BaseCommand):
    help = "Fine-tune the shipped model on local labels, evaluate it against the active one, optionally promote."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--model", choices=MODEL_NAMES, required=True)
        parser.add_argument("--site", help="Learn only from this site's labels (public key).")
        parser.add_argument(
            "--data",
            type=Path,
            help="A folder of public data sets: their training splits are learned from too, their test splits "
            "become gates.",
        )
        parser.add_argument("--min-labels", type=int, default=None)
        parser.add_argument("--promote", action="store_true", help="Make the candidate active if every gate passed.")
        parser.add_argument(
            "--api-labels",
            action="store_true",
            help="Learn from labels sent through the Perspective and Akismet APIs too (at most "
            "MODERATO_LABELS_PER_API_KEY per key); by default only moderators' labels.",
        )

    def handle(self, *args: Any, model: str, site: str | None, data: Path | None, min_labels: int | None,
               promote: bool, api_labels: bool, **options: Any) -> None:  # fmt: skip
        site_obj = None
        if site and promote:
            raise CommandError("--promote with --site: a model is active for every site; promote it from the admin.")
        if site:
            site_obj = Site.objects.filter(public_key=site).first()
            if site_obj is None:
                raise CommandError(f"No site with public key {site!r}.")
        try:
            public_train, public_test = learning.public_sets(name=model, data_dir=data) if data else ((), ())
            row = learning.candidate_build(
                name=model,
                site=site_obj,
                extra_sets=public_test,
                public_rows=public_train,
                min_labels=min_labels,
                api_labels=api_labels,
            )
        except (ValidationError, DataError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        for check in row.gates["checks"]:
            mark = "ok  " if check["passed"] else "FAIL"
            self.stdout.write(f"{mark} {check['gate']}: active {check['active']} candidate {check['candidate']}")
        self.stdout.write(f"replay: {json.dumps({k: v for k, v in row.replay.items() if k != 'examples'})}")
        self.stdout.write(f"{row.version}: {row.status}")
        if promote:
            if row.status != ModelVersion.Status.CANDIDATE:
                raise CommandError(f"{row.version} is worse on some gate: not promoted.")
            learning.model_promote(model_version_id=row.pk)
            self.stdout.write(f"{row.version} is now active.")
