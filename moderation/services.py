"""Every change of a comment's status: scoring, re-scoring, moderators' actions, reader reports.

This module is the one owner of ``Comment.status`` after submission. Each function that changes
it also notifies (``notifications.decision_notify``, after commit) and writes the change into the
comment's story (``story.events_record``, in the same transaction), so no caller has to remember.
Every write that decides a comment is a compare-and-set ``UPDATE ... WHERE status = <expected>``: a
task that runs twice, or arrives after a moderator has acted, changes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Field, Q
from django.utils import timezone

from comments.models import Comment, CommentEdit, Thread
from comments.selectors import thread_listings_changed
from ml.language import Language, detect_language
from ml.scoring import Scorer
from ml.vocabulary import Attribute
from moderation import health, policy, rules
from moderation.commenters import commenter_has_published, commenter_identities
from moderation.explaining import comment_explain_later, reasons_need_spans
from moderation.models import (
    TRUSTABLE_PREFIXES,
    CommenterFlag,
    CommentEvent,
    ModerationAction,
    ModerationDecision,
    ShadowDecision,
    SitePolicy,
)
from moderation.notifications import comment_change_notify, decision_notify
from moderation.scoring import get_scorer
from moderation.sites import comment_moderator_check, site_policy, site_thresholds
from moderation.story import event_new, events_record, scoring_details
from moderation.threads import thread_premoderated, thread_thresholds

logger = logging.getLogger(__name__)


class ScoringInterrupted(Exception):
    """The database connection failed during an attempt: not the comment's fault.

    ``claimed`` says whether the attempt had been counted, so that the task can give it back.
    """

    def __init__(self, comment_id: int, claimed: bool) -> None:
        super().__init__(f"comment {comment_id}: the database connection failed while scoring")
        self.comment_id, self.claimed = comment_id, claimed


@dataclass(frozen=True)
class Holder:
    """A worker process holding a comment's scoring: the worker's node name and the process's id, as its
    heartbeat names them (``health.Workers``)."""

    hostname: str
    pid: int


def _held_by(holder: Holder | None) -> dict[str, Any]:
    """The comment's holder fields: this process since now, or nobody."""
    if holder is None:
        return {"claimed_by": "", "claimed_pid": None, "claimed_at": None}
    return {"claimed_by": holder.hostname, "claimed_pid": holder.pid, "claimed_at": timezone.now()}


def comment_hold(*, comment_id: int, holder: Holder) -> None:
    """A worker has taken a pending comment's scoring message (run later, or retried at a set time): it
    holds the comment from now, so that the sweep knows the message is gone with it if it dies."""
    Comment.objects.filter(pk=comment_id, status=Comment.Status.PENDING).update(**_held_by(holder))


def comments_holds_drop(*, holder: Holder) -> int:
    """The worker's main process has lost its broker connection, and with it the scoring messages it held
    unstarted (Celery drops them; the broker gives them back after its visibility timeout): its comments
    are held by nobody alive from now, for the sweep's next run. Return how many."""
    return Comment.objects.filter(
        status=Comment.Status.PENDING, claimed_by=holder.hostname, claimed_pid=holder.pid
    ).update(claimed_pid=None, claimed_at=None)


def comment_attempt_give_back(*, comment_id: int) -> None:
    """Uncount an attempt that a database failure interrupted (ScoringInterrupted)."""
    Comment.objects.filter(pk=comment_id, status=Comment.Status.PENDING, scoring_attempts__gt=0).update(
        scoring_attempts=F("scoring_attempts") - 1
    )


def comments_attempts_give_back(*, comment_ids: list[int]) -> None:
    """Uncount the attempts of a batch that a database failure interrupted (BatchInterrupted)."""
    if comment_ids:
        Comment.objects.filter(pk__in=comment_ids, status=Comment.Status.PENDING, scoring_attempts__gt=0).update(
            scoring_attempts=F("scoring_attempts") - 1
        )


def comment_attempts_get(*, comment_id: int) -> int:
    return Comment.objects.filter(pk=comment_id).values_list("scoring_attempts", flat=True).first() or 0


def comment_decide(
    *,
    comment_id: int,
    decision: policy.Decision,
    scores: dict[str, float] | None = None,
    model_versions: dict[str, str] | None = None,
    from_status: str = Comment.Status.PENDING,
    reasons: list[dict[str, object]] | None = None,
    language: Language | None = None,
    into: Comment | None = None,
    listings: dict[int, Thread] | None = None,
) -> bool:
    """Write a decision if the comment is still in ``from_status``; return whether it was written.

    ``into``: the comment as read, given the written values (what the notifications then send).
    ``listings``: collects the threads whose listing changed instead of invalidating each one (a batch
    invalidates each thread once).
    """
    fields: dict[str, object] = {
        "status": decision.outcome.value,
        "reasons": reasons if reasons is not None else [reason.as_dict() for reason in decision.reasons],
        "decided_at": timezone.now(),
    }
    if language is not None:
        fields["language"], fields["script"] = language.code, language.script
    if scores is not None:
        fields["scores"] = scores
    if model_versions is not None:
        fields["model_versions"] = model_versions
    written = bool(Comment.objects.filter(pk=comment_id, status=from_status).update(**fields))
    if written and Comment.Status.PUBLISHED in (from_status, decision.outcome):
        thread = into.thread if into is not None else Thread.objects.get(comments=comment_id)
        if listings is None:
            listing_changed(thread=thread)
        else:
            listings[thread.pk] = thread
    if written and into is not None:
        for name, value in fields.items():
            setattr(into, name, value)
    return written


def listing_changed(*, thread: Thread) -> None:
    """Once committed, the thread's cached pages are stale (a comment entered or left its listing)."""
    listings_changed(threads=[thread])


def listings_changed(*, threads: Collection[Thread]) -> None:
    """``listing_changed`` of many threads: one round trip to the cache after the commit."""
    if threads:
        transaction.on_commit(lambda: thread_listings_changed(threads=threads), robust=True)


