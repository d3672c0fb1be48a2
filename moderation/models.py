import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from comments.models import Comment, Site, Thread
from moderation import policy


def validate_thresholds(value: object) -> None:
    try:
        policy.thresholds_from_json(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


class SitePolicy(models.Model):
    """How a site's comments are moderated: one per site, created with it.

    ``thresholds`` holds only what the site sets itself; every other attribute follows the active
    model's default (``moderation.sites.site_thresholds``), so a new model head works on every site.
    """

    site = models.OneToOneField(Site, on_delete=models.CASCADE, primary_key=True, related_name="policy")
    thresholds = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_thresholds],
        help_text='The site\'s own thresholds, e.g. {"TOXICITY": {"publish": 0.3, "reject": null}}: a score at '
        "or above 'publish' is held, at or above 'reject' rejected. Attributes not named here follow the "
        "active model's defaults.",
    )
    hold_all = models.BooleanField(default=False, help_text="Pre-moderate: hold every comment for a moderator.")
    hold_first_comment = models.BooleanField(
        default=False,
        help_text="Hold a commenter's first comment (a commenter: the signed commenter token, or the address hash "
        "with the name or the e-mail address; an e-mail address alone, which anyone can type, is not enough).",
    )
    min_form_seconds = models.PositiveSmallIntegerField(
        default=3,
        help_text="Hold a comment sent this many seconds or less after the widget's form was opened (a bot); 0: off.",
    )
    hold_without_form_token = models.BooleanField(
        default=False,
        help_text="Hold comments that did not come through the widget (no form token): for sites that post "
        "only through the widget.",
    )
    hold_links_at = models.PositiveSmallIntegerField(
        default=0, help_text="Hold comments with this many links or more (0: off)."
    )
    blocked_words = models.TextField(
        blank=True,
        help_text="One word or phrase per line; matched on word boundaries over normalised text. A match holds.",
    )
    allowed_words = models.TextField(
        blank=True, help_text="One per line; never counted as blocked words (e.g. a place name)."
    )
    blocked_email_domains = models.TextField(
        blank=True, help_text="One domain per line; comments from these e-mail domains are rejected."
    )
    webhook_url = models.URLField(
        blank=True, help_text="Receives comment.published, comment.held and comment.rejected events (signed)."
    )
    webhook_secret = models.CharField(
        max_length=64, default=new_webhook_secret, help_text="Key of the HMAC-SHA256 signature of each webhook."
    )
    email_moderators = models.BooleanField(
        default=False,
        help_text="E-mail the site's moderators (else every moderator) about each held comment, with "
        "signed one-click approve and reject links.",
    )
    email_digest = models.BooleanField(
        default=False,
        help_text="With 'email moderators': one e-mail a day listing the held comments (at MODERATO_DIGEST_HOUR, "
        "UTC) instead of one e-mail per held comment.",
    )
    moderators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="moderated_site_policies",
        help_text="Moderators of this site. A moderator on no site's list moderates nothing, unless given the "
        "permission 'Can moderate every site'.",
    )
    staff_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="The name a moderator's reply as the site is signed with, e.g. 'The editors' (blank: the site's "
        "name). Readers see it with a staff badge.",
    )
    report_threshold = models.PositiveSmallIntegerField(
        default=3, help_text="Reader reports that put a published comment back in the moderation queue."
    )
    shadow_mode = models.BooleanField(
        default=False,
        help_text="Try before trusting: publish what Moderato would hold or reject, and record what it would have "
        "decided (the site's shadow report compares it with the moderators' later actions). Bots, duplicates "
        "and blocked commenters are still held or rejected.",
    )

    class ErasureMode(models.TextChoices):
        DELETE = "delete", "Delete the comments (one with replies stays as a [deleted] placeholder)"
        ANONYMISE = "anonymise", "Anonymise the comments (keep the text; remove the name and every trace of the author)"

    erasure = models.CharField(
        max_length=10,
        choices=ErasureMode.choices,
        default=ErasureMode.DELETE,
        help_text="What erasing a commenter (their request, a moderator's action, manage.py erase_commenter) does "
        "to their comments on this site.",
    )

    class Meta:
        verbose_name = "moderation policy"
        verbose_name_plural = "moderation policy"
        permissions = [("moderate_all_sites", "Can moderate every site")]

    def __str__(self) -> str:
        return f"moderation policy of {self.site}"

    def clean(self) -> None:
        if self.shadow_mode and self.hold_all:
            raise ValidationError(
                {"shadow_mode": "Shadow mode publishes what pre-moderation would hold: turn one of them off."}
            )


