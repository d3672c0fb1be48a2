"""The moderators' dashboard (issue 15 item 5): what waits, what was decided, how often people overturn
the models, and how the scores of published and held comments spread.

Every figure is aggregated in the database, grouped by site, language and script (``DashboardRows``):
one set of rows for every moderator, from which each page sums the sites and languages its moderator
sees (``sites.site_scoped``, ``languages.language_scoped``) in Python. The rows are kept in the cache and
recomputed off the request (``dashboard_rows_refresh_task``) once they are a minute old, so a page never
waits for the five scans of the last 30 days (2.2 s with 100,000 comments) unless nothing is kept at all.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from celery import shared_task
from django.core.cache import cache
from django.db.models import Count, DateField, F, FloatField, Min, OuterRef, Q, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Floor
from django.utils import timezone

from comments.models import Comment
from moderation import languages, policy, sites
from moderation.models import ModerationDecision

logger = logging.getLogger(__name__)

DAYS = 30
CACHE_SECONDS = 60  # rows older than this are recomputed by a task while the page shows them
STALE_SECONDS = 600  # rows older than this (no worker took the task) are recomputed by the page itself
KEEP_SECONDS = 86400
ROWS_SHAPE = 2  # one more whenever DashboardRows or GroupFigures changes
HISTOGRAM_ATTRIBUTES = ("TOXICITY", "SPAM")
BINS = 10
DECIDED = (Comment.Status.PUBLISHED, Comment.Status.HELD, Comment.Status.REJECTED)

GroupKey = tuple[int, str, str]  # site id, language, script


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
    computed_at: datetime | None = None


@dataclass
class GroupFigures:
    """The figures of one (site, language, script) group, binned already: a few hundred numbers."""

    site_name: str = ""
    held: int = 0
    oldest: datetime | None = None
    by_model: dict[str, list[int]] = field(default_factory=dict)  # outcome -> one count per day
    by_person: dict[str, list[int]] = field(default_factory=dict)  # status a person decided -> one count per day
    agreement: dict[str, int] = field(default_factory=dict)  # "<attribute>:overturned|upheld|missed" -> decisions
    histograms: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # attribute -> status -> per bin


@dataclass
class DashboardRows:
    """Every figure of the dashboard per (site, language, script) group, for all sites: what each
    moderator's page sums its own scope from."""

    computed_at: datetime
    since: datetime
    days: list[date]
    attributes: list[str]
    groups: dict[GroupKey, GroupFigures]


def dashboard_attributes() -> list[str]:
    """The attributes that decide comments by default: those the active models produce with a default threshold."""
    return sorted(policy.thresholds_effective(produced=sites.model_default_thresholds()[0], site={}, models={}))


def _rows_key(attributes: list[str]) -> str:
    """The rows' key, with the shape of ``DashboardRows`` (rows kept by an older release are not read)."""
    return f"moderato:dashboard-rows:v{ROWS_SHAPE}:" + hashlib.sha256(",".join(attributes).encode()).hexdigest()[:32]


def dashboard_cached(*, user: Any, attributes: list[str]) -> Dashboard:
    """This moderator's figures, kept for everyone who sees the same sites and languages until the rows they
    were summed from are CACHE_SECONDS old: two small reads instead of every group's rows."""
    at: datetime | None = cache.get(_rows_key(attributes) + ":at")
    figures: Dashboard | None = None
    if at is not None and timezone.now() - at <= timedelta(seconds=CACHE_SECONDS):
        figures = cache.get(_scope_key(user=user, attributes=attributes, at=at))
    if figures is None:
        rows = dashboard_rows(attributes=attributes)
        figures = dashboard_scoped(rows=rows, user=user)
        cache.set(_scope_key(user=user, attributes=attributes, at=rows.computed_at), figures, CACHE_SECONDS)
    return figures


def _scope_key(*, user: Any, attributes: list[str], at: datetime) -> str:
    """The key of the figures of the moderator's sites and languages, summed from the rows computed ``at``."""
    site_ids = sites.moderator_site_ids(user=user)
    reads = languages.moderator_languages(user=user)
    scope = "all" if site_ids is None else ",".join(map(str, sorted(site_ids)))
    if reads is not None:
        scope += ":" + ",".join(sorted(f"{code}-{script}" for code, script in reads))
    key = f"{scope}|{','.join(attributes)}|{at.isoformat()}"
    return "moderato:dashboard:" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _rows_keep(rows: DashboardRows) -> None:
    cache.set_many(
        {_rows_key(rows.attributes): rows, _rows_key(rows.attributes) + ":at": rows.computed_at}, KEEP_SECONDS
    )