def comment_score(*, comment_id: int, holder: Holder | None = None) -> str:
    """Score a pending comment and decide it; return the outcome, or "skipped" if not pending.

    Exceptions from the scorer propagate so that the task retries; once the attempts reach
    MODERATO_MAX_SCORING_ATTEMPTS the comment is held for a person instead of scored again.
    ``holder``: the worker process scoring it (``comment_claim``).
    """
    try:
        comment = comment_claim(comment_id=comment_id, holder=holder)
    except (OperationalError, InterfaceError) as exc:
        raise ScoringInterrupted(comment_id, claimed=False) from exc
    if comment is None:
        return "skipped"
    if comment.scoring_attempts == 0:
        return comment_scoring_give_up(comment_id=comment_id, attempts=settings.MODERATO_MAX_SCORING_ATTEMPTS)
    try:
        return _comment_score_claimed(comment=comment)
    except (OperationalError, InterfaceError) as exc:
        raise ScoringInterrupted(comment_id, claimed=True) from exc


def comment_claim(*, comment_id: int, holder: Holder | None = None) -> Comment | None:
    """Count one more scoring attempt on a pending comment, held by ``holder`` from now, and read it, with
    its thread, site and policies.

    None if it is no longer pending; a comment whose ``scoring_attempts`` reads 0 is pending but has
    used all its attempts (a worker killed during the last one): the caller holds it for a person.
    Two statements: the claim and the read.
    """
    maximum = settings.MODERATO_MAX_SCORING_ATTEMPTS
    pending = Comment.objects.filter(pk=comment_id, status=Comment.Status.PENDING)
    claimed = pending.filter(scoring_attempts__lt=maximum).update(
        scoring_attempts=F("scoring_attempts") + 1, **_held_by(holder)
    )
    comment = pending.select_related("thread__site__policy", "thread__policy").first()
    if comment is not None and not claimed:
        comment.scoring_attempts = 0
    return comment


def _comment_score_claimed(*, comment: Comment) -> str:
    evaluation = comment_evaluate(comment=comment)
    with transaction.atomic():  # the decision and its notifications, together or not at all
        written = comment_decide(
            comment_id=comment.pk,
            decision=evaluation.decision,
            scores=evaluation.scores,
            model_versions=evaluation.versions,
            language=evaluation.language,
            into=comment,
        )
        if not written:
            return "skipped"
        events_record([scored_event(comment=comment, evaluation=evaluation)])
        decision_notify(comment_id=comment.pk, status=evaluation.decision.outcome, comment=comment)
        _explain_if_held(comment_id=comment.pk, decision=evaluation.decision)
        shadow_decisions_record(decided=[(comment, evaluation)])
    return evaluation.decision.outcome.value


def scored_event(
    *,
    comment: Comment,
    evaluation: Evaluation,
    kind: CommentEvent.Kind = CommentEvent.Kind.SCORED,
    from_status: str = Comment.Status.PENDING,
    user: Any = None,
) -> CommentEvent:
    """The story's line for a decision the pipeline wrote into ``comment`` (``comment_decide``'s ``into``)."""
    judgement = evaluation.judgement
    return event_new(
        comment_id=comment.pk,
        kind=kind,
        user=user,
        from_status=from_status,
        to_status=evaluation.decision.outcome.value,
        at=comment.decided_at,
        details=scoring_details(
            scores=evaluation.scores,
            versions=evaluation.versions,
            reasons=[reason.as_dict() for reason in evaluation.decision.reasons],
            language=evaluation.language.code,
            shadow=None
            if judgement is None
            else (judgement.outcome.value, [reason.as_dict() for reason in judgement.reasons]),
        ),
    )


def _explain_if_held(*, comment_id: int, decision: policy.Decision) -> None:
    """A held comment waits for a moderator, who reads which words weighed: explain it off this path."""
    if decision.outcome == policy.Outcome.HELD and reasons_need_spans([r.as_dict() for r in decision.reasons]):
        comment_explain_later(comment_id=comment_id)


@dataclass(frozen=True)
class Evaluation:
    scores: dict[str, float]
    versions: dict[str, str]  # attribute -> model version
    language: Language
    decision: policy.Decision  # what is done with the comment
    judgement: policy.Decision | None = None  # shadow mode: what Moderato would have done (``decision`` publishes)


def comment_evaluate(*, comment: Comment) -> Evaluation:
    """Score a comment with the active models, detect its language and apply its site's policy; write nothing."""
    scorer = get_scorer()
    return _evaluation(
        comment=comment,
        scores=scorer.score(comment.body),
        versions=_attribute_versions(scorer),
        thresholds=thread_thresholds(thread=comment.thread, in_force=site_thresholds(site=comment.thread.site)),
        facts=comment_facts(comment=comment),
        shadow=site_policy(site=comment.thread.site).shadow_mode,
    )


def _attribute_versions(scorer: Scorer) -> dict[str, str]:
    return {
        attribute: scorer.versions[model] for model, attributes in scorer.attributes.items() for attribute in attributes
    }


def _evaluation(
    *,
    comment: Comment,
    scores: dict[str, float],
    versions: dict[str, str],
    thresholds: dict[str, policy.Threshold],
    facts: policy.Facts,
    shadow: bool,
) -> Evaluation:
    language = detect_language(comment.body)
    decision = policy.decide(
        scores=scores, thresholds=thresholds, facts=dataclasses.replace(facts, language=language.code)
    )
    if shadow:
        return Evaluation(
            scores=scores,
            versions=versions,
            language=language,
            decision=policy.shadow_applied(decision),
            judgement=decision,
        )
    return Evaluation(scores=scores, versions=versions, language=language, decision=decision)


