"""Try before trusting: how shadow mode's decisions compare with the moderators', and "what if".

A site in shadow mode (``SitePolicy.shadow_mode``) publishes what Moderato would hold, and the pipeline
records what it would have decided (``ShadowDecision``). ``shadow_report`` compares those records with
what the site's moderators did later. ``what_if`` replays a site's last decided comments from their
stored scores under other thresholds: the thresholds come from ``sites.site_thresholds`` and the
decision from ``policy.decide``, as in the pipeline, and the rules that fired (first comment, links,
bots...) from the stored reasons (``policy.facts_from_reasons``), as they were when it decided.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone

from comments.models import Comment, Site
from moderation import policy
from moderation.models import ModerationDecision, ShadowDecision
from moderation.scoring import get_scorer
from moderation.sites import site_thresholds
from moderation.threads import thread_holds_read

OUTCOMES = tuple(outcome.value for outcome in policy.Outcome)
REPORT_DAYS = 30
REPORT_DAYS_MAX = 3650
WHAT_IF_LAST = 500
WHAT_IF_LAST_MAX = 10_000
EXAMPLES = 20

# What the moderators did with a comment shadow mode published, from their latest decision on it.
REMOVED, KEPT, UNTOUCHED = "removed", "kept", "untouched"
VERDICTS = (REMOVED, KEPT, UNTOUCHED)


@dataclass(frozen=True)
class Example:
    comment_id: int
    text: str
    would: str  # what Moderato would have done
    verdict: str  # the moderators' latest action, or UNTOUCHED


@dataclass(frozen=True)
class ShadowReport:
    """Shadow decisions of ``days`` days against the moderators' latest decision on each comment.

    ``table[(would, verdict)]``: comments Moderato would have ``would`` (published, held, rejected)
    that moderators removed (rejected, spam, toxic), kept (approved, not spam, not toxic) or never
    decided. Held and rejected both count as caught: either keeps the comment off the page.
    """

    site: Site
    days: int
    comments: int
    enforced: int  # held or rejected anyway, by the rules that still act in shadow mode
    table: dict[tuple[str, str], int]
    missed_examples: list[Example] = field(default_factory=list)
    wrongly_held_examples: list[Example] = field(default_factory=list)

    def count(self, *, would: tuple[str, ...] = OUTCOMES, verdict: tuple[str, ...] = VERDICTS) -> int:
        return sum(n for (w, v), n in self.table.items() if w in would and v in verdict)

    @property
    def caught(self) -> int:
        """Moderato would have held or rejected it, and a moderator removed it."""
        return self.count(would=_KEPT_OFF, verdict=(REMOVED,))

    @property
    def missed(self) -> int:
        """Moderato would have published it, and a moderator removed it."""
        return self.count(would=(policy.Outcome.PUBLISHED,), verdict=(REMOVED,))

    @property
    def wrongly_held(self) -> int:
        """Moderato would have held or rejected it, and a moderator kept it."""
        return self.count(would=_KEPT_OFF, verdict=(KEPT,))

    @property
    def agreed(self) -> int:
        """Decided by a moderator the way Moderato would have: caught, or published and kept."""
        return self.caught + self.count(would=(policy.Outcome.PUBLISHED,), verdict=(KEPT,))

    @property
    def decided_by_moderators(self) -> int:
        return self.count(verdict=(REMOVED, KEPT))

    @property
    def agreement_rate(self) -> float | None:
        return _rate(self.agreed, self.decided_by_moderators)

    @property
    def catch_rate(self) -> float | None:
        """Of the comments moderators removed, the share Moderato would have kept off the page."""
        return _rate(self.caught, self.count(verdict=(REMOVED,)))

    @property
    def precision(self) -> float | None:
        """Of the comments Moderato would have kept off the page that a moderator decided, the share removed."""
        return _rate(self.caught, self.caught + self.wrongly_held)

    def lines(self) -> list[str]:
        """The report as text (the ``shadow_report`` command prints it)."""
        site = self.site
        out = [f"Shadow decisions of site {site.public_key} ({site.name}), last {self.days} days: {self.comments}"]
        if not self.comments:
            return [*out, "Nothing to compare: the site has not been in shadow mode in that time."]
        out.append(f"{'Moderato would have':<22}" + "".join(f"{v:>10}" for v in (*VERDICTS, "total")))
        for would in OUTCOMES:
            row = [self.table.get((would, verdict), 0) for verdict in VERDICTS]
            out.append(f"{would:<22}" + "".join(f"{n:>10}" for n in (*row, sum(row))))
        out += [
            f"held or rejected anyway (bots, duplicates, blocked commenters): {self.enforced}",
            f"decided by moderators: {self.decided_by_moderators}; agreement "
            f"{_percent(self.agreed, self.decided_by_moderators)}",
            f"caught (would hold or reject; moderators removed): {self.caught}; "
            f"share of the removed comments: {_percent(self.caught, self.count(verdict=(REMOVED,)))}",
            f"missed (would publish; moderators removed): {self.missed}",
            f"wrongly held (would hold or reject; moderators kept): {self.wrongly_held}; "
            f"precision {_percent(self.caught, self.caught + self.wrongly_held)}",
            f"would hold or reject, no moderator decided: {self.count(would=_KEPT_OFF, verdict=(UNTOUCHED,))}",
        ]
        for title, examples in (("missed", self.missed_examples), ("wrongly held", self.wrongly_held_examples)):
            out += [f"{title}: #{e.comment_id} ({e.would}, {e.verdict}) {e.text}" for e in examples]
        return out


_KEPT_OFF = (policy.Outcome.HELD.value, policy.Outcome.REJECTED.value)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} % ({part} of {whole})" if whole else "- (none)"


def shadow_report(*, site: Site, days: int = REPORT_DAYS, now: dt.datetime | None = None) -> ShadowReport:
    """Compare the shadow decisions of the last ``days`` days with the moderators' latest decisions."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    shadows = ShadowDecision.objects.filter(site=site, decided_at__gte=since)
    verdicts: dict[int, tuple[str, str]] = {}  # comment id -> (verdict, action), the latest decision wins
    for comment_id, to_status, action in (
        ModerationDecision.objects.filter(comment__shadow__in=shadows)
        .order_by("created_at", "pk")
        .values_list("comment_id", "to_status", "action")
    ):
        verdicts[comment_id] = (REMOVED if to_status == Comment.Status.REJECTED else KEPT, action)
    table: Counter[tuple[str, str]] = Counter()
    enforced = 0
    missed: list[tuple[int, str, str]] = []
    wrongly_held: list[tuple[int, str, str]] = []
    for comment_id, outcome, applied in shadows.order_by("-decided_at", "-pk").values_list(
        "comment_id", "outcome", "applied"
    ):
        verdict, action = verdicts.get(comment_id, (UNTOUCHED, ""))
        table[(outcome, verdict)] += 1
        enforced += applied != policy.Outcome.PUBLISHED
        if verdict == REMOVED and outcome == policy.Outcome.PUBLISHED and len(missed) < EXAMPLES:
            missed.append((comment_id, outcome, action))
        if verdict == KEPT and outcome in _KEPT_OFF and len(wrongly_held) < EXAMPLES:
            wrongly_held.append((comment_id, outcome, action))
    texts = dict(Comment.objects.filter(pk__in=[pk for pk, _, _ in missed + wrongly_held]).values_list("pk", "body"))
    return ShadowReport(
        site=site,
        days=days,
        comments=sum(table.values()),
        enforced=enforced,
        table=dict(table),
        missed_examples=[Example(pk, texts.get(pk, "")[:200], would, act) for pk, would, act in missed],
        wrongly_held_examples=[Example(pk, texts.get(pk, "")[:200], would, act) for pk, would, act in wrongly_held],
    )