def dashboard_rows(*, attributes: list[str], now: datetime | None = None) -> DashboardRows:
    """The rows kept in the cache; computed here only when none are kept or no worker refreshed them
    within STALE_SECONDS; rows over CACHE_SECONDS old are shown while a task recomputes them."""
    now = now or timezone.now()
    rows: DashboardRows | None = cache.get(_rows_key(attributes))
    if rows is None or now - rows.computed_at > timedelta(seconds=STALE_SECONDS):
        rows = dashboard_rows_compute(attributes=attributes, now=now)
        _rows_keep(rows)
    elif now - rows.computed_at > timedelta(seconds=CACHE_SECONDS) and cache.add(
        _rows_key(attributes) + ":queued", 1, CACHE_SECONDS
    ):
        try:
            dashboard_rows_refresh_task.delay(attributes)
        except Exception:  # the broker is down: these rows, until STALE_SECONDS makes a page compute them
            logger.warning("dashboard: the refresh cannot be queued", exc_info=True)
    return rows


@shared_task(acks_late=True, ignore_result=True)
def dashboard_rows_refresh_task(attributes: list[str]) -> None:
    """Recompute the dashboard's rows (idempotent: a second run only writes newer rows over the first's)."""
    _rows_keep(dashboard_rows_compute(attributes=attributes))
    cache.delete(_rows_key(attributes) + ":queued")


def dashboard_rows_age(*, seconds: float, attributes: list[str]) -> None:
    """Make the kept rows ``seconds`` old (bench/admin_pages.py: the first page of a minute)."""
    rows: DashboardRows | None = cache.get(_rows_key(attributes))
    if rows is not None:
        rows.computed_at = timezone.now() - timedelta(seconds=seconds)
        _rows_keep(rows)
        cache.delete(_rows_key(attributes) + ":queued")


def dashboard_rows_forget(*, attributes: list[str]) -> None:
    """Keep no rows (bench/admin_pages.py: the first page after a start with an empty cache)."""
    cache.delete_many([_rows_key(attributes), _rows_key(attributes) + ":at"])


def dashboard_read(*, user: Any, attributes: list[str], now: datetime | None = None) -> Dashboard:
    """This moderator's figures computed now (``dashboard_rows_compute``, nothing kept)."""
    return dashboard_scoped(rows=dashboard_rows_compute(attributes=attributes, now=now), user=user, now=now)


def dashboard_scoped(*, rows: DashboardRows, user: Any, now: datetime | None = None) -> Dashboard:
    """The figures of the groups this moderator sees, summed: no query beyond their sites and languages."""
    now = now or timezone.now()
    site_ids = sites.moderator_site_ids(user=user)
    entries = languages.moderator_languages(user=user)

    def sees(group: GroupKey) -> bool:
        site_id, language, script = group
        if site_ids is not None and site_id not in site_ids:
            return False
        return entries is None or any(language == code and script == (only or script) for code, only in entries)

    def add(into: list[int], counts: list[int]) -> None:
        for i, n in enumerate(counts):
            into[i] += n

    held: dict[int, dict[str, Any]] = {}
    by_model: dict[str, list[int]] = {str(status): [0] * DAYS for status in DECIDED}
    by_person: dict[str, list[int]] = {str(s): [0] * DAYS for s in (Comment.Status.PUBLISHED, Comment.Status.REJECTED)}
    totals: defaultdict[str, int] = defaultdict(int)
    histograms = {
        attribute: {str(status): [0] * BINS for status in (Comment.Status.PUBLISHED, Comment.Status.HELD)}
        for attribute in HISTOGRAM_ATTRIBUTES
    }
    for group, figures in rows.groups.items():
        if not sees(group):
            continue
        if figures.held and figures.oldest is not None:
            site = held.setdefault(group[0], {"site_id": group[0], "name": figures.site_name, "held": 0,
                                              "oldest": figures.oldest})  # fmt: skip
            site["held"] += figures.held
            site["oldest"] = min(site["oldest"], figures.oldest)
        for outcome, counts in figures.by_model.items():
            add(by_model[outcome], counts)
        for status, counts in figures.by_person.items():
            add(by_person[status], counts)
        for name, n in figures.agreement.items():
            totals[name] += n
        for attribute, by_status in figures.histograms.items():
            for status, counts in by_status.items():
                add(histograms[attribute][status], counts)
    waiting = sorted(held.values(), key=lambda site: site["oldest"])
    for site in waiting:
        site["waited"] = now - site["oldest"]
    agreement = [
        Agreement(
            attribute, totals[f"{attribute}:overturned"], totals[f"{attribute}:upheld"], totals[f"{attribute}:missed"]
        )
        for attribute in rows.attributes
    ]
    return Dashboard(rows.since, waiting, rows.days, by_model, by_person, agreement, histograms, rows.computed_at)