def shadow_decisions_record(*, decided: list[tuple[Comment, Evaluation]]) -> None:
    """Record what Moderato would have decided about the comments of sites in shadow mode (one statement;
    a comment decided again, by a re-scoring, gets its record replaced). Call it inside the transaction
    that writes the decisions, with the comments whose decision was written."""
    now = timezone.now()
    rows = [
        ShadowDecision(
            comment_id=comment.pk,
            site_id=comment.thread.site_id,
            outcome=evaluation.judgement.outcome.value,
            applied=evaluation.decision.outcome.value,
            reasons=[reason.as_dict() for reason in evaluation.judgement.reasons],
            decided_at=now,
        )
        for comment, evaluation in decided
        if evaluation.judgement is not None
    ]
    if rows:
        ShadowDecision.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["comment"],
            update_fields=["outcome", "applied", "reasons", "decided_at"],
        )


@dataclass(frozen=True)
class Rescore:
    decided: dict[int, str]  # comment id -> its new status (scores updated, whether or not it changed)
    kept: int  # held by a person's decision or by readers' reports: left alone


def held_comments_rescore(*, comment_ids: list[int], asked_by: Any = None) -> Rescore:
    """Score held comments again (after a model or threshold change) and apply the new decision.

    Only comments the pipeline held are touched: one a moderator has decided, or readers' reports
    sent back to the queue, stays for a person. ``asked_by``: the moderator who asked, for the story.
    """
    decided: dict[int, str] = {}
    kept = 0
    comments = Comment.objects.select_related("thread__site", "thread__policy").filter(
        pk__in=comment_ids, status=Comment.Status.HELD
    )
    for comment in comments:
        if comment.decisions.exists() or any(
            r.get("code") == policy.ReasonCode.READER_REPORTS for r in comment.reasons
        ):
            kept += 1
            continue
        evaluation = comment_evaluate(comment=comment)
        with transaction.atomic():
            written = comment_decide(
                comment_id=comment.pk,
                decision=evaluation.decision,
                scores=evaluation.scores,
                model_versions=evaluation.versions,
                from_status=Comment.Status.HELD,
                language=evaluation.language,
                into=comment,
            )
            if written:
                events_record(
                    [
                        scored_event(
                            comment=comment,
                            evaluation=evaluation,
                            kind=CommentEvent.Kind.RESCORED,
                            from_status=Comment.Status.HELD,
                            user=asked_by,
                        )
                    ]
                )
                decided[comment.pk] = evaluation.decision.outcome.value
                if evaluation.decision.outcome != policy.Outcome.HELD:
                    decision_notify(comment_id=comment.pk, status=evaluation.decision.outcome)
                _explain_if_held(comment_id=comment.pk, decision=evaluation.decision)
                shadow_decisions_record(decided=[(comment, evaluation)])
    return Rescore(decided=decided, kept=kept)


def comment_facts(*, comment: Comment) -> policy.Facts:
    """Gather what the site's rules need to know about a comment."""
    site = comment.thread.site
    flags = dict(
        CommenterFlag.objects.filter(site=site, identity__in=commenter_identities(comment=comment)).values_list(
            "identity", "kind"
        )
    )
    # The same text from the same client (address hash, or signed commenter token) earlier in the thread.
    same_client = Q(pk__in=[])
    if comment.ip_hash:
        same_client |= Q(ip_hash=comment.ip_hash)
    if comment.commenter:
        same_client |= Q(commenter=comment.commenter)
    duplicate = (bool(comment.ip_hash) or bool(comment.commenter)) and (
        Comment.objects.filter(same_client, thread_id=comment.thread_id, body=comment.body, pk__lt=comment.pk).exists()
    )
    return _facts(comment=comment, rules_of_site=site_policy(site=site), flags=flags, duplicate=duplicate)


def _facts(*, comment: Comment, rules_of_site: SitePolicy, flags: dict[str, str], duplicate: bool) -> policy.Facts:
    """The facts from what was read about the comment (``flags``: identity -> kind, of its site)."""
    blocked = next((identity for identity, kind in flags.items() if kind == CommenterFlag.Kind.BLOCKED), "")
    domain = rules.email_domain(comment.author_email) if comment.author_email else ""
    if (
        not blocked
        and domain
        and domain in {d.lower() for d in rules.word_list_parse(rules_of_site.blocked_email_domains)}
    ):
        blocked = f"e-mail domain {domain}"
    trusted = any(
        kind == CommenterFlag.Kind.TRUSTED and identity.startswith(TRUSTABLE_PREFIXES)
        for identity, kind in flags.items()
    )
    return policy.Facts(
        trap_filled=comment.trap_filled,
        form_seconds=comment.form_seconds,
        min_form_seconds=rules_of_site.min_form_seconds,
        require_form_token=rules_of_site.hold_without_form_token,
        duplicate=duplicate,
        hold_all=rules_of_site.hold_all,
        thread_premoderated=thread_premoderated(thread=comment.thread),
        # One query, only on the sites that hold first comments.
        first_comment=rules_of_site.hold_first_comment and not trusted and not commenter_has_published(comment=comment),
        links=rules.links_count(comment.body),
        hold_links_at=rules_of_site.hold_links_at,
        trusted=trusted,
        blocked=blocked,
        blocked_words=rules.blocked_words_found(
            comment.body,
            blocked=rules.word_list_parse(rules_of_site.blocked_words),
            allowed=rules.word_list_parse(rules_of_site.allowed_words),
        ),
    )


# Batches: the common path. A drain (moderation.tasks.pending_comments_drain) claims the fresh pending
# comments a batch at a time; the per-comment path above stays for the sweep and for retries.


class BatchInterrupted(Exception):
    """The database connection failed during a batch: not the comments' fault.

    ``claimed``: the comments whose attempt the batch had counted and not used, to give back.
    """

    def __init__(self, claimed: list[int]) -> None:
        super().__init__(f"the database connection failed while scoring a batch ({len(claimed)} claimed)")
        self.claimed = claimed


@dataclass(frozen=True)
class Batch:
    outcomes: dict[int, str]  # comment id -> outcome; "skipped": decided by someone else meanwhile
    failed: list[int]  # claimed, but their scoring raised: pending with the attempt counted

    @property
    def claimed(self) -> int:
        return len(self.outcomes) + len(self.failed)


