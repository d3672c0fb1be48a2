from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, IntegerField, Q
from django.utils import timezone

from comments.status import Status as CommentStatus


def validate_origins(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(origin, str) for origin in value):
        raise ValidationError('Allowed origins must be a list of strings, e.g. ["https://example.org"].')
    for origin in value:
        scheme, _, rest = origin.partition("://")
        if scheme not in {"http", "https"} or not rest or "/" in rest:
            raise ValidationError(f"{origin!r} is not an origin such as https://news.example.org")


class Site(models.Model):
    """A publisher: its public key identifies it to the widget and the API.

    How its comments are moderated (thresholds, pre-moderation, word lists, notifications,
    moderators) is the moderation app's business: ``moderation.models.SitePolicy``.
    """

    name = models.CharField(max_length=200)
    public_key = models.SlugField(max_length=64, unique=True, help_text="Used by the widget and the API.")
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_origins],
        help_text='Origins whose pages may embed the widget, e.g. ["https://news.example.org"].',
    )
    auto_create_threads = models.BooleanField(
        default=True, help_text="Create a thread on the first comment to an unknown page."
    )
    max_reply_depth = models.PositiveSmallIntegerField(
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Replies nest this deep at most (1-50); a reply to a comment at this depth is listed next to it.",
    )
    edit_minutes = models.PositiveSmallIntegerField(
        default=15,
        validators=[MaxValueValidator(1440)],
        help_text="Authors may edit or delete their own comment for this many minutes after posting it, with the "
        "signed commenter token their post returned (0: never).",
    )
    close_after_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Close a thread to new comments this many days after it was created, which for a thread made by "
        "its first comment is that comment (empty: never). A thread a moderator reopens afterwards stays open.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.public_key})"


def thread_key_canonical(key: str) -> str:
    """One spelling per thread: a page path starts with "/" (``news/bridge`` is ``/news/bridge``, as
    the path form of the API, ``/api/v1/threads/news/bridge/comments``, loses the slash); an
    ``http(s)://`` URL is kept as given."""
    key = key.strip()
    if not key or key.startswith("/") or key.lower().startswith(("http://", "https://")):
        return key
    return "/" + key


