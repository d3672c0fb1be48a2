import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from moderation import policy


def default_thresholds() -> dict[str, dict[str, float | None]]:
    return policy.thresholds_to_json(policy.DEFAULT_THRESHOLDS)


def validate_thresholds(value: object) -> None:
    try:
        policy.thresholds_from_json(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


def validate_origins(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(origin, str) for origin in value):
        raise ValidationError('Allowed origins must be a list of strings, e.g. ["https://example.org"].')
    for origin in value:
        scheme, _, rest = origin.partition("://")
        if scheme not in {"http", "https"} or not rest or "/" in rest:
            raise ValidationError(f"{origin!r} is not an origin such as https://news.example.org")


class Site(models.Model):
    """A publisher: its public key identifies it to the widget and the API."""

    name = models.CharField(max_length=200)
    public_key = models.SlugField(max_length=64, unique=True, help_text="Used by the widget and the API.")
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_origins],
        help_text='Origins whose pages may embed the widget, e.g. ["https://news.example.org"].',
    )
    thresholds = models.JSONField(
        default=default_thresholds,
        validators=[validate_thresholds],
        help_text="Per attribute: a score at or above 'publish' is held, at or above 'reject' rejected.",
    )
    hold_all = models.BooleanField(default=False, help_text="Pre-moderate: hold every comment for a moderator.")
    hold_first_comment = models.BooleanField(
        default=False,
        help_text="Hold a commenter's first comment (a commenter: the e-mail address, else address hash and name).",
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
    moderators = models.ManyToManyField(
        "auth.User",
        blank=True,
        related_name="moderated_sites",
        help_text="Moderators limited to this site. A moderator on no site's list moderates every site.",
    )
    report_threshold = models.PositiveSmallIntegerField(
        default=3, help_text="Reader reports that put a published comment back in the moderation queue."
    )
    auto_create_threads = models.BooleanField(
        default=True, help_text="Create a thread on the first comment to an unknown page."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.public_key})"


class Thread(models.Model):
    """The comments of one article page."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="threads")
    key = models.CharField(max_length=500, help_text="The page path or URL.")
    title = models.CharField(max_length=300, blank=True)
    is_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "key"], name="thread_unique_key_per_site")]

    def __str__(self) -> str:
        return self.title or self.key


class Comment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PUBLISHED = policy.Outcome.PUBLISHED.value
        HELD = policy.Outcome.HELD.value
        REJECTED = policy.Outcome.REJECTED.value

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    # The top-level comment of the reply chain (null for a top-level comment): one query lists
    # every reply under a page of top-level comments, however deep the chain.
    root = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    author_name = models.CharField(max_length=100)
    author_email = models.EmailField(max_length=254, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    scores = models.JSONField(default=dict, blank=True, help_text="Attribute name to probability.")
    model_versions = models.JSONField(default=dict, blank=True, help_text="Attribute name to model version.")
    reasons = models.JSONField(default=list, blank=True)
    ip_hash = models.CharField(max_length=64, blank=True, help_text="Keyed hash of the client address.")
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    scoring_attempts = models.PositiveSmallIntegerField(default=0)
    requeued_at = models.DateTimeField(null=True, blank=True)
    # Set when the comment is scored (ml.language): "" until then, or when it has too few letters.
    language = models.CharField(max_length=8, blank=True, help_text="ISO 639-1 code of the detected language.")
    script = models.CharField(max_length=4, blank=True, help_text="ISO 15924 code of the script it is written in.")

    class Meta:
        permissions = [("can_moderate", "Can moderate comments")]
        indexes = [
            models.Index(fields=["thread", "status", "created_at"], name="comment_thread_listing"),
            models.Index(fields=["status", "created_at"], name="comment_status_age"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "published", "held", "rejected"]), name="comment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False), name="comment_decided_has_time"
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True, root__isnull=True) | Q(parent__isnull=False, root__isnull=False),
                name="comment_reply_has_root",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} by {self.author_name}"


class Report(models.Model):
    """A reader's report of a published comment; one per comment and client address."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=300, blank=True)
    ip_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["comment", "ip_hash"], name="report_one_per_address")]

    def __str__(self) -> str:
        return f"report on comment #{self.comment_id}"


class IdempotencyKey(models.Model):
    """A submission made with an ``Idempotency-Key`` header, so that a repeat creates nothing."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the submitted fields.")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "key"], name="idempotency_unique_key_per_site")]

    def __str__(self) -> str:
        return f"{self.key} -> comment #{self.comment_id}"