def pending_comments_claim_fresh(*, limit: int, max_chars: int, holder: Holder | None = None) -> list[int]:
    """Count the first attempt of the oldest fresh pending comments, held by ``holder`` from now, and
    return their ids, in order.

    Fresh: pending and never attempted (``scoring_attempts`` 0). At most ``limit`` comments and
    ``max_chars`` characters of text (at least one comment, however long). One statement, ``UPDATE ...
    WHERE id IN (the candidates) AND status = 'pending' AND scoring_attempts = 0 RETURNING id``: the
    database checks that condition again on each row it writes (PostgreSQL re-reads a row that a
    concurrent transaction changed; SQLite has one writer at a time), so of two workers that read the
    same candidates each gets its own, without SKIP LOCKED (which SQLite does not have).
    """
    table = connection.ops.quote_name(Comment._meta.db_table)
    pending = Comment.Status.PENDING.value
    held = _held_by(holder)
    claimed_at = Comment._meta.get_field("claimed_at").get_db_prep_save(held["claimed_at"], connection)
    with connection.cursor() as cursor:
        cursor.execute(
            # Only the table's name (the model's) is formatted in; the values are parameters. The oldest
            # first, from the (status, created_at) index: no sort of the backlog, however long.
            f"UPDATE {table} SET scoring_attempts = scoring_attempts + 1,"  # noqa: S608
            f" claimed_by = %s, claimed_pid = %s, claimed_at = %s"
            f" WHERE id IN (SELECT id FROM (SELECT id, chars, SUM(chars) OVER (ORDER BY created_at, id) AS total"
            f" FROM (SELECT id, created_at, LENGTH(body) AS chars FROM {table}"
            f" WHERE status = %s AND scoring_attempts = 0 ORDER BY created_at LIMIT %s) AS head) AS bounded"
            f" WHERE total <= %s OR total = chars)"
            f" AND status = %s AND scoring_attempts = 0 RETURNING id",
            [held["claimed_by"], held["claimed_pid"], claimed_at, pending, limit, max_chars, pending],
        )
        return sorted(pk for (pk,) in cursor.fetchall())


def pending_comments_score_batch(
    *, limit: int | None = None, max_chars: int | None = None, holder: Holder | None = None
) -> Batch:
    """Claim a batch of fresh pending comments for ``holder``, score them together and decide each one.

    Each decision is written as the single path writes it (compare-and-set on ``status = 'pending'``,
    with its outbox rows), all in one transaction; a comment a moderator decided meanwhile is skipped.
    If anything in the batch raises, its comments are scored one by one instead, so that a bad comment
    fails alone: it stays pending with its attempt counted, in ``failed``, for the per-comment task
    (which retries it and holds it after MODERATO_MAX_SCORING_ATTEMPTS). A dropped database connection
    raises ``BatchInterrupted`` naming the comments whose attempt is to be given back.
    """
    limit = settings.MODERATO_SCORING_BATCH if limit is None else limit
    max_chars = settings.MODERATO_SCORING_BATCH_CHARS if max_chars is None else max_chars
    try:
        ids = pending_comments_claim_fresh(limit=limit, max_chars=max_chars, holder=holder)
    except (OperationalError, InterfaceError) as exc:
        raise BatchInterrupted([]) from exc
    if not ids:
        return Batch(outcomes={}, failed=[])
    try:
        comments = comments_read(comment_ids=ids)
        outcomes = dict.fromkeys(ids, "skipped") | _comments_score_claimed(comments=comments)
        return Batch(outcomes=outcomes, failed=[])
    except (OperationalError, InterfaceError) as exc:
        raise BatchInterrupted(ids) from exc
    except SoftTimeLimitExceeded:
        raise
    except Exception:  # a comment the models or the rules choke on: find it, and decide the others
        logger.exception("a batch of %s comments failed: scoring them one by one", len(ids))
    return _comments_score_one_by_one(comment_ids=ids)


def comments_read(*, comment_ids: list[int]) -> list[Comment]:
    """The pending ones of these comments, each with its thread, site and policies (read once per thread)."""
    comments = list(Comment.objects.filter(pk__in=comment_ids, status=Comment.Status.PENDING).order_by("pk"))
    thread_ids = {comment.thread_id for comment in comments}
    threads = Thread.objects.select_related("site__policy", "policy").in_bulk(thread_ids)
    for comment in comments:
        comment.thread = threads[comment.thread_id]
    return comments


def _comments_score_claimed(*, comments: list[Comment]) -> dict[int, str]:
    evaluations = comments_evaluate(comments=comments)
    outcomes: dict[int, str] = {}
    listings: dict[int, Thread] = {}
    with transaction.atomic():  # the decisions and their notifications, together or not at all
        decided = list(zip(comments, evaluations, strict=True))
        written = comments_decide(decided=decided)
        events_record(
            [
                scored_event(comment=comment, evaluation=evaluation)
                for comment, evaluation in decided
                if comment.pk in written
            ]
        )
        for comment, evaluation in zip(comments, evaluations, strict=True):
            if comment.pk not in written:
                outcomes[comment.pk] = "skipped"
                continue
            if evaluation.decision.outcome == policy.Outcome.PUBLISHED:
                listings[comment.thread_id] = comment.thread
            decision_notify(comment_id=comment.pk, status=evaluation.decision.outcome, comment=comment)
            _explain_if_held(comment_id=comment.pk, decision=evaluation.decision)
            outcomes[comment.pk] = evaluation.decision.outcome.value
        listings_changed(threads=list(listings.values()))
        shadow_decisions_record(
            decided=[(comment, evaluation) for comment, evaluation in decided if comment.pk in written]
        )
    return outcomes


DECISION_FIELDS = ("status", "reasons", "decided_at", "language", "script", "scores", "model_versions")
# PostgreSQL types the columns of a VALUES list from its literals: the non-text ones are cast back.
POSTGRESQL_CASTS = {"reasons": "jsonb", "decided_at": "timestamptz", "scores": "jsonb", "model_versions": "jsonb"}