def validate_thread_thresholds(value: object) -> None:
    try:
        policy.thread_holds_from_json(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class ThreadPolicy(models.Model):
    """How one thread's comments are moderated where it differs from its site's policy: a sensitive story
    pre-moderated, or held at stricter thresholds. A thread without a row follows its site.

    Whether the thread takes comments at all is the public side's (``Thread.is_open``, and the site's
    ``close_after_days``).
    """

    thread = models.OneToOneField(Thread, on_delete=models.CASCADE, primary_key=True, related_name="policy")
    hold_all = models.BooleanField(
        default=False,
        help_text="Pre-moderate this thread: hold every comment for a moderator, whatever its scores (a trusted "
        "commenter's too).",
    )
    thresholds = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_thread_thresholds],
        help_text='This thread\'s own hold thresholds, e.g. {"TOXICITY": 0.1}: a score at or above it holds the '
        "comment, in place of the site's publish threshold (the site's reject thresholds still apply).",
    )

    class Meta:
        verbose_name = "thread moderation"
        verbose_name_plural = "thread moderation"

    def __str__(self) -> str:
        return f"moderation of thread {self.thread}"


# An entry of a moderator's languages: an ISO 639-1 code, optionally with an ISO 15924 script
# ("sr-Latn": Serbian in Latin letters only), or "und" for comments whose language was not detected.
UNDETERMINED_LANGUAGE = "und"
_LANGUAGE_ENTRY = re.compile(r"^(?:und|[a-z]{2,3}(?:-[A-Z][a-z]{3})?)$")


def language_entries(raw: str) -> list[tuple[str, str]]:
    """The (language, script) pairs of a moderator's languages, "" for any script and "" for "und"
    (comments without a detected language); ValueError names the first entry that is not one."""
    entries: list[tuple[str, str]] = []
    for word in raw.replace(",", " ").split():
        if not _LANGUAGE_ENTRY.match(word):
            raise ValueError(
                f"{word!r} is not a language: write ISO 639-1 codes such as 'bg' or 'sr-Latn' (a language in "
                "one script), or 'und' for comments whose language was not detected."
            )
        language, _, script = word.partition("-")
        entries.append(("" if language == UNDETERMINED_LANGUAGE else language, script))
    return entries


