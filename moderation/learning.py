"""The learning loop: moderators' labels make candidate models, and only better ones are promoted.

``candidate_build`` fine-tunes the shipped model on the labels (``ml.retrain.fine_tune``, a prior
centred on the shipped weights; the extra heads the policy holds on learn from the civil labels,
``ml.retrain.fine_tune_civil``), holds out the most recent labels by time, compares candidate and
active model on every gate (``ml.retrain.gates_compare``), replays the last decided comments, and
records the result as a ``ModelVersion`` (``candidate`` or ``refused``) with its files stored in the
database (``moderation.model_store``), where every process reads them. ``model_promote`` makes a
candidate active; ``model_rollback`` returns to the version before (or to the shipped one).
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from comments.models import Comment, Site
from ml.artifacts import save_artifact
from ml.model import LinearTextModel
from ml.vocabulary import MAIN_ATTRIBUTE
from moderation import policy, scoring, sites
from moderation.compat.models import TrainingLabel
from moderation.model_store import version_files_store
from moderation.models import ModelVersion, ModerationDecision
from moderation.services import comment_facts
from moderation.threads import thread_thresholds

if TYPE_CHECKING:
    from ml.retrain import LabelledSet

logger = logging.getLogger(__name__)

ATTRIBUTE = MAIN_ATTRIBUTE
REPLAY_COMMENTS = 500


@dataclass(frozen=True)
class LabelledRow:
    text: str
    label: int
    at: dt.datetime


def training_rows(*, name: str, site: Site | None = None, api_labels: bool = True) -> list[LabelledRow]:
    """Every label for the model's attribute, oldest first: moderators' decisions (the latest per
    comment wins) and, with ``api_labels``, labels sent through the compatibility APIs (tests excluded),
    at most MODERATO_LABELS_PER_API_KEY per key (its latest), so that no one client outweighs the rest."""
    attribute = ATTRIBUTE[name]
    decisions = ModerationDecision.objects.select_related("comment").order_by("created_at", "pk")
    labels_api = TrainingLabel.objects.filter(is_test=False).order_by("created_at", "pk")
    if site is not None:
        decisions = decisions.filter(comment__thread__site=site)
        labels_api = labels_api.filter(site=site)
    latest: dict[int, LabelledRow] = {}
    for decision in decisions:
        if attribute in decision.labels:
            latest[decision.comment_id] = LabelledRow(
                decision.comment.body, int(decision.labels[attribute]), decision.created_at
            )
    rows = list(latest.values())
    if api_labels:
        per_key: dict[int | None, list[LabelledRow]] = {}
        for label in labels_api:
            if attribute in label.labels:
                per_key.setdefault(label.api_key_id, []).append(
                    LabelledRow(label.text, int(label.labels[attribute]), label.created_at)
                )
        cap = settings.MODERATO_LABELS_PER_API_KEY
        rows += [row for key_rows in per_key.values() for row in key_rows[-cap:]]
    return sorted(rows, key=lambda row: row.at)


def moderator_label_counts(*, decisions: QuerySet[ModerationDecision]) -> dict[str, Counter[int]]:
    """Attribute -> how many comments moderators labelled 1 and 0, counted as ``training_rows`` counts
    them (the latest label per comment wins), from the moment the decision is written."""
    latest: dict[tuple[str, int], int] = {}
    rows = decisions.exclude(labels={}).order_by("created_at", "pk").values_list("comment_id", "labels")
    for comment_id, labels in rows.iterator():
        for attribute, label in labels.items():
            latest[attribute, comment_id] = int(label)
    counts: dict[str, Counter[int]] = {}
    for (attribute, _), label in latest.items():
        counts.setdefault(attribute, Counter())[label] += 1
    return dict(sorted(counts.items()))


def window_split(rows: list[LabelledRow], fraction: float = 0.2) -> tuple[list[LabelledRow], list[LabelledRow]]:
    """Hold out the most recent labels (by time) for evaluation; train on the older ones (at least half)."""
    held = min(max(10, round(len(rows) * fraction)), len(rows) // 2)
    if held == 0:
        raise ValidationError("Too few labels to hold some out for evaluation.")
    return rows[:-held], rows[-held:]


def thresholds_in_force(*, site: Site | None) -> dict[str, policy.Threshold]:
    """The thresholds the gates compare models at: the site's (``sites.site_thresholds``), or for the
    loop over every site the active models' defaults."""
    if site is not None:
        return sites.site_thresholds(site=site)
    produced, defaults = sites.model_default_thresholds()
    return policy.thresholds_effective(produced=produced, site={}, models=defaults)


