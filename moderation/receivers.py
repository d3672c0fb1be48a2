"""The moderation app's side of the seam with the public side (``comments.signals``)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from comments.models import Comment, Site
from comments.signals import (
    comment_status_requested,
    comment_was_deleted,
    comment_was_edited,
    comment_was_posted,
    comment_was_reported,
)
from moderation import services, sites, tasks
from moderation.models import SitePolicy


@receiver(post_save, sender=Site, dispatch_uid="moderation-site-policy")
def site_policy_create(sender: type[Site], instance: Site, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Every site has a moderation policy (the defaults) from the moment it exists."""
    if created and not raw:
        SitePolicy.objects.get_or_create(site=instance)


@receiver(comment_was_posted, dispatch_uid="moderation-comment-posted")
def comment_posted(sender: type[Comment], comment_id: int, **kwargs: Any) -> None:
    """Once the new comment is committed, wake the scoring drain unless it is awake (a broker failure is
    logged; the sweep finds the comment later)."""
    tasks.pending_comments_drain_wake()


@receiver(comment_was_reported, dispatch_uid="moderation-comment-reported")
def comment_reported(sender: type[Comment], comment_id: int, reports: int, **kwargs: Any) -> None:
    services.comment_reports_check(comment_id=comment_id, reports=reports)


@receiver(comment_was_edited, dispatch_uid="moderation-comment-edited")
def comment_edited(sender: type[Comment], comment_id: int, edit_id: int, **kwargs: Any) -> None:
    """An author's new text: their earlier undecided edits give way, and it is scored after the commit."""
    services.comment_edits_supersede(comment_id=comment_id, edit_id=edit_id)
    tasks.comment_edit_score_later(edit_id=edit_id)


@receiver(comment_was_deleted, dispatch_uid="moderation-comment-deleted")
def comment_deleted(sender: type[Comment], comment_id: int, **kwargs: Any) -> None:
    services.comment_author_delete(comment_id=comment_id)


@receiver(comment_status_requested, dispatch_uid="moderation-comment-status")
def comment_status(sender: type[Comment], comment: Comment, user: Any, **kwargs: Any) -> dict[str, Any] | None:
    """A moderator of the comment's site sees its real status, scores and reasons."""
    if not sites.moderator_sees(
        user=user, site_id=comment.thread.site_id, language=comment.language, script=comment.script
    ):
        return None
    return {
        "moderation": {
            "status": comment.status,
            "scores": comment.scores,
            "model_versions": comment.model_versions,
            "reasons": comment.reasons,
            "decided_at": comment.decided_at.isoformat() if comment.decided_at else None,
            "scoring_attempts": comment.scoring_attempts,
        }
    }