def dashboard_rows_compute(*, attributes: list[str], now: datetime | None = None) -> DashboardRows:
    """The dashboard's rows for every site: five queries, whatever the number of comments."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    since = timezone.make_aware(datetime.combine(days[0], datetime.min.time()))
    # The readers' comments: the site's own replies (``moderation.staff``) were decided by no model and no
    # moderator.
    comments = Comment.objects.filter(by_staff=False)
    decisions = ModerationDecision.objects.filter(comment__by_staff=False)
    group = ("thread__site_id", "language", "script")
    decision_group = ("comment__thread__site_id", "comment__language", "comment__script")

    def key(row: dict[str, Any], names: tuple[str, str, str] = group) -> GroupKey:
        return (row[names[0]], row[names[1]], row[names[2]])

    groups: defaultdict[GroupKey, GroupFigures] = defaultdict(GroupFigures)
    index = {day: i for i, day in enumerate(days)}

    held_rows = (
        comments.filter(status=Comment.Status.HELD)
        .values(*group, "thread__site__name")
        .annotate(held=Count("pk"), oldest=Min("created_at"))
        .order_by()
    )
    for row in held_rows:
        figures = groups[key(row)]
        figures.site_name, figures.held, figures.oldest = row["thread__site__name"], row["held"], row["oldest"]

    # What the model decided: the status a person first changed, else the status the comment still has.
    first_from = Subquery(
        ModerationDecision.objects.filter(comment_id=OuterRef("pk"))
        .order_by("created_at", "pk")
        .values("from_status")[:1]
    )
    model_rows = (
        comments.filter(created_at__gte=since)
        .annotate(day=Cast("created_at", DateField()), outcome=Coalesce(first_from, F("status")))
        .values(*group, "day", "outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in model_rows:
        if row["outcome"] in DECIDED and row["day"] in index:
            groups[key(row)].by_model.setdefault(row["outcome"], [0] * DAYS)[index[row["day"]]] += row["n"]

    person_rows = (
        decisions.filter(created_at__gte=since)
        .annotate(day=Cast("created_at", DateField()))
        .values(*decision_group, "day", "to_status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in person_rows:
        if row["to_status"] in (Comment.Status.PUBLISHED, Comment.Status.REJECTED) and row["day"] in index:
            by_person = groups[key(row, decision_group)].by_person
            by_person.setdefault(row["to_status"], [0] * DAYS)[index[row["day"]]] += row["n"]

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
    agreement_rows = (
        decisions.filter(created_at__gte=since).values(*decision_group).annotate(**counts).order_by() if counts else []
    )
    for row in agreement_rows:
        groups[key(row, decision_group)].agreement = {name: row[name] for name in counts}

    # One scan: comments grouped by status and each attribute's score band (floor(score * BINS); 1.0
    # joins the top band).
    bands = {
        f"band_{attribute}": Floor(Cast(KeyTextTransform(attribute, "scores"), FloatField()) * BINS)
        for attribute in HISTOGRAM_ATTRIBUTES
    }
    band_rows = (
        comments.filter(created_at__gte=since, status__in=[Comment.Status.PUBLISHED, Comment.Status.HELD])
        .annotate(**bands)
        .values(*group, "status", *bands)
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in band_rows:
        for attribute in HISTOGRAM_ATTRIBUTES:
            band = row[f"band_{attribute}"]
            if band is not None and band >= 0:
                by_status = groups[key(row)].histograms.setdefault(attribute, {})
                by_status.setdefault(row["status"], [0] * BINS)[min(int(band), BINS - 1)] += row["n"]
    return DashboardRows(now, since, days, list(attributes), dict(groups))
