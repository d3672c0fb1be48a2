"""Every change of a comment's status: scoring, re-scoring, moderators' actions, reader reports.

This module is the one owner of ``Comment.status`` after submission. Each function that changes
it also notifies (``notifications.decision_notify``, after commit), so no caller has to remember.
Every write that decides a comment is a compare-and-set ``UPDATE ... WHERE status = <expected>``: a
task that runs twice, or arrives after a moderator has acted, changes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from comments.models import Comment, Thread
from comments.selectors import thread_listing_changed
from ml.language import Language, detect_language
from ml.vocabulary import Attribute
from moderation import policy, rules
from moderation.commenters import commenter_has_published, commenter_identities
from moderation.explaining import comment_explain_later, reasons_need_spans
from moderation.models import TRUSTABLE_PREFIXES, CommenterFlag, ModerationAction, ModerationDecision
from moderation.notifications import decision_notify
from moderation.scoring import get_scorer
from moderation.sites import moderator_check, site_policy, site_thresholds

logger = logging.getLogger(__name__)


class ScoringInterrupted(Exception):
    """The database connection failed during an attempt: not the comment's fault.

    ``claimed`` says whether the attempt had been counted, so that the task can give it back.
    """

    def __init__(self, comment_id: int, claimed: bool) -> None:
        super().__init__(f"comment {comment_id}: the database connection failed while scoring")
        self.comment_id, self.claimed = comment_id, claimed


def comment_attempt_give_back(*, comment_id: int) -> None:
    """Uncount an attempt that a database failure interrupted (ScoringInterrupted)."""
    Comment.objects.filter(pk=comment_id, status=Comment.Status.PENDING, scoring_attempts__gt=0).update(
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
) -> bool:
    """Write a decision if the comment is still in ``from_status``; return whether it was written.

    ``into``: the comment as read, given the written values (what the notifications then send).
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
        listing_changed(thread=into.thread if into is not None else Thread.objects.get(comments=comment_id))
    if written and into is not None:
        for name, value in fields.items():
            setattr(into, name, value)
    return written


def listing_changed(*, thread: Thread) -> None:
    """Once committed, the thread's cached pages are stale (a comment entered or left its listing)."""
    transaction.on_commit(lambda: thread_listing_changed(thread=thread), robust=True)


def comment_score(*, comment_id: int) -> str:
    """Score a pending comment and decide it; return the outcome, or "skipped" if not pending.

    Exceptions from the scorer propagate so that the task retries; once the attempts reach
    MODERATO_MAX_SCORING_ATTEMPTS the comment is held for a person instead of scored again.
    """
    try:
        comment = comment_claim(comment_id=comment_id)
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


def comment_claim(*, comment_id: int) -> Comment | None:
    """Count one more scoring attempt on a pending comment and read it, with its thread, site and policy.

    None if it is no longer pending; a comment whose ``scoring_attempts`` reads 0 is pending but has
    used all its attempts (a worker killed during the last one): the caller holds it for a person.
    Two statements: the claim and the read.
    """
    maximum = settings.MODERATO_MAX_SCORING_ATTEMPTS
    pending = Comment.objects.filter(pk=comment_id, status=Comment.Status.PENDING)
    claimed = pending.filter(scoring_attempts__lt=maximum).update(scoring_attempts=F("scoring_attempts") + 1)
    comment = pending.select_related("thread__site__policy").first()
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
        decision_notify(comment_id=comment.pk, status=evaluation.decision.outcome, comment=comment)
        _explain_if_held(comment_id=comment.pk, decision=evaluation.decision)
    return evaluation.decision.outcome.value


def _explain_if_held(*, comment_id: int, decision: policy.Decision) -> None:
    """A held comment waits for a moderator, who reads which words weighed: explain it off this path."""
    if decision.outcome == policy.Outcome.HELD and reasons_need_spans([r.as_dict() for r in decision.reasons]):
        comment_explain_later(comment_id=comment_id)


@dataclass(frozen=True)
class Evaluation:
    scores: dict[str, float]
    versions: dict[str, str]  # attribute -> model version
    language: Language
    decision: policy.Decision


def comment_evaluate(*, comment: Comment) -> Evaluation:
    """Score a comment with the active models, detect its language and apply its site's policy; write nothing."""
    scorer = get_scorer()
    scores = scorer.score(comment.body)
    versions = {
        attribute: scorer.versions[model] for model, attributes in scorer.attributes.items() for attribute in attributes
    }
    language = detect_language(comment.body)
    thresholds = site_thresholds(site=comment.thread.site)
    facts = dataclasses.replace(comment_facts(comment=comment), language=language.code)
    decision = policy.decide(scores=scores, thresholds=thresholds, facts=facts)
    return Evaluation(scores=scores, versions=versions, language=language, decision=decision)


@dataclass(frozen=True)
class Rescore:
    decided: dict[int, str]  # comment id -> its new status (scores updated, whether or not it changed)
    kept: int  # held by a person's decision or by readers' reports: left alone