def comments_decide(*, decided: list[tuple[Comment, Evaluation]]) -> set[int]:
    """Write the decisions of pending comments in one statement; return the ids it wrote.

    The compare-and-set of ``comment_decide``, for every comment at once: ``WITH v(...) AS (VALUES
    ...) UPDATE ... FROM v WHERE id = v.id AND status = 'pending' RETURNING id`` (SQLite 3.35 or later,
    PostgreSQL). The database checks the status of each row as it writes it (PostgreSQL again after
    waiting for a concurrent writer's lock), so a comment a moderator decided first is left as it is,
    and is not in the ids returned. The comments written get the written values.
    """
    now = timezone.now()
    fields = [cast("Field[Any, Any]", Comment._meta.get_field(name)) for name in DECISION_FIELDS]
    values: dict[int, dict[str, Any]] = {}
    params: list[Any] = []
    for comment, evaluation in decided:
        values[comment.pk] = {
            "status": evaluation.decision.outcome.value,
            "reasons": [reason.as_dict() for reason in evaluation.decision.reasons],
            "decided_at": now,
            "language": evaluation.language.code,
            "script": evaluation.language.script,
            "scores": evaluation.scores,
            "model_versions": evaluation.versions,
        }
        params += [
            comment.pk,
            *(field.get_db_prep_save(values[comment.pk][field.name], connection) for field in fields),
        ]
    if not values:
        return set()
    quote = connection.ops.quote_name
    table = quote(Comment._meta.db_table)
    casts = POSTGRESQL_CASTS if connection.vendor == "postgresql" else {}
    assignments = ", ".join(
        f"{quote(name)} = CAST(v.{name} AS {casts[name]})" if name in casts else f"{quote(name)} = v.{name}"
        for name in DECISION_FIELDS
    )
    row = "(" + ", ".join(["%s"] * (len(DECISION_FIELDS) + 1)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            # Only names (the model's) and placeholders are formatted in; every value is a parameter.
            f"WITH v(id, {', '.join(DECISION_FIELDS)}) AS (VALUES {', '.join([row] * len(values))})"  # noqa: S608
            f" UPDATE {table} SET {assignments} FROM v"
            f" WHERE {table}.id = v.id AND {table}.status = %s RETURNING {table}.id",
            [*params, Comment.Status.PENDING.value],
        )
        written = {pk for (pk,) in cursor.fetchall()}
    for comment, _ in decided:
        if comment.pk in written:
            for name, value in values[comment.pk].items():
                setattr(comment, name, value)
    return written


def _comments_score_one_by_one(*, comment_ids: list[int]) -> Batch:
    """The claimed comments of a failed batch, each on the single path (its attempt already counted)."""
    outcomes: dict[int, str] = {}
    failed: list[int] = []
    for position, comment_id in enumerate(comment_ids):
        try:
            comment = (
                Comment.objects.select_related("thread__site__policy", "thread__policy")
                .filter(pk=comment_id, status=Comment.Status.PENDING)
                .first()
            )
            outcomes[comment_id] = "skipped" if comment is None else _comment_score_claimed(comment=comment)
        except (OperationalError, InterfaceError) as exc:
            raise BatchInterrupted(comment_ids[position:]) from exc
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            logger.exception("comment %s: scoring failed in a batch; the per-comment task retries it", comment_id)
            failed.append(comment_id)
    return Batch(outcomes=outcomes, failed=failed)


def comments_evaluate(*, comments: list[Comment]) -> list[Evaluation]:
    """``comment_evaluate`` of many comments: one pass of the models, a few queries for the facts."""
    scorer = get_scorer()
    scores = scorer.score_many([comment.body for comment in comments])
    versions = _attribute_versions(scorer)
    thresholds: dict[int, dict[str, policy.Threshold]] = {}
    for comment in comments:
        site = comment.thread.site
        if site.pk not in thresholds:
            thresholds[site.pk] = site_thresholds(site=site)
    return [
        _evaluation(
            comment=comment,
            scores=comment_scores,
            versions=dict(versions),
            thresholds=thread_thresholds(thread=comment.thread, in_force=thresholds[comment.thread.site_id]),
            facts=facts,
            shadow=site_policy(site=comment.thread.site).shadow_mode,
        )
        for comment, comment_scores, facts in zip(comments, scores, comments_facts(comments=comments), strict=True)
    ]


def comments_facts(*, comments: list[Comment]) -> list[policy.Facts]:
    """``comment_facts`` of many comments: the flags of all their commenters in one query, the earlier
    copies of their texts in another; the first-comment rule asks one query per comment, on the sites
    that hold first comments only."""
    identities = {comment.pk: commenter_identities(comment=comment) for comment in comments}
    wanted = {identity for found in identities.values() for identity in found}
    flags: dict[tuple[int, str], str] = {}
    if wanted:
        site_ids = {comment.thread.site_id for comment in comments}
        for site_id, identity, kind in CommenterFlag.objects.filter(
            site_id__in=site_ids, identity__in=wanted
        ).values_list("site_id", "identity", "kind"):
            flags[(site_id, identity)] = kind
    # The same text from the same client earlier in the thread (comment_facts); a copy may be in the batch.
    with_client = [comment for comment in comments if comment.ip_hash or comment.commenter]
    copies: dict[tuple[int, str], list[tuple[int, str, str]]] = {}
    if with_client:
        for pk, thread_id, body, ip_hash, commenter in Comment.objects.filter(
            thread_id__in={comment.thread_id for comment in with_client},
            body__in={comment.body for comment in with_client},
            pk__lt=max(comment.pk for comment in with_client),
        ).values_list("pk", "thread_id", "body", "ip_hash", "commenter"):
            copies.setdefault((thread_id, body), []).append((pk, ip_hash, commenter))
    facts = []
    for comment in comments:
        site_id = comment.thread.site_id
        duplicate = any(
            pk < comment.pk
            and (
                (comment.ip_hash and ip_hash == comment.ip_hash)
                or (comment.commenter and commenter == comment.commenter)
            )
            for pk, ip_hash, commenter in copies.get((comment.thread_id, comment.body), ())
        )
        own_flags = {
            identity: flags[(site_id, identity)] for identity in identities[comment.pk] if (site_id, identity) in flags
        }
        facts.append(
            _facts(
                comment=comment,
                rules_of_site=site_policy(site=comment.thread.site),
                flags=own_flags,
                duplicate=bool(duplicate),
            )
        )
    return facts