def replay(
    *, candidate: LinearTextModel, name: str, heads: tuple[str, ...] = (), limit: int = REPLAY_COMMENTS
) -> dict[str, Any]:
    """How the candidate would have decided the last decided comments, against how they were decided
    (its main attribute's score and those of the extra ``heads`` it refitted replace the stored ones)."""
    attribute = ATTRIBUTE[name]
    recent = (
        Comment.objects.select_related("thread__site", "thread__policy")
        .exclude(status=Comment.Status.PENDING)
        .order_by("-decided_at", "-pk")[:limit]
    )
    comments = [comment for comment in recent if attribute in comment.scores]
    if not comments:
        return {"comments": 0, "changed": 0, "changes": {}, "examples": []}
    probabilities = candidate.probabilities([c.body for c in comments])
    new_scores = probabilities[:, candidate.attributes.index(attribute)]
    head_scores = [
        dict(zip(heads, values, strict=True))
        for values in probabilities[:, [candidate.attributes.index(head) for head in heads]].tolist()
    ]
    changes: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    for comment, score, head_score in zip(comments, new_scores.tolist(), head_scores, strict=True):
        thresholds = thread_thresholds(thread=comment.thread, in_force=sites.site_thresholds(site=comment.thread.site))
        facts = comment_facts(comment=comment)
        before = policy.decide(scores=comment.scores, thresholds=thresholds, facts=facts).outcome
        rescored = comment.scores | {attribute: score} | head_score
        after = policy.decide(scores=rescored, thresholds=thresholds, facts=facts).outcome
        if before != after:
            changes[f"{before.value} -> {after.value}"] += 1
            if len(examples) < 10:
                examples.append(
                    {
                        "comment": comment.pk,
                        "text": comment.body[:200],
                        "before": before.value,
                        "after": after.value,
                        attribute: [round(comment.scores.get(attribute, 0.0), 4), round(score, 4)],
                    }
                )
    return {"comments": len(comments), "changed": sum(changes.values()), "changes": dict(changes), "examples": examples}


def candidate_build(
    *,
    name: str,
    site: Site | None = None,
    extra_sets: tuple[LabelledSet, ...] = (),
    public_rows: tuple[LabelledSet, ...] = (),
    min_labels: int | None = None,
    api_labels: bool = True,
) -> ModelVersion:
    """Build, evaluate and record a candidate from the shipped model and the labels; promote nothing.

    ``public_rows`` (training splits of public data sets, with ``--data``) are learned from too;
    the held-out window is always the most recent local labels.
    """
    # Imported here: scikit-learn and SciPy's optimiser cost seconds at start-up in every process
    # (the admin imports this module), and only a retraining needs them.
    from ml.retrain import (
        LabelledSet,
        corpus_anchor,
        fine_tune,
        fine_tune_civil,
        gates_compare,
        head_gates_compare,
    )

    if name not in ATTRIBUTE:
        raise ValidationError(f"Unknown model {name!r}: use toxicity or spam.")
    rows = training_rows(name=name, site=site, api_labels=api_labels)
    needed = settings.MODERATO_RETRAIN_MIN_LABELS if min_labels is None else min_labels
    if len(rows) < needed:
        raise ValidationError(f"{len(rows)} labels for {name}; at least {needed} are needed to retrain.")
    train, window = window_split(rows)
    attribute = ATTRIBUTE[name]
    shipped = scoring.shipped_model(name)
    active = scoring.get_scorer().models[name]
    version = f"{name}-{timezone.now():%Y.%m.%d.%H%M%S.%f}-local"
    texts = [text for labelled in public_rows for text in labelled.texts] + [r.text for r in train]
    labels = [label for labelled in public_rows for label in labelled.labels] + [r.label for r in train]
    anchor = corpus_anchor()
    candidate = fine_tune(shipped, attribute=attribute, texts=texts, labels=labels, version=version, anchor=anchor)
    thresholds = thresholds_in_force(site=site)
    civil = [text for text, label in zip(texts, labels, strict=True) if label == 0]
    # The extra heads the policy holds on (INSULT, THREAT, ...) learn from the civil labels: a comment
    # held for INSULT that moderators call not toxic is not an insult either.
    heads = (
        tuple(
            head
            for head in candidate.attributes
            if head != attribute and head in thresholds and head in active.attributes
        )
        if civil
        else ()
    )
    candidate = fine_tune_civil(candidate, attributes=heads, texts=civil, anchor=anchor)
    gates = gates_compare(
        active,
        candidate,
        attribute=attribute,
        window=LabelledSet("recent labels", [r.text for r in window], [r.label for r in window]),
        publish_threshold=thresholds[attribute].publish,
        extra_sets=extra_sets,
    )
    civil_window = [r.text for r in window if r.label == 0]
    for head in heads:
        head_gates_compare(
            active,
            candidate,
            attribute=head,
            civil_window=civil_window,
            publish_threshold=thresholds[head].publish,
            report=gates,
        )
    meta = dict(shipped.meta) | {
        "version": version,
        "based_on": shipped.version,
        "fine_tuned_on": {
            "labels": len(train),
            "held_out": len(window),
            "site": site.public_key if site else None,
            "public_sets": {labelled.name: len(labelled.texts) for labelled in public_rows},
            "heads_refitted_on_civil_labels": {head: len(civil) for head in heads},
        },
        "gates": gates.as_json(),
    }
    card = (
        f"# {version}\n\nFine-tuned from {shipped.version} on {len(train)} local labels "
        f"({len(window)} most recent held out).\n\nGates: {'passed' if gates.passed else 'failed'}.\n"
    )
    replayed = replay(candidate=candidate, name=name, heads=heads)
    # Written to a scratch directory, then stored in the database, where every process reads it.
    with tempfile.TemporaryDirectory(prefix="moderato-candidate-") as scratch, transaction.atomic():
        version_dir = save_artifact(Path(scratch), candidate, meta, card)
        row = ModelVersion.objects.create(
            name=name,
            version=version,
            status=ModelVersion.Status.CANDIDATE if gates.passed else ModelVersion.Status.REFUSED,
            based_on=shipped.version,
            labels=len(train),
            gates=gates.as_json() | {"compared_with": active.version},
            replay=replayed,
        )
        version_files_store(model_version=row, version_dir=version_dir)
    logger.info("learning loop: %s %s (%s)", name, version, row.status)
    return row


