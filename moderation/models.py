from django.conf import settings
from django.db import models
from django.db.models import Q

from comments.models import Comment, Site


class ModerationAction(models.TextChoices):
    """What a moderator did. The status it leads to and the label it teaches are separate facts."""

    APPROVE = "approve", "Approve (publish)"
    REJECT = "reject", "Reject (remove, no label)"
    SPAM = "spam", "Mark as spam"
    NOT_SPAM = "not_spam", "Mark as not spam"
    TOXIC = "toxic", "Mark as toxic"
    NOT_TOXIC = "not_toxic", "Mark as not toxic"


class ModerationDecision(models.Model):
    """One moderator decision on one comment: the audit trail, and the models' training labels."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="decisions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=16, choices=ModerationAction.choices)
    from_status = models.CharField(max_length=16, choices=Comment.Status.choices)
    to_status = models.CharField(max_length=16, choices=Comment.Status.choices)
    labels = models.JSONField(default=dict, blank=True, help_text='Attribute to 0 or 1, e.g. {"SPAM": 1}.')
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(to_status="pending"), name="decision_never_back_to_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on comment #{self.comment_id}"


class CommenterFlag(models.Model):
    """A moderator's word on a commenter of one site: trusted (skips pre-moderation) or blocked.

    ``identity`` is ``email:<address>``, ``ip:<address hash>`` or ``ip:<address hash>:<name>``.
    """

    class Kind(models.TextChoices):
        TRUSTED = "trusted"
        BLOCKED = "blocked"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    identity = models.CharField(max_length=400)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "identity"], name="commenter_flag_unique")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.identity}"


from moderation.compat.models import *  # noqa: E402, F403  (Django finds models through this module)
