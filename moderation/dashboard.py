"""The moderators' dashboard (issue 15 item 5): what waits, what was decided, how often people overturn
the models, and how the scores of published and held comments spread.

Every figure is aggregated in the database, a fixed number of queries whatever the number of comments,
over the sites and languages the moderator sees (``sites.site_scoped``, ``languages.language_scoped``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, DateField, F, FloatField, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Floor
from django.utils import timezone

from comments.models import Comment
from moderation import languages, sites
from moderation.models import ModerationDecision

DAYS = 30
CACHE_SECONDS = 60  # the figures a moderator's reload shows again: five scans of the last 30 days spared
HISTOGRAM_ATTRIBUTES = ("TOXICITY", "SPAM")
BINS = 10
DECIDED = (Comment.Status.PUBLISHED, Comment.Status.HELD, Comment.Status.REJECTED)


@dataclass
class Agreement:
    attribute: str
    overturned: int  # a person published what the model held or rejected for this attribute
    upheld: int  # a person rejected what the model held or rejected for it
    missed: int  # a person rejected, with this attribute's label, what the model published

    @property
    def share_overturned(self) -> float | None:
        decided = self.overturned + self.upheld
        return self.overturned / decided if decided else None


@dataclass
class Dashboard:
    since: datetime
    waiting: list[dict[str, Any]]  # per site: site_id, name, held, oldest
    days: list[date]
    by_model: dict[str, list[int]]  # outcome -> one count per day: what the model decided on the day's comments
    by_person: dict[str, list[int]]  # status -> one count per day: the moderators' decisions that day
    agreement: list[Agreement]
    histograms: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # attribute -> status -> per bin


def _comments(user: Any) -> QuerySet[Comment]:
    """The readers' comments the user moderates: the site's own replies (``moderation.staff``) were
    decided by no model and no moderator."""
    scoped = sites.site_scoped(Comment.objects.filter(by_staff=False), user=user, site_field="thread__site_id")
    return languages.language_scoped(scoped, user=user)


def _decisions(user: Any) -> QuerySet[ModerationDecision]:
    scoped = sites.site_scoped(ModerationDecision.objects.all(), user=user, site_field="comment__thread__site_id")
    return languages.language_scoped(scoped, user=user, comment_field="comment")


def dashboard_cached(*, user: Any, attributes: list[str]) -> Dashboard:
    """``dashboard_read``, kept CACHE_SECONDS for everyone who sees the same sites and languages."""
    site_ids = sites.moderator_site_ids(user=user)
    reads = languages.moderator_languages(user=user)
    scope = "all" if site_ids is None else ",".join(map(str, sorted(site_ids)))
    if reads is not None:
        scope += ":" + ",".join(sorted(f"{code}-{script}" for code, script in reads))
    key = "moderato:dashboard:" + hashlib.sha256(f"{scope}|{','.join(attributes)}".encode()).hexdigest()[:32]
    figures: Dashboard | None = cache.get(key)
    if figures is None:
        figures = dashboard_read(user=user, attributes=attributes)
        cache.set(key, figures, CACHE_SECONDS)
    return figures


def dashboard_read(*, user: Any, attributes: list[str], now: datetime | None = None) -> Dashboard:
    """The dashboard's figures for this moderator: five queries, whatever the number of comments."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    since = timezone.make_aware(datetime.combine(days[0], datetime.min.time()))
    comments, decisions = _comments(user), _decisions(user)

    held_rows = (
        comments.filter(status=Comment.Status.HELD)
        .values("thread__site_id", "thread__site__name")
        .annotate(held=Count("pk"), oldest=Min("created_at"))
        .order_by("oldest")
    )
    waiting: list[dict[str, Any]] = [
        {"site_id": row["thread__site_id"], "name": row["thread__site__name"], "held": row["held"],
         "oldest": row["oldest"], "waited": now - row["oldest"]}
        for row in held_rows
    ]  # fmt: skip

    # What the model decided: the status a person first changed, else the status the comment still has.
    first_from = Subquery(
        ModerationDecision.objects.filter(comment_id=OuterRef("pk"))
        .order_by("created_at", "pk")
        .values("from_status")[:1]
    )
    by_model: dict[str, list[int]] = {str(status): [0] * DAYS for status in DECIDED}
    index = {day: i for i, day in enumerate(days)}
    model_rows = (
        comments.filter(created_at__gte=since)
        .annotate(day=Cast("created_at", DateField()), outcome=Coalesce(first_from, F("status")))
        .values("day", "outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in model_rows:
        if row["outcome"] in by_model and row["day"] in index:
            by_model[row["outcome"]][index[row["day"]]] += row["n"]

    by_person: dict[str, list[int]] = {str(s): [0] * DAYS for s in (Comment.Status.PUBLISHED, Comment.Status.REJECTED)}
    person_rows = (
        decisions.filter(created_at__gte=since)
        .annotate(day=Cast("created_at", DateField()))
        .values("day", "to_status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for person_row in person_rows:
        if person_row["to_status"] in by_person and person_row["day"] in index:
            by_person[person_row["to_status"]][index[person_row["day"]]] += person_row["n"]

    overruled = Q(from_status__in=[Comment.Status.HELD, Comment.Status.REJECTED])
    counts: dict[str, Any] = {}
    for attribute in attributes:
        reason = Q(comment__reasons__icontains=f'"attribute": "{attribute}"')
        counts[f"{attribute}:overturned"] = Count(
            "pk", filter=overruled & reason & Q(to_status=Comment.Status.PUBLISHED)
        )
        counts[f"{attribute}:upheld"] = Count("pk", filter=overruled & reason & Q(to_status=Comment.Status.REJECTED))
        counts[f"{attribute}:missed"] = Count(
            "pk",
            filter=Q(
                from_status=Comment.Status.PUBLISHED, to_status=Comment.Status.REJECTED, **{f"labels__{attribute}": 1}
            ),
        )
    totals = decisions.filter(created_at__gte=since).aggregate(**counts) if counts else {}
    agreement = [
        Agreement(
            attribute, totals[f"{attribute}:overturned"], totals[f"{attribute}:upheld"], totals[f"{attribute}:missed"]
        )
        for attribute in attributes
    ]

    # One scan: comments grouped by status and each attribute's score band (floor(score * BINS); 1.0
    # joins the top band), summed per attribute here.
    bands = {
        f"band_{attribute}": Floor(Cast(KeyTextTransform(attribute, "scores"), FloatField()) * BINS)
        for attribute in HISTOGRAM_ATTRIBUTES
    }
    histograms = {
        attribute: {str(status): [0] * BINS for status in (Comment.Status.PUBLISHED, Comment.Status.HELD)}
        for attribute in HISTOGRAM_ATTRIBUTES
    }
    band_rows = (
        comments.filter(created_at__gte=since, status__in=[Comment.Status.PUBLISHED, Comment.Status.HELD])
        .annotate(**bands)
        .values("status", *bands)
        .annotate(n=Count("pk"))
        .order_by()
    )
    for band_row in band_rows:
        for attribute in HISTOGRAM_ATTRIBUTES:
            band = band_row[f"band_{attribute}"]
            if band is not None and band >= 0:
                histograms[attribute][band_row["status"]][min(int(band), BINS - 1)] += band_row["n"]
    return Dashboard(since, waiting, days, by_model, by_person, agreement, histograms)