def comment_scoring_give_up(*, comment_id: int, attempts: int) -> str:
    """Hold a comment whose scoring kept failing, so that it never loops."""
    logger.error("comment %s: scoring failed %s times, holding it for a moderator", comment_id, attempts)
    with transaction.atomic():
        failed = policy.scoring_failed(attempts)
        written = comment_decide(comment_id=comment_id, decision=failed)
        if not written:
            return "skipped"
        events_record(
            [
                event_new(
                    comment_id=comment_id,
                    kind=CommentEvent.Kind.SCORING_FAILED,
                    from_status=Comment.Status.PENDING,
                    to_status=failed.outcome.value,
                    details={"reasons": [reason.as_dict() for reason in failed.reasons]},
                )
            ]
        )
        decision_notify(comment_id=comment_id, status=policy.Outcome.HELD)
    return policy.Outcome.HELD.value


REQUEUE_BACKOFF_MAX = 6  # at most 64 times older_than between two re-queues of one comment


def pending_comments_claim_stale(
    *,
    older_than: timedelta,
    limit: int = 1000,
    still_queued_from: int | None = None,
    fresh: bool = True,
    holder: Holder | None = None,
) -> list[int]:
    """Return pending comments whose scoring nobody is doing any more, and mark them re-queued now, held
    by ``holder`` (the sweep's process, which sends their messages) until a worker takes a message.

    At once: a comment held by a worker process that is gone (``health.Workers.holding``): killed with
    a batch in hand, or with its scoring message taken and not yet run, which the broker would give
    back only after its visibility timeout. The others after a back-off: a comment nobody holds, or
    held by a live process, is stale when it was created, last re-queued and last taken ``older_than``
    ago, and last re-queued ``older_than`` times 2 to the number of re-queues ago (30 s, 1 min, 2 min
    ... up to 2**REQUEUE_BACKOFF_MAX times): its task was lost before any worker took it (broker down
    at submission), or dropped by a live worker, or is stuck behind a long queue. The back-off keeps a
    backlog that takes minutes to drain from being queued again and again. ``still_queued_from``: the
    comment whose task is at the front of the broker's queue; comments submitted after it that no
    worker holds are still queued behind it, and left alone. ``fresh``: also the comments that no
    attempt has started on (False while a drain is awake: it claims those itself). A sweep killed
    before it has sent every message leaves the rest held by a dead process: the next sweep sends them.
    """
    now = timezone.now()
    cutoff = now - older_than
    pending = Comment.objects.filter(status=Comment.Status.PENDING)
    if not fresh:
        pending = pending.filter(scoring_attempts__gt=0)
    workers = health.workers_now()
    orphaned = [
        pk
        for pk, hostname, pid, since in pending.exclude(claimed_by="")
        .order_by("created_at")
        .values_list("pk", "claimed_by", "claimed_pid", "claimed_at")
        if not workers.holding(hostname=hostname, pid=pid, since=since)
    ][:limit]
    candidates = (
        pending.filter(created_at__lt=cutoff)
        .filter(Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff))
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=cutoff))
        .exclude(pk__in=orphaned)
        .order_by("created_at")
        .values_list("pk", "requeued_at", "requeues")
    )
    if still_queued_from is not None:
        candidates = candidates.filter(Q(pk__lt=still_queued_from) | ~Q(claimed_by=""))
    ids = list(orphaned)
    for pk, requeued_at, requeues in candidates.iterator():
        if len(ids) >= limit:
            break
        if requeued_at is None or requeued_at < now - older_than * 2 ** min(requeues, REQUEUE_BACKOFF_MAX):
            ids.append(pk)
    if ids:
        Comment.objects.filter(pk__in=ids, status=Comment.Status.PENDING).update(
            requeued_at=now, requeues=F("requeues") + 1, **_held_by(holder)
        )
    return ids


# What each moderator action does to the comment, and what it teaches the models.
ACTION_EFFECTS: dict[ModerationAction, tuple[str, dict[str, int]]] = {
    ModerationAction.APPROVE: (Comment.Status.PUBLISHED, {}),
    ModerationAction.REJECT: (Comment.Status.REJECTED, {}),
    ModerationAction.SPAM: (Comment.Status.REJECTED, {Attribute.SPAM: 1}),
    ModerationAction.NOT_SPAM: (Comment.Status.PUBLISHED, {Attribute.SPAM: 0}),
    ModerationAction.TOXIC: (Comment.Status.REJECTED, {Attribute.TOXICITY: 1}),
    ModerationAction.NOT_TOXIC: (Comment.Status.PUBLISHED, {Attribute.TOXICITY: 0}),
}