@dataclass(frozen=True)
class Replayed:
    comment_id: int
    text: str
    now: str  # the outcome at the thresholds in force
    then: str  # the outcome at the proposed thresholds
    reasons: list[str]  # the proposed decision's reasons


@dataclass(frozen=True)
class WhatIf:
    """The last decided comments of a site, decided again at the thresholds in force and at others."""

    site: Site
    thresholds_now: dict[str, policy.Threshold]
    thresholds_then: dict[str, policy.Threshold]
    asked: int  # the last N decided comments looked at
    unscored: int  # of those, decided without scores (scoring failed, imported): not replayed
    other_model: int  # scored by a model version no longer active: their stored scores are replayed
    now: dict[str, int]
    then: dict[str, int]
    changed: list[Replayed]
    decisions: dict[int, tuple[str, str]]  # comment id -> (outcome now, outcome then), newest first

    @property
    def replayed(self) -> int:
        return self.asked - self.unscored

    def lines(self, *, examples: int = 50) -> list[str]:
        """The replay as text (the ``what_if`` command prints it)."""
        out = [
            f"What if, site {self.site.public_key}: the last {self.asked} decided comments, {self.replayed} with "
            f"stored scores ({self.unscored} without: not replayed; {self.other_model} scored by a model no longer "
            "active)",
            "thresholds (hold/reject): "
            + ", ".join(
                f"{name} {_threshold(self.thresholds_now.get(name))} -> {_threshold(threshold)}"
                if self.thresholds_now.get(name) != threshold
                else f"{name} {_threshold(threshold)}"
                for name, threshold in sorted(self.thresholds_then.items())
            ),
            f"{'':<12}{'now':>8}{'then':>8}",
            *(f"{outcome:<12}{self.now.get(outcome, 0):>8}{self.then.get(outcome, 0):>8}" for outcome in OUTCOMES),
            f"changed: {len(self.changed)}",
        ]
        out += [
            f"#{r.comment_id} {r.now} -> {r.then}: {r.text}" + (f" [{'; '.join(r.reasons)}]" if r.reasons else "")
            for r in self.changed[:examples]
        ]
        if len(self.changed) > examples:
            out.append(f"... and {len(self.changed) - examples} more")
        return out


def _threshold(threshold: policy.Threshold | None) -> str:
    if threshold is None:
        return "none"
    return f"{threshold.publish:g}" + (f"/{threshold.reject:g}" if threshold.reject is not None else "")