def held_comments_rescore(*, comment_ids: list[int]) -> Rescore:
    """Score held comments again (after a model or threshold change) and apply the new decision.

    Only comments the pipeline held are touched: one a moderator has decided, or readers' reports
    sent back to the queue, stays for a person.
    """
    decided: dict[int, str] = {}
    kept = 0
    comments = Comment.objects.select_related("thread__site").filter(pk__in=comment_ids, status=Comment.Status.HELD)
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
            )
            if written:
                decided[comment.pk] = evaluation.decision.outcome.value
                if evaluation.decision.outcome != policy.Outcome.HELD:
                    decision_notify(comment_id=comment.pk, status=evaluation.decision.outcome)
                _explain_if_held(comment_id=comment.pk, decision=evaluation.decision)
    return Rescore(decided=decided, kept=kept)


def comment_facts(*, comment: Comment) -> policy.Facts:
    """Gather what the site's rules need to know about a comment."""
    site = comment.thread.site
    rules_of_site = site_policy(site=site)
    flags = dict(
        CommenterFlag.objects.filter(site=site, identity__in=commenter_identities(comment=comment)).values_list(
            "identity", "kind"
        )
    )
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
    # The same text from the same client (address hash, or signed commenter token) earlier in the thread.
    same_client = Q(pk__in=[])
    if comment.ip_hash:
        same_client |= Q(ip_hash=comment.ip_hash)
    if comment.commenter:
        same_client |= Q(commenter=comment.commenter)
    duplicate = (bool(comment.ip_hash) or bool(comment.commenter)) and (
        Comment.objects.filter(same_client, thread_id=comment.thread_id, body=comment.body, pk__lt=comment.pk).exists()
    )
    return policy.Facts(
        trap_filled=comment.trap_filled,
        form_seconds=comment.form_seconds,
        min_form_seconds=rules_of_site.min_form_seconds,
        require_form_token=rules_of_site.hold_without_form_token,
        duplicate=duplicate,
        hold_all=rules_of_site.hold_all,
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


def comment_scoring_give_up(*, comment_id: int, attempts: int) -> str:
    """Hold a comment whose scoring kept failing, so that it never loops."""
    logger.error("comment %s: scoring failed %s times, holding it for a moderator", comment_id, attempts)
    with transaction.atomic():
        written = comment_decide(comment_id=comment_id, decision=policy.scoring_failed(attempts))
        if not written:
            return "skipped"
        decision_notify(comment_id=comment_id, status=policy.Outcome.HELD)
    return policy.Outcome.HELD.value


REQUEUE_BACKOFF_MAX = 6  # at most 64 times older_than between two re-queues of one comment


def pending_comments_claim_stale(
    *, older_than: timedelta, limit: int = 1000, still_queued_from: int | None = None
) -> list[int]:
    """Return pending comments waiting longer than their back-off and mark them re-queued now.

    A comment is stale when it was created ``older_than`` ago, or last re-queued ``older_than`` times
    2 to the number of re-queues ago (30 s, 1 min, 2 min ... up to 2**REQUEUE_BACKOFF_MAX times): its
    task was lost (broker down at submission, worker killed) or is stuck behind a long queue. The
    back-off keeps a backlog that takes minutes to drain from being queued again and again.
    ``still_queued_from``: the comment whose task is at the front of the broker's queue; comments
    submitted after it are still queued behind it, and left alone.
    """
    now = timezone.now()
    cutoff = now - older_than
    candidates = (
        Comment.objects.filter(status=Comment.Status.PENDING, created_at__lt=cutoff)
        .filter(Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff))
        .order_by("created_at")
        .values_list("pk", "requeued_at", "requeues")
    )
    if still_queued_from is not None:
        candidates = candidates.filter(pk__lt=still_queued_from)
    ids = []
    for pk, requeued_at, requeues in candidates.iterator():
        if requeued_at is None or requeued_at < now - older_than * 2 ** min(requeues, REQUEUE_BACKOFF_MAX):
            ids.append(pk)
            if len(ids) >= limit:
                break
    if ids:
        Comment.objects.filter(pk__in=ids, status=Comment.Status.PENDING).update(
            requeued_at=now, requeues=F("requeues") + 1
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
        moderator_check(actor=actor, site_id=comment.thread.site_id)
        if expected_status and comment.status != expected_status:
            raise ValidationError(f"Comment #{comment_id} is {comment.status} now, no longer {expected_status}.")
        from_status = comment.status
        Comment.objects.filter(pk=comment_id).update(status=to_status, decided_at=timezone.now())
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
        decision_notify(comment_id=comment_id, status=to_status)
        return decision


def comment_reports_check(*, comment_id: int, reports: int) -> bool:
    """Put a reported published comment back in the queue once its reports reach the site's
    threshold; return whether it did. Called with the comment's row locked (``comment_was_reported``)."""
    comment = Comment.objects.select_related("thread__site").get(pk=comment_id)
    if comment.status != Comment.Status.PUBLISHED or reports < site_policy(site=comment.thread.site).report_threshold:
        return False
    reasons = [*comment.reasons, policy.reader_reports(reports).as_dict()]
    written = Comment.objects.filter(pk=comment_id, status=Comment.Status.PUBLISHED).update(
        status=Comment.Status.HELD, reasons=reasons
    )
    if written:
        listing_changed(thread=comment.thread)
        decision_notify(comment_id=comment_id, status=Comment.Status.HELD)
    return bool(written)
