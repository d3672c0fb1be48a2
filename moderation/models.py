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


class ModelVersion(models.Model):
    """A model version the learning loop built or promoted; which one is active is this table's word.

    With no active row for a model, the shipped artifacts (the newest, or the configured version)
    are used. At most one row per model is active; promoting retires the one before.
    """

    class Status(models.TextChoices):
        CANDIDATE = "candidate"  # passed every gate, waits for promotion
        REFUSED = "refused"  # worse than the active model on some gate: never promoted
        ACTIVE = "active"
        RETIRED = "retired"

    name = models.CharField(max_length=32, help_text="toxicity or spam")
    version = models.CharField(max_length=120, unique=True)
    directory = models.CharField(max_length=500, help_text="The artifacts directory that holds this version.")
    status = models.CharField(max_length=16, choices=Status.choices)
    based_on = models.CharField(max_length=120, blank=True)
    labels = models.PositiveIntegerField(default=0, help_text="Labelled comments it learned from.")
    gates = models.JSONField(default=dict, blank=True)
    replay = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    promoted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["name"], condition=Q(status="active"), name="one_active_version_per_model"),
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.status})"


class WorkerHeartbeat(models.Model):
    """A Celery worker's latest sign of life, written on start and every few seconds (``/healthz``)."""

    hostname = models.CharField(max_length=255, unique=True, help_text="The worker's node name, e.g. celery@host.")
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname} seen {self.seen_at:%Y-%m-%d %H:%M:%S}"


from moderation.compat.models import *  # noqa: E402, F403  (Django finds models through this module)