def model_promote(*, model_version_id: int, actor: Any = None) -> ModelVersion:
    """Make a candidate the active version of its model; a refused one cannot be promoted."""
    with transaction.atomic():
        row = ModelVersion.objects.select_for_update().get(pk=model_version_id)
        if row.status not in {ModelVersion.Status.CANDIDATE, ModelVersion.Status.RETIRED}:
            raise ValidationError(
                f"{row.version} is {row.status}: only a candidate or a retired version can be made active."
            )
        ModelVersion.objects.filter(name=row.name, status=ModelVersion.Status.ACTIVE).update(
            status=ModelVersion.Status.RETIRED
        )
        row.status = ModelVersion.Status.ACTIVE
        row.promoted_at = timezone.now()
        row.promoted_by = actor
        row.save(update_fields=["status", "promoted_at", "promoted_by"])
    scoring.active_versions_refresh()
    return row


def model_rollback(*, name: str, actor: Any = None) -> ModelVersion | None:
    """Retire the active version and reactivate the one promoted before it (None: the shipped model)."""
    with transaction.atomic():
        current = ModelVersion.objects.select_for_update().filter(name=name, status=ModelVersion.Status.ACTIVE).first()
        if current is None:
            raise ValidationError(f"The shipped {name} model is active: there is nothing to roll back.")
        current.status = ModelVersion.Status.RETIRED
        current.save(update_fields=["status"])
        previous = (
            ModelVersion.objects.filter(
                name=name, status=ModelVersion.Status.RETIRED, promoted_at__lt=current.promoted_at
            )
            .order_by("-promoted_at")
            .first()
        )
        if previous is not None:
            # promoted_at stays: the next rollback goes further back, never to the one just retired.
            previous.status = ModelVersion.Status.ACTIVE
            previous.save(update_fields=["status"])
    scoring.active_versions_refresh()
    return previous


def public_sets(*, name: str, data_dir: Path) -> tuple[tuple[LabelledSet, ...], tuple[LabelledSet, ...]]:
    """(training splits, test splits) of the public data sets in the model's training config (``--data``).

    Training splits come only from sets whose licence allows shipping a model trained on them.
    """
    from ml.datasets import load_dataset
    from ml.retrain import LabelledSet
    from ml.training_config import default_config_path, load_config

    config = load_config(default_config_path(name))
    train, test = [], []
    for spec in config.datasets:
        loaded = load_dataset(data_dir, spec)
        if spec.training_allowed and loaded.train.texts:
            train.append(LabelledSet(spec.name, loaded.train.texts, loaded.train.labels))
        if loaded.test.texts:
            test.append(LabelledSet(spec.name, loaded.test.texts, loaded.test.labels))
    return tuple(train), tuple(test)


def models_retrain(*, promote: bool = True, data_dir: Path | None = None) -> dict[str, str]:
    """Build a candidate for each model that has new moderators' labels; promote it when every gate passed.

    The automatic loop learns from moderators' labels only: labels sent by API clients (one site's key
    could steer the model every site shares) go into a candidate only when a person builds it
    (``manage.py retrain --api-labels``) and promote only by a person's click.
    """
    outcome: dict[str, str] = {}
    for name in ATTRIBUTE:
        rows = training_rows(name=name, api_labels=False)
        last = ModelVersion.objects.filter(name=name).order_by("-created_at").first()
        if last is not None and rows and rows[-1].at <= last.created_at:
            outcome[name] = "no new labels"
            continue
        public_train, public_test = public_sets(name=name, data_dir=data_dir) if data_dir else ((), ())
        try:
            row = candidate_build(name=name, extra_sets=public_test, public_rows=public_train, api_labels=False)
        except ValidationError as exc:
            outcome[name] = " ".join(exc.messages)
            continue
        if promote and row.status == ModelVersion.Status.CANDIDATE:
            model_promote(model_version_id=row.pk)
            outcome[name] = f"{row.version} promoted"
        else:
            outcome[name] = f"{row.version} {row.status}"
    return outcome