class Thread(models.Model):
    """The comments of one article page. ``key``: see ``thread_key_canonical``."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="threads")
    key = models.CharField(max_length=500, help_text="The page path or URL.")
    title = models.CharField(max_length=300, blank=True)
    is_open = models.BooleanField(default=True, help_text="Takes new comments (unless the site closed it by age).")
    auto_close = models.BooleanField(
        default=True,
        help_text="Closes by itself the site's 'close after days' after it was created; reopening a thread past "
        "that time turns this off.",
    )
    # When it began: now for a thread made by a comment or an administrator, the first comment's time for an
    # imported one. The site's close_after_days counts from it.
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "key"], name="thread_unique_key_per_site")]

    def __str__(self) -> str:
        return self.title or self.key

    def closes_at(self, site: Site) -> datetime | None:
        """When the site's ``close_after_days`` closes it (None: never). ``site`` is its site, passed in
        because the caller has it: reading it through the thread would cost a query per submission."""
        if not self.auto_close or not site.close_after_days:
            return None
        return self.created_at + timedelta(days=site.close_after_days)

    def takes_comments(self, site: Site, now: datetime) -> bool:
        """Whether a new comment is accepted: open, and not past the time the site closes it."""
        closes_at = self.closes_at(site)
        return self.is_open and (closes_at is None or now < closes_at)


class HeldFirst(Func):
    """0 for a held comment, 1 for any other: the moderators' queue sorts on it, then on age.

    The value is written into the SQL, not passed as a parameter, so that the query's ORDER BY is the
    very expression of the ``comment_queue_order`` index: SQLite uses an index on an expression only
    when the query spells the same expression, and a parameter is not the same as a literal."""

    template = f"CASE WHEN %(expressions)s = '{CommentStatus.HELD.value}' THEN 0 ELSE 1 END"
    output_field = IntegerField()

    def __init__(self) -> None:
        super().__init__(F("status"))


class Comment(models.Model):
    class Status(models.TextChoices):
        PENDING = CommentStatus.PENDING.value
        PUBLISHED = CommentStatus.PUBLISHED.value
        HELD = CommentStatus.HELD.value
        REJECTED = CommentStatus.REJECTED.value
        DELETED = CommentStatus.DELETED.value

    class ReplyNotice(models.TextChoices):
        """Whether its author is e-mailed about published replies: asked for with the comment, confirmed
        from a signed link (double opt-in), ended from the link in every reply notice."""

        NONE = "", "not asked for"
        UNCONFIRMED = "unconfirmed"
        CONFIRMED = "confirmed"
        UNSUBSCRIBED = "unsubscribed"

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
    # The moment it was posted: now for a submission, the original time for an imported comment.
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    scoring_attempts = models.PositiveSmallIntegerField(default=0)
    requeued_at = models.DateTimeField(null=True, blank=True)
    requeues = models.PositiveSmallIntegerField(default=0, help_text="Times the sweep queued it again.")
    # The worker process that holds its scoring task (took the message, or claimed an attempt) and since
    # when; empty while no worker has it. The sweep re-queues at once a comment whose holder has died.
    claimed_by = models.CharField(max_length=255, blank=True, help_text="Node name of the worker holding it.")
    claimed_pid = models.PositiveIntegerField(null=True, blank=True, help_text="Process id within that worker.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    # comments.tokens: the random id the commenter token names (new with each submission sent without a
    # valid token), and the seconds from the widget's form token to this submission (null: no token).
    commenter = models.CharField(
        max_length=32, blank=True, db_index=True, help_text="Id of the signed commenter token this was posted with."
    )
    form_seconds = models.FloatField(
        null=True, blank=True, help_text="Seconds from the widget's form token to the submission (0: forged)."
    )
    trap_filled = models.BooleanField(
        default=False, help_text="The widget's hidden field, which people never see, came filled in (a bot)."
    )
    # Set when the comment is scored (ml.language): "" until then, or when it has too few letters.
    language = models.CharField(max_length=8, blank=True, help_text="ISO 639-1 code of the detected language.")
    script = models.CharField(max_length=4, blank=True, help_text="ISO 15924 code of the script it is written in.")
    edited_at = models.DateTimeField(null=True, blank=True, help_text="When its author's last edit was published.")
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="When its author deleted it (its text, name and e-mail address are gone)."
    )
    reply_notice = models.CharField(
        max_length=12,
        choices=ReplyNotice.choices,
        blank=True,
        default=ReplyNotice.NONE,
        help_text="E-mail its author about published replies (double opt-in).",
    )
    # moderation.importing: the comment's id in the system it was imported from, e.g. "wordpress:123";
    # one comment per id and site (the importer checks the site, the constraint each thread).
    external_id = models.CharField(
        max_length=100, blank=True, help_text="Id in the system it was imported from, e.g. wordpress:123."
    )
    # moderation.staff: a reply a moderator posted as the site, published at once and marked as such in the
    # listing. ``staff_user`` is who wrote it (null once their account is deleted: the reply stays marked).
    by_staff = models.BooleanField(default=False, help_text="A reply a moderator posted as the site.")
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The moderator who posted this staff reply.",
    )

    class Meta:
        permissions = [("can_moderate", "Can moderate comments")]
        indexes = [
            models.Index(fields=["thread", "status", "created_at"], name="comment_thread_listing"),
            models.Index(fields=["status", "created_at"], name="comment_status_age"),
            # The queue's order (held first, oldest first, then id): its first page reads 50 entries
            # of this index instead of sorting every comment.
            models.Index(HeldFirst(), F("created_at"), F("id"), name="comment_queue_order"),
            # The same commenter (``moderation.commenters.same_commenter``): their history on a comment's
            # page, the first-comment hold, blocks by address, the readers' data.
            models.Index(fields=["ip_hash"], name="comment_ip_hash"),
            # A moderator limited to some sites and languages: the queue's COUNT reads this index alone,
            # not every comment row of their threads.
            models.Index(fields=["thread", "language", "script"], name="comment_thread_language"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[status.value for status in CommentStatus]), name="comment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=CommentStatus.PENDING.value) | Q(decided_at__isnull=False),
                name="comment_decided_has_time",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True, root__isnull=True) | Q(parent__isnull=False, root__isnull=False),
                name="comment_reply_has_root",
            ),
            models.CheckConstraint(
                condition=Q(by_staff=True) | Q(staff_user__isnull=True), name="comment_staff_user_on_staff_reply"
            ),
            models.UniqueConstraint(
                fields=["thread", "external_id"],
                condition=~Q(external_id=""),
                name="comment_unique_external_id_per_thread",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} by {self.author_name}"


class CommentEdit(models.Model):
    """A new text an author sent for their published comment, within the site's edit window.

    It is scored like a new comment; the published text stays on the page until the edit is decided
    (``moderation.services``, which owns ``state`` as it owns a comment's status): published, it
    replaces the comment's text; held, a moderator decides it; rejected, the old text stays. A newer
    edit supersedes an undecided one.
    """

    class State(models.TextChoices):
        PENDING = CommentStatus.PENDING.value
        PUBLISHED = CommentStatus.PUBLISHED.value
        HELD = CommentStatus.HELD.value
        REJECTED = CommentStatus.REJECTED.value

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="edits")
    body = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    scores = models.JSONField(default=dict, blank=True)
    model_versions = models.JSONField(default=dict, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    scoring_attempts = models.PositiveSmallIntegerField(default=0)
    requeued_at = models.DateTimeField(null=True, blank=True, help_text="When the sweep last queued it again.")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "created_at"], name="comment_edit_state_age")]

    def __str__(self) -> str:
        return f"edit #{self.pk} of comment #{self.comment_id}"


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