def what_if(*, site: Site, overrides: dict[str, policy.Threshold], last: int = WHAT_IF_LAST) -> WhatIf:
    """Decide the site's ``last`` decided comments again from their stored scores, at the thresholds in
    force and with ``overrides`` (validated: ``threshold_overrides_parse``); nothing is written.

    A comment of shadow mode is replayed from what Moderato would have decided (its ``ShadowDecision``),
    so the replay answers what Moderato would do, as if shadow mode were off.
    """
    now_thresholds = site_thresholds(site=site)
    then_thresholds = site_thresholds(site=site, overrides=overrides)
    recent = list(  # rows, not models: a tenth of the time for thousands of comments
        Comment.objects.filter(thread__site=site, decided_at__isnull=False)
        .exclude(status=Comment.Status.PENDING)
        .order_by("-decided_at", "-pk")
        .values_list(
            "pk", "scores", "reasons", "model_versions", "shadow__reasons", "thread_id", "thread__policy__thresholds"
        )[:last]
    )
    active = set(get_scorer().versions.values())
    counts_now: Counter[str] = Counter()
    counts_then: Counter[str] = Counter()
    changes: list[tuple[int, policy.Decision, policy.Decision]] = []
    decisions: dict[int, tuple[str, str]] = {}
    unscored = other_model = 0
    for pk, scores, reasons, versions, shadow_reasons, thread_id, thread_thresholds in recent:
        if not scores:
            unscored += 1
            continue
        other_model += any(version not in active for version in versions.values())
        facts = policy.facts_from_reasons(shadow_reasons if shadow_reasons is not None else reasons)
        # A thread's own hold thresholds stay in force in both replays: the question is the site's.
        holds = thread_holds_read(thread_thresholds, thread_id=thread_id)
        before = policy.decide(
            scores=scores, thresholds=policy.thread_holds_applied(now_thresholds, holds), facts=facts
        )
        after = policy.decide(
            scores=scores, thresholds=policy.thread_holds_applied(then_thresholds, holds), facts=facts
        )
        counts_now[before.outcome.value] += 1
        counts_then[after.outcome.value] += 1
        decisions[pk] = (before.outcome.value, after.outcome.value)
        if before.outcome != after.outcome:
            changes.append((pk, before, after))
    texts = Comment.objects.only("body").in_bulk([pk for pk, _, _ in changes])
    changed = [
        Replayed(
            comment_id=pk,
            text=texts[pk].body[:200],
            now=before.outcome.value,
            then=after.outcome.value,
            reasons=[reason.detail for reason in after.reasons],
        )
        for pk, before, after in changes
    ]
    return WhatIf(
        site=site,
        thresholds_now=now_thresholds,
        thresholds_then=then_thresholds,
        asked=len(recent),
        unscored=unscored,
        other_model=other_model,
        now=dict(counts_now),
        then=dict(counts_then),
        changed=changed,
        decisions=decisions,
    )


class ThresholdError(ValueError):
    """Thresholds that cannot be replayed; ``errors`` maps each attribute (or "threshold") to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def threshold_overrides_check(*, site: Site, raw: dict[str, tuple[float, float | None]]) -> dict[str, policy.Threshold]:
    """Thresholds to try, ``{attribute: (publish, reject or None)}``, checked as the site's admin page checks
    its own (``policy.thresholds_from_json``), on attributes that decide the site's comments."""
    known = site_thresholds(site=site)
    errors: dict[str, str] = {}
    parsed: dict[str, policy.Threshold] = {}
    for name, (publish, reject) in raw.items():
        if name not in known:
            errors[name] = f"{name} is not scored by the active models; try one of {', '.join(sorted(known))}."
            continue
        try:
            parsed |= policy.thresholds_from_json({name: {"publish": publish, "reject": reject}})
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ThresholdError(errors)
    return parsed


def threshold_overrides_parse(*, site: Site, specs: list[str]) -> dict[str, policy.Threshold]:
    """``["TOXICITY=0.4", "SPAM=0.8:0.95", "THREAT=0.2:none"]``: the hold threshold, then the reject
    threshold after a colon (none: no rejecting); without one the reject threshold in force stays."""
    known = site_thresholds(site=site)
    raw: dict[str, tuple[float, float | None]] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        name, sign, value = spec.partition("=")
        name = name.strip()
        publish_text, colon, reject_text = value.partition(":")
        try:
            if not sign or not name:
                raise ValueError
            publish = float(publish_text)
            if colon:
                reject = None if reject_text.strip().lower() == "none" else float(reject_text)
            else:
                reject = known[name].reject if name in known else None
        except ValueError:
            errors[name or "threshold"] = (
                f"{spec!r}: expected ATTRIBUTE=HOLD or ATTRIBUTE=HOLD:REJECT (numbers from 0 to 1, REJECT may be "
                "none), e.g. TOXICITY=0.4"
            )
            continue
        raw[name] = (publish, reject)
    try:
        parsed = threshold_overrides_check(site=site, raw=raw)
    except ThresholdError as exc:
        errors |= exc.errors
    if errors:
        raise ThresholdError(errors)
    return parsed