def validate_languages(value: str) -> None:
    try:
        entries = language_entries(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if not entries:
        raise ValidationError("Name at least one language (delete the row to let this moderator see every language).")


class ModeratorLanguages(models.Model):
    """The languages a moderator can judge: they see and decide only comments in these (a person
    with no row sees every language of their sites). Sites and languages both limit: a comment is
    theirs when it is on one of their sites and in one of their languages."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="moderator_languages"
    )
    languages = models.CharField(
        max_length=200,
        validators=[validate_languages],
        help_text="ISO 639-1 codes separated by spaces or commas, e.g. 'bg mk sr-Cyrl' ('sr-Cyrl': Serbian in "
        "Cyrillic only); 'und' adds the comments whose language was not detected (too short, no letters).",
    )

    class Meta:
        verbose_name = "moderator's languages"
        verbose_name_plural = "moderators' languages"

    def __str__(self) -> str:
        return f"{self.user}: {self.languages}"


class ShadowDecision(models.Model):
    """What Moderato would have decided about a comment of a site in shadow mode, which published it.

    ``outcome`` and ``reasons`` are the pipeline's decision as ``policy.decide`` made it; ``applied`` is
    the status the comment got (published, unless a rule that still acts in shadow mode held or
    rejected it: ``policy.ENFORCED_IN_SHADOW_MODE``). One per comment: a re-scoring replaces it.
    """

    comment = models.OneToOneField(Comment, on_delete=models.CASCADE, primary_key=True, related_name="shadow")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=16, choices=Comment.Status.choices)
    applied = models.CharField(max_length=16, choices=Comment.Status.choices)
    reasons = models.JSONField(default=list, blank=True)
    decided_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["site", "decided_at"], name="shadow_decision_site_time")]
        constraints = [
            models.CheckConstraint(condition=~Q(outcome="pending"), name="shadow_outcome_never_pending"),
        ]

    def __str__(self) -> str:
        return f"comment #{self.comment_id}: would be {self.outcome}, {self.applied}"


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


class CommentEvent(models.Model):
    """One change of a comment's state, written by the function that made it, in its transaction:
    the comment's story (``moderation.story``), which the moderators' page and the API read.

    Acts that are a row of their own already are not copied here: the submission (the comment's
    ``created_at``), a reader's report (``Report``), an author's new text (``CommentEdit``). A
    moderator's decision is both an event (``decision`` points to it) and a ``ModerationDecision``,
    the row re-scoring and learning read; its note and labels live there only.
    """

    class Actor(models.TextChoices):
        SYSTEM = "system"
        PERSON = "person", "moderator"
        READER = "reader"

    class Kind(models.TextChoices):
        SCORED = "scored", "scored and decided"
        SCORING_FAILED = "scoring_failed", "held: scoring failed"
        RESCORED = "rescored", "scored again"
        REPORTS_HELD = "reports_held", "back in the queue: readers' reports"
        DECIDED = "decided", "moderator's decision"
        EDIT_SCORED = "edit_scored", "its author's edit scored"
        EDIT_DECIDED = "edit_decided", "its author's edit decided"
        DELETED = "deleted", "deleted by its author"
        ERASED = "erased", "erased (readers' data)"
        PLACEHOLDER_REMOVED = "placeholder_removed", "placeholder taken off the page"

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.CharField(max_length=8, choices=Actor.choices)
    # The moderator who acted (a decision, an erasure from the admin) or asked (a re-scoring from the admin).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    from_status = models.CharField(max_length=16, blank=True, choices=Comment.Status.choices)
    to_status = models.CharField(max_length=16, blank=True, choices=Comment.Status.choices)
    decision = models.ForeignKey(ModerationDecision, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    details = models.JSONField(
        default=dict, blank=True, help_text="Scores, model versions, reasons, the edit or erasure concerned."
    )

    class Meta:
        indexes = [models.Index(fields=["comment", "at"], name="comment_event_story")]

    def __str__(self) -> str:
        return f"{self.kind} of comment #{self.comment_id}"


class CommenterFlag(models.Model):
    """A moderator's word on a commenter of one site: trusted (skips pre-moderation) or blocked.

    ``identity`` is ``commenter:<id>`` (the signed commenter token, ``comments.tokens``),
    ``ip:<address hash>:<name>``, ``ip:<address hash>`` or ``email:<address>``. Anyone can type an
    e-mail address, so an ``email:`` identity can block but never trust.
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

    def clean(self) -> None:
        if self.kind == self.Kind.TRUSTED and not self.identity.startswith(TRUSTABLE_PREFIXES):
            raise ValidationError(
                {
                    "identity": "Trust needs something a commenter cannot type: commenter:<id> (their signed token) "
                    "or ip:<address hash>:<name>. An e-mail address can only block."
                }
            )

    @property
    def basis(self) -> str:
        """What the identity rests on, in the moderators' words."""
        kind, _, rest = self.identity.partition(":")
        if kind == "commenter":
            return "signed commenter token (cannot be forged)"
        if kind == "ip":
            return "address hash and name" if ":" in rest else "address hash (everyone behind that address)"
        if kind == "email":
            return "e-mail address (anyone can type it: blocks only)"
        return "unknown"


# Identities a trusted flag may name: ones a commenter cannot simply type into the form.
TRUSTABLE_PREFIXES = ("commenter:", "ip:")


class ModelVersion(models.Model):
    """A model version the learning loop built or promoted; which one is active is this table's word.

    Its artifact (the files of an ``ml.artifacts`` version directory) is stored with it, as
    ``ModelArtifactFile`` rows, so every process reads the same model. With no active row for a
    model, the shipped artifacts (the newest, or the configured version) are used. At most one row
    per model is active; promoting retires the one before.
    """

    class Status(models.TextChoices):
        CANDIDATE = "candidate"  # passed every gate, waits for promotion
        REFUSED = "refused"  # worse than the active model on some gate: never promoted
        ACTIVE = "active"
        RETIRED = "retired"

    name = models.CharField(max_length=32, help_text="toxicity or spam")
    version = models.CharField(max_length=120, unique=True)
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


class ModelArtifactFile(models.Model):
    """One file of a model version's artifact (weights.npz, meta.json, MODEL_CARD.md) and its SHA-256.

    The database is the one place web, worker and beat processes all reach; each process copies a
    version it needs into its own cache directory (``moderation.model_store``).
    """

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=64)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()

    class Meta:
        ordering = ["model_version", "name"]
        constraints = [
            models.UniqueConstraint(fields=["model_version", "name"], name="one_file_per_name_per_model_version"),
        ]

    def __str__(self) -> str:
        return f"{self.model_version.version}/{self.name}"


