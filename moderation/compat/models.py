"""Models of the compatibility APIs (imported by moderation.models so that Django finds them)."""

from django.db import models
from django.db.models import Q

from comments.models import Site


class ApiKey(models.Model):
    """A site's key to the Perspective- and Akismet-compatible APIs.

    Only a SHA-256 hash of the key is stored (keys are long random strings, so a fast hash is
    enough) and a short prefix that lets people tell keys apart; the key itself is shown once.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True, help_text="What the key is for, e.g. 'Coral Talk'.")
    prefix = models.CharField(max_length=16, editable=False, help_text="The first characters of the key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    requests_per_minute = models.PositiveIntegerField(
        default=600, help_text="Requests a minute this key may make (0: no limit); more answer 429."
    )
    request_count = models.PositiveBigIntegerField(default=0, editable=False)
    month = models.CharField(max_length=7, blank=True, editable=False, help_text="The month of month_request_count.")
    month_request_count = models.PositiveBigIntegerField(default=0, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(condition=~Q(key_hash=""), name="api_key_has_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.site.public_key})"


class TrainingLabel(models.Model):
    """A label sent by a Perspective or Akismet client (suggestscore, submit-spam, submit-ham).

    ``labels`` maps attribute names to 0 or 1, like a moderator decision's labels. The APIs store
    no call marked as a test; ``is_test`` is there for labels that come from elsewhere.
    """

    class Source(models.TextChoices):
        PERSPECTIVE = "perspective"
        AKISMET = "akismet"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    labels = models.JSONField(default=dict, help_text='Attribute to 0 or 1, e.g. {"TOXICITY": 1}.')
    source = models.CharField(max_length=16, choices=Source.choices)
    community_id = models.CharField(max_length=500, blank=True)
    client_token = models.CharField(max_length=500, blank=True)
    is_test = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.source} label {self.labels} for {self.site.public_key}"