def comment_moderate(
    *, comment_id: int, actor: Any, action: ModerationAction, note: str = "", expected_status: str = ""
) -> ModerationDecision:
    """Apply a moderator's action to a comment and record it; it wins over any scoring task.

    A pending comment decided here is no longer pending, so a scoring task that arrives later
    finds nothing to do (its update is conditional on ``status = 'pending'``).
    """
    to_status, labels = ACTION_EFFECTS[action]
    with transaction.atomic():
        comment = Comment.objects.select_for_update().select_related("thread").get(pk=comment_id)
        comment_moderator_check(actor=actor, comment=comment)
        if expected_status and comment.status != expected_status:
            raise ValidationError(f"Comment #{comment_id} is {comment.status} now, no longer {expected_status}.")
        from_status = comment.status
        now = timezone.now()
        Comment.objects.filter(pk=comment_id).update(status=to_status, decided_at=now)
        if Comment.Status.PUBLISHED in (from_status, to_status):
            listing_changed(thread=comment.thread)
        decision = ModerationDecision.objects.create(
            comment=comment,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=to_status,
            labels=labels,
            note=note[:500],
        )
        events_record(
            [
                event_new(
                    comment_id=comment_id,
                    kind=CommentEvent.Kind.DECIDED,
                    actor=CommentEvent.Actor.PERSON,
                    user=actor,
                    from_status=from_status,
                    to_status=to_status,
                    decision_id=decision.pk,
                    at=now,
                )
            ]
        )
        decision_notify(comment_id=comment_id, status=to_status)
        return decision


def comment_reports_check(*, comment_id: int, reports: int) -> bool:
    """Put a reported published comment back in the queue once its reports reach the site's
    threshold; return whether it did. Called with the comment's row locked (``comment_was_reported``)."""
    comment = Comment.objects.select_related("thread__site").get(pk=comment_id)
    if comment.status != Comment.Status.PUBLISHED or reports < site_policy(site=comment.thread.site).report_threshold:
        return False
    reason = policy.reader_reports(reports).as_dict()
    written = Comment.objects.filter(pk=comment_id, status=Comment.Status.PUBLISHED).update(
        status=Comment.Status.HELD, reasons=[*comment.reasons, reason]
    )
    if written:
        events_record(
            [
                event_new(
                    comment_id=comment_id,
                    kind=CommentEvent.Kind.REPORTS_HELD,
                    from_status=Comment.Status.PUBLISHED,
                    to_status=Comment.Status.HELD,
                    details={"reports": reports, "reasons": [reason]},
                )
            ]
        )
        listing_changed(thread=comment.thread)
        decision_notify(comment_id=comment_id, status=Comment.Status.HELD)
    return bool(written)


# Authors' edits and deletions (comments.services checks the token and the window, then announces them).


def comment_edits_supersede(*, comment_id: int, edit_id: int) -> int:
    """Close the comment's undecided edits older than ``edit_id``: its author sent a newer one. Return how many."""
    return CommentEdit.objects.filter(
        comment_id=comment_id, pk__lt=edit_id, state__in=[CommentEdit.State.PENDING, CommentEdit.State.HELD]
    ).update(state=CommentEdit.State.REJECTED, decided_at=timezone.now(), reasons=[policy.edit_superseded().as_dict()])


def comment_edit_score(*, edit_id: int) -> str:
    """Score an author's pending edit as its comment would read with it, through the comment pipeline's
    evaluation (models, site rules, policy), and decide it; return the outcome, or "skipped".

    Published: the new text replaces the comment's (with its scores and reasons). Held: the published
    text stays and a moderator decides the edit. Rejected: the published text stays. An edit whose
    scoring failed MODERATO_MAX_SCORING_ATTEMPTS times is held for a person.
    """
    maximum = settings.MODERATO_MAX_SCORING_ATTEMPTS
    pending = CommentEdit.objects.filter(pk=edit_id, state=CommentEdit.State.PENDING)
    claimed = pending.filter(scoring_attempts__lt=maximum).update(scoring_attempts=F("scoring_attempts") + 1)
    edit = pending.select_related("comment__thread__site__policy").first()
    if edit is None:
        return "skipped"
    if not claimed:
        failed = policy.scoring_failed(maximum)
        return _comment_edit_decide(edit=edit, outcome=failed.outcome, reasons=[r.as_dict() for r in failed.reasons])
    comment = edit.comment
    comment.body = edit.body  # (in memory only: the comment as it would read)
    evaluation = comment_evaluate(comment=comment)
    return _comment_edit_decide(
        edit=edit,
        outcome=evaluation.decision.outcome,
        reasons=[reason.as_dict() for reason in evaluation.decision.reasons],
        evaluation=evaluation,
    )


def _comment_edit_decide(
    *, edit: CommentEdit, outcome: policy.Outcome, reasons: list[dict[str, Any]], evaluation: Evaluation | None = None
) -> str:
    now = timezone.now()
    fields: dict[str, object] = {"state": outcome.value, "reasons": reasons, "decided_at": now}
    if evaluation is not None:
        fields |= {"scores": evaluation.scores, "model_versions": evaluation.versions}
    with transaction.atomic():
        if not CommentEdit.objects.filter(pk=edit.pk, state=CommentEdit.State.PENDING).update(**fields):
            return "skipped"  # superseded, or decided by another run
        state = outcome.value
        if outcome == policy.Outcome.PUBLISHED and not _comment_edit_apply(
            edit=edit, reasons=reasons, evaluation=evaluation, only_published=True
        ):
            # The comment left the page meanwhile (readers' reports, a moderator): a person decides.
            CommentEdit.objects.filter(pk=edit.pk).update(state=CommentEdit.State.HELD)
            state = policy.Outcome.HELD.value
        details: dict[str, Any] = {"edit": edit.pk, "state": state, "reasons": reasons}
        if evaluation is not None:
            details |= scoring_details(
                scores=evaluation.scores,
                versions=evaluation.versions,
                reasons=reasons,
                language=evaluation.language.code,
            )
        events_record(
            [event_new(comment_id=edit.comment_id, kind=CommentEvent.Kind.EDIT_SCORED, details=details, at=now)]
        )
    return state