def new_event_id() -> str:
    """A notification's id, as Standard Webhooks names them: receivers deduplicate on it."""
    return f"msg_{secrets.token_hex(16)}"


class Notification(models.Model):
    """The outbox: one notification to deliver, written in the transaction of the decision it reports.

    A task delivers it after the commit; the sweep re-drives every row still pending once it is due
    (a lost message, a killed worker, a receiver that failed), with back-off, until it is delivered
    or has used its attempts. Delivery is at least once: a receiver deduplicates on ``event_id``.
    """

    class Kind(models.TextChoices):
        WEBHOOK = "webhook"
        EMAIL = "email"

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed", "failed (gave up)"

    event_id = models.CharField(max_length=40, unique=True, default=new_event_id, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    event = models.CharField(max_length=64, help_text="e.g. comment.held")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    payload = models.JSONField(default=dict, blank=True, help_text="The webhook body, as of the decision.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text="When the sweep may send it (again).")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=300, blank=True, help_text="The receiver's answer or the error.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"{self.event} ({self.kind}) {self.event_id}"


class Erasure(models.Model):
    """The audit record of one erasure of a commenter's comments on a site: who asked, when, how many.

    It keeps nothing of what was erased, nor whose it was (no name, address or commenter id).
    """

    class Via(models.TextChoices):
        EMAIL_LINK = "email_link", "the reader, through the link mailed to them"
        COMMENTER_TOKEN = "commenter_token", "the reader, with their commenter token (the widget)"
        ADMIN = "admin", "a moderator, in the admin"
        COMMAND = "command", "manage.py erase_commenter"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    via = models.CharField(max_length=16, choices=Via.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    mode = models.CharField(max_length=10, choices=SitePolicy.ErasureMode.choices)
    comments = models.PositiveIntegerField(help_text="Comments erased.")
    deleted = models.PositiveIntegerField(help_text="Of those, deleted.")
    placeholders = models.PositiveIntegerField(help_text="Of those, kept as [deleted] because others replied.")
    anonymised = models.PositiveIntegerField(help_text="Of those, anonymised (the text kept).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(comments=F("deleted") + F("placeholders") + F("anonymised")), name="erasure_counts_add_up"
            ),
        ]

    def __str__(self) -> str:
        return f"erasure of {self.comments} comment(s) on site #{self.site_id}"


class ModeratorToken(models.Model):
    """A moderator's key to the moderation API (``/api/v1/moderation/``), for a newsroom tool.

    It acts as its user: what the user may see and decide (sites, languages) is what the token may.
    Only a SHA-256 hash of the key is stored (a long random key: a fast hash is enough) and a short
    prefix that tells keys apart; the key itself is shown once (``moderation.moderator_tokens``).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moderator_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for, e.g. 'newsroom desk'.")
    prefix = models.CharField(max_length=16, editable=False, help_text="The first characters of the token.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "moderator's API token"
        verbose_name_plural = "moderators' API tokens"
        constraints = [models.CheckConstraint(condition=~Q(key_hash=""), name="moderator_token_has_hash")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.user})"


class WorkerHeartbeat(models.Model):
    """A Celery worker's latest sign of life, written on start and every few seconds (``/healthz``)."""

    hostname = models.CharField(max_length=255, unique=True, help_text="The worker's node name, e.g. celery@host.")
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)
    # Its main process and pool at the last beat: a comment held by a process not among them (killed,
    # replaced) is taken up again by the sweep at once.
    pids = models.JSONField(default=list, blank=True, help_text="Process ids of the worker at its last beat.")

    def __str__(self) -> str:
        return f"{self.hostname} seen {self.seen_at:%Y-%m-%d %H:%M:%S}"


from moderation.compat.models import *  # noqa: E402, F403  (Django finds models through this module)