def _comment_edit_apply(
    *, edit: CommentEdit, reasons: list[dict[str, Any]], evaluation: Evaluation | None, only_published: bool
) -> bool:
    """Put the edit's text in the comment's place (and its scores, when it has them); return whether it did."""
    fields: dict[str, object] = {"body": edit.body, "edited_at": timezone.now(), "reasons": reasons}
    if evaluation is not None:
        fields |= {
            "scores": evaluation.scores,
            "model_versions": evaluation.versions,
            "language": evaluation.language.code,
            "script": evaluation.language.script,
        }
    target = Comment.objects.filter(pk=edit.comment_id, deleted_at__isnull=True).exclude(status=Comment.Status.DELETED)
    if only_published:
        target = target.filter(status=Comment.Status.PUBLISHED)
    if not target.update(**fields):
        return False
    comment = Comment.objects.select_related("thread__site__policy").get(pk=edit.comment_id)
    if comment.status == Comment.Status.PUBLISHED:
        listing_changed(thread=comment.thread)
    comment_change_notify(comment=comment, event="comment.edited")
    return True


def pending_edits_claim_stale(*, older_than: timedelta, limit: int = 1000) -> list[int]:
    """Return the edits pending longer than ``older_than`` and not queued again within it (their task was
    lost, or a worker was killed), and mark them queued now. The edit's attempts counter holds it for a
    person after the last attempt, so a lost edit is never queued for ever."""
    now = timezone.now()
    cutoff = now - older_than
    ids = list(
        CommentEdit.objects.filter(state=CommentEdit.State.PENDING, created_at__lt=cutoff)
        .filter(Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        CommentEdit.objects.filter(pk__in=ids).update(requeued_at=now)
    return ids


def comment_edit_moderate(*, edit_id: int, actor: Any, approve: bool, note: str = "") -> ModerationDecision:
    """A moderator's word on a held edit: approved, its text replaces the comment's; rejected, the old text
    stays. Recorded in the comment's audit trail (the comment's status does not change)."""
    with transaction.atomic():
        edit = CommentEdit.objects.select_for_update().select_related("comment__thread").get(pk=edit_id)
        comment = edit.comment
        comment_moderator_check(actor=actor, comment=comment)
        if edit.state != CommentEdit.State.HELD:
            raise ValidationError(f"Edit #{edit_id} is {edit.state} now, no longer held.")
        state = CommentEdit.State.PUBLISHED if approve else CommentEdit.State.REJECTED
        CommentEdit.objects.filter(pk=edit_id).update(state=state, decided_at=timezone.now())
        if approve:
            scores = {"scores": edit.scores, "model_versions": edit.model_versions} if edit.scores else {}
            Comment.objects.filter(pk=comment.pk, deleted_at__isnull=True).exclude(
                status=Comment.Status.DELETED
            ).update(body=edit.body, edited_at=timezone.now(), **scores)
            if comment.status == Comment.Status.PUBLISHED:
                listing_changed(thread=comment.thread)
            comment.refresh_from_db()
            comment_change_notify(comment=comment, event="comment.edited")
        action = ModerationAction.APPROVE if approve else ModerationAction.REJECT
        decision = ModerationDecision.objects.create(
            comment=comment,
            actor=actor,
            action=action,
            from_status=comment.status,
            to_status=comment.status,
            note=(f"edit #{edit_id} {'approved' if approve else 'rejected'}" + (f": {note}" if note else ""))[:500],
        )
        events_record(
            [
                event_new(
                    comment_id=comment.pk,
                    kind=CommentEvent.Kind.EDIT_DECIDED,
                    actor=CommentEvent.Actor.PERSON,
                    user=actor,
                    decision_id=decision.pk,
                    details={"edit": edit_id, "state": state},
                )
            ]
        )
        return decision


def comment_author_delete(*, comment_id: int) -> str:
    """Its author deleted the comment: its text, name and e-mail address are wiped (and its edits'
    texts); with replies it stays on the page as "[deleted]", else it leaves it (status deleted).
    Return the comment's status after. Called with the comment's row locked (``comment_was_deleted``).
    """
    comment = Comment.objects.select_related("thread__site__policy").get(pk=comment_id)
    replies = Comment.objects.filter(parent_id=comment_id).exclude(
        status__in=[Comment.Status.REJECTED, Comment.Status.DELETED]
    )
    now = timezone.now()
    fields: dict[str, object] = {
        "body": "",
        "author_name": "",
        "author_email": "",
        "deleted_at": now,
        "reply_notice": Comment.ReplyNotice.NONE,
    }
    if comment.status != Comment.Status.PUBLISHED or not replies.exists():
        fields |= {"status": Comment.Status.DELETED, "decided_at": now}
    Comment.objects.filter(pk=comment_id).update(**fields)
    events_record(
        [
            event_new(
                comment_id=comment_id,
                kind=CommentEvent.Kind.DELETED,
                actor=CommentEvent.Actor.READER,
                from_status=comment.status,
                to_status=str(fields.get("status", comment.status)),
                details={"placeholder": "status" not in fields},
                at=now,
            )
        ]
    )
    CommentEdit.objects.filter(comment_id=comment_id).update(body="")
    CommentEdit.objects.filter(
        comment_id=comment_id, state__in=[CommentEdit.State.PENDING, CommentEdit.State.HELD]
    ).update(state=CommentEdit.State.REJECTED, decided_at=now)
    if comment.status == Comment.Status.PUBLISHED:
        listing_changed(thread=comment.thread)
    for name, value in fields.items():
        setattr(comment, name, value)
    comment_change_notify(comment=comment, event="comment.deleted")
    return str(fields.get("status", comment.status))


def reply_notice_confirm(*, comment_id: int) -> bool:
    """The author confirmed from the e-mailed link that they want to hear of replies; return whether
    it was waiting for that (a second click changes nothing)."""
    return bool(
        Comment.objects.filter(pk=comment_id, reply_notice=Comment.ReplyNotice.UNCONFIRMED).update(
            reply_notice=Comment.ReplyNotice.CONFIRMED
        )
    )


def reply_notice_stop(*, comment_id: int) -> bool:
    """Unsubscribe the comment's author from its replies; return whether they were subscribed."""
    return bool(
        Comment.objects.filter(
            pk=comment_id, reply_notice__in=[Comment.ReplyNotice.UNCONFIRMED, Comment.ReplyNotice.CONFIRMED]
        ).update(reply_notice=Comment.ReplyNotice.UNSUBSCRIBED)
    )
