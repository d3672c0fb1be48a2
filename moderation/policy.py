"""Turn scores and facts about a comment into publish / hold / reject, with the reasons.

Pure: no Django, no models, no I/O, so every rule is tested without a database.

Thresholds are per attribute: a score at or above ``publish`` holds the comment for a moderator,
a score at or above ``reject`` (when set) rejects it outright. Reject wins over hold.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from comments.status import Status


class Outcome(enum.StrEnum):
    """What a decision does to a comment: a status of ``comments.status`` other than pending."""

    PUBLISHED = Status.PUBLISHED.value
    HELD = Status.HELD.value
    REJECTED = Status.REJECTED.value


class ReasonCode(enum.StrEnum):
    """Why a comment was held or rejected: the ``code`` of each stored reason."""

    BLOCKED_COMMENTER = "blocked_commenter"
    SCORE_MISSING = "score_missing"
    REJECT_THRESHOLD = "reject_threshold"
    HOLD_THRESHOLD = "hold_threshold"
    BLOCKED_WORDS = "blocked_words"
    PREMODERATION = "premoderation"
    THREAD_PREMODERATION = "thread_premoderation"  # a moderator pre-moderates this one thread
    FIRST_COMMENT = "first_comment"
    LINKS = "links"
    SCORING_FAILED = "scoring_failed"
    READER_REPORTS = "reader_reports"
    TRAP = "trap"
    DUPLICATE = "duplicate"
    TOO_FAST = "too_fast"
    NO_FORM_TOKEN = "no_form_token"  # noqa: S105 (a reason code, not a secret)
    EDIT_SUPERSEDED = "edit_superseded"  # an author's edit that a newer edit of theirs replaced
    IMPORTED = "imported"  # decided by the system it was imported from (moderation.importing)
    STAFF_REPLY = "staff_reply"  # a moderator's reply as the site, published at once (moderation.staff)


# How the moderators' queue names each reason.
REASON_LABELS: dict[ReasonCode, str] = {
    ReasonCode.HOLD_THRESHOLD: "Score above the publish threshold",
    ReasonCode.REJECT_THRESHOLD: "Score above the reject threshold",
    ReasonCode.SCORE_MISSING: "Score missing",
    ReasonCode.PREMODERATION: "Pre-moderation: all",
    ReasonCode.THREAD_PREMODERATION: "Pre-moderation: this thread",
    ReasonCode.FIRST_COMMENT: "Pre-moderation: first comment",
    ReasonCode.LINKS: "Pre-moderation: links",
    ReasonCode.BLOCKED_WORDS: "Blocked words",
    ReasonCode.BLOCKED_COMMENTER: "Blocked commenter",
    ReasonCode.READER_REPORTS: "Reader reports",
    ReasonCode.SCORING_FAILED: "Scoring failed",
    ReasonCode.TRAP: "Hidden field filled in (a bot)",
    ReasonCode.DUPLICATE: "Same text posted again",
    ReasonCode.TOO_FAST: "Sent too fast after the form opened (a bot)",
    ReasonCode.NO_FORM_TOKEN: "Not sent through the widget",
    ReasonCode.EDIT_SUPERSEDED: "Replaced by a newer edit",
    ReasonCode.IMPORTED: "Imported with this status",
    ReasonCode.STAFF_REPLY: "Staff reply",
}


@dataclass(frozen=True)
class Threshold:
    publish: float
    reject: float | None = None
    thread: bool = False  # ``publish`` is the thread's own (``thread_holds_applied``), not the site's


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str
    attribute: str | None = None
    score: float | None = None
    threshold: float | None = None

    def as_dict(self) -> dict[str, Any]:
        # vars(), not dataclasses.asdict: the fields are plain values, and asdict copies them recursively
        # (a tenth of the CPU a decided comment costs the drain, bench/drain_profile.py).
        return {key: value for key, value in vars(self).items() if value is not None}


@dataclass(frozen=True)
class Facts:
    """What is known about a comment besides its scores, for the site's rules.

    ``first_comment`` is true only when the site holds first comments and this commenter has
    no published comment yet; ``hold_links_at`` 0 turns the link rule off.
    """

    hold_all: bool = False
    first_comment: bool = False
    links: int = 0
    hold_links_at: int = 0
    trusted: bool = False
    blocked: str = ""
    blocked_words: tuple[str, ...] = ()
    language: str = ""  # ISO 639-1 code of the detected language, "" when unknown
    trap_filled: bool = False  # the widget's hidden field came filled in
    duplicate: bool = False  # the same text, from the same client, in the same thread, before
    form_seconds: float | None = None  # from the widget's form token to the submission; None: no token
    min_form_seconds: float = 0  # at or below this, a human could not have written it (0: off)
    require_form_token: bool = False  # the site posts only through the widget
    thread_premoderated: bool = False  # a moderator holds every comment of this thread, a trusted commenter's too


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...] = field(default_factory=tuple)


# Toxic comments are held for a person, never discarded unseen; blatant spam is discarded. The
# numbers were chosen on the development corpus (ml/corpus/dev, never trained on) for the shipped
# models, whose probabilities are calibrated for traffic with a few per cent of toxic comments:
# `bench/choose_thresholds.py` holds as much toxicity and spam as it can while at most 3.5 % of civil
# comments are held (7 % in any language and script with 100 civil comments or more), at most 4 % of
# legitimate comments that cite sources, and no legitimate comment is rejected. With
# `toxicity-2026.12.01.25` and `spam-2026.12.01.2` 3.4 % holds 87.9 % of toxic comments on that
# set (`toxicity-2026.12.01.23`: 3.5 % and 86.9 %), and the held-out check 4.7 % of civil and 86.8 %
# of toxic ones (3.3 % and 86.0 %). The THREAT,
# IDENTITY_ATTACK, SEVERE_TOXICITY, INSULT and PROFANITY heads, each at the score one civil comment
# in 250 reaches (THREAT at one in 125), catch what TOXICITY alone scores low: at the same share of
# civil comments held they add about 1.5 points of toxic ones. A shipped model carries the defaults
# chosen for it (``default_thresholds`` in its meta.json), which win over these; these are the
# fallback for a model that carries none, and only for the attributes the active models produce
# (``thresholds_effective``).
DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    "TOXICITY": Threshold(publish=0.136),
    "THREAT": Threshold(publish=0.105),
    "IDENTITY_ATTACK": Threshold(publish=0.258),
    "SEVERE_TOXICITY": Threshold(publish=0.057),
    "INSULT": Threshold(publish=0.143),
    "PROFANITY": Threshold(publish=0.05),
    "SPAM": Threshold(publish=0.754, reject=0.944),
}


def thresholds_effective(
    *,
    produced: Iterable[str],
    site: Mapping[str, Threshold],
    models: Mapping[str, Threshold | None],
) -> dict[str, Threshold]:
    """The thresholds that decide a site's comments.

    For each attribute the active models produce: the site's own value, else the active model's
    default (``default_thresholds`` in its artifact), else the code's (``DEFAULT_THRESHOLDS``); an
    attribute with none of them is not a reason to hold. ``models`` maps an attribute to None when
    its model carries defaults but none for it: that model was released without holding on it (a
    rollback to it holds as it did), so the code's default, chosen for a later model, stays out. A
    threshold the site sets on an attribute no active model produces stays: its score is missing,
    which holds (the site asked for it).
    """
    effective: dict[str, Threshold] = {}
    for attribute in produced:
        if attribute in site:
            threshold: Threshold | None = site[attribute]
        elif attribute in models:
            threshold = models[attribute]
        else:
            threshold = DEFAULT_THRESHOLDS.get(attribute)
        if threshold is not None:
            effective[attribute] = threshold
    return effective | dict(site)


def thresholds_to_json(thresholds: Mapping[str, Threshold]) -> dict[str, dict[str, float | None]]:
    return {name: {"publish": t.publish, "reject": t.reject} for name, t in thresholds.items()}


def thresholds_from_json(raw: object) -> dict[str, Threshold]:
    """Parse ``{"TOXICITY": {"publish": 0.5, "reject": 0.9}, ...}``; raise ValueError on bad values."""
    if not isinstance(raw, Mapping):
        raise ValueError("thresholds must be an object mapping attribute names to thresholds")
    parsed: dict[str, Threshold] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not name.isupper():
            raise ValueError(f"{name!r} is not an attribute name in capitals, such as TOXICITY")
        if not isinstance(value, Mapping) or "publish" not in value:
            raise ValueError(f"{name}: expected an object with 'publish' and optional 'reject'")
        unknown = set(value) - {"publish", "reject"}
        if unknown:
            raise ValueError(f"{name}: unknown keys {sorted(unknown)}")
        publish = _probability(name, "publish", value["publish"])
        reject_raw = value.get("reject")
        reject = None if reject_raw is None else _probability(name, "reject", reject_raw)
        if reject is not None and reject < publish:
            raise ValueError(f"{name}: reject ({reject}) must not be below publish ({publish})")
        parsed[name] = Threshold(publish=publish, reject=reject)
    return parsed


def thread_holds_from_json(raw: object, *, known: Iterable[str] | None = None) -> dict[str, float]:
    """Parse a thread's own hold thresholds, ``{"TOXICITY": 0.1, ...}``; raise ValueError on bad values.

    ``known``: the attributes the active models produce; a hold on any other would hold every comment
    of the thread as "score missing", which is pre-moderation by accident, so it is refused.
    """
    if not isinstance(raw, Mapping):
        raise ValueError(
            'thread thresholds must be an object mapping attribute names to numbers, e.g. {"TOXICITY": 0.1}'
        )
    allowed = None if known is None else set(known)
    holds: dict[str, float] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not name.isupper():
            raise ValueError(f"{name!r} is not an attribute name in capitals, such as TOXICITY")
        if allowed is not None and name not in allowed:
            raise ValueError(f"{name} is not scored by the active models (they score {', '.join(sorted(allowed))})")
        holds[name] = _probability(name, "hold", value)
    return holds


def thread_holds_applied(thresholds: Mapping[str, Threshold], holds: Mapping[str, float]) -> dict[str, Threshold]:
    """A thread's thresholds: its own hold thresholds in place of the site's publish values, the site's
    reject thresholds kept (a thread that holds more still rejects what the site rejects)."""
    applied = dict(thresholds)
    for attribute, publish in holds.items():
        site = thresholds.get(attribute)
        applied[attribute] = Threshold(publish=publish, reject=site.reject if site else None, thread=True)
    return applied


def _probability(name: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name}.{key} must be a number from 0 to 1, not {value!r}")
    return float(value)


def decide(
    *,
    scores: Mapping[str, float],
    thresholds: Mapping[str, Threshold],
    facts: Facts = Facts(),  # frozen, so one shared default is safe
) -> Decision:
    """Decide one comment from its scores and the site's rules; every rule that fires is a reason.

    A blocked commenter or a score at a reject threshold rejects. Otherwise a blocked word, a
    score at a publish threshold, or pre-moderation (all comments, first comments, links; a
    trusted commenter skips these three; a pre-moderated thread holds everyone's) holds.
    Attributes without a threshold are ignored.
    """
    rejects: list[Reason] = []
    holds: list[Reason] = []
    if facts.blocked:
        rejects.append(Reason(code=ReasonCode.BLOCKED_COMMENTER, detail=f"The commenter is blocked ({facts.blocked})."))
    for attribute in sorted(thresholds):
        threshold = thresholds[attribute]
        score = scores.get(attribute)
        if score is None or math.isnan(score):
            holds.append(
                Reason(
                    code=ReasonCode.SCORE_MISSING,
                    detail=f"No {attribute} score: a person has to look.",
                    attribute=attribute,
                )
            )
            continue
        if threshold.reject is not None and score >= threshold.reject:
            rejects.append(
                Reason(
                    code=ReasonCode.REJECT_THRESHOLD,
                    detail=f"{attribute} {score:.2f} is at or above the reject threshold {threshold.reject:.2f}.",
                    attribute=attribute,
                    score=round(score, 4),
                    threshold=threshold.reject,
                )
            )
        elif score >= threshold.publish:
            whose = "the thread's" if threshold.thread else "the"
            holds.append(
                Reason(
                    code=ReasonCode.HOLD_THRESHOLD,
                    detail=f"{attribute} {score:.2f} is at or above {whose} publish threshold {threshold.publish:.2f}.",
                    attribute=attribute,
                    score=round(score, 4),
                    threshold=threshold.publish,
                )
            )
    if facts.trap_filled:
        holds.append(
            Reason(code=ReasonCode.TRAP, detail="The hidden form field, which people never see, was filled in.")
        )
    if facts.duplicate:
        holds.append(
            Reason(
                code=ReasonCode.DUPLICATE, detail="The same text came from the same commenter in this thread before."
            )
        )
    if facts.form_seconds is None:
        if facts.require_form_token:
            holds.append(
                Reason(code=ReasonCode.NO_FORM_TOKEN, detail="No form token: it did not come through the widget.")
            )
    elif facts.min_form_seconds and facts.form_seconds <= facts.min_form_seconds:
        holds.append(
            Reason(
                code=ReasonCode.TOO_FAST,
                detail=f"Sent {facts.form_seconds:.1f} s after the form opened (the site holds "
                f"{facts.min_form_seconds:g} s or less); a forged form token counts as 0 s.",
            )
        )
    if facts.blocked_words:
        holds.append(Reason(code=ReasonCode.BLOCKED_WORDS, detail=f"Blocked words: {', '.join(facts.blocked_words)}."))
    if facts.thread_premoderated:
        holds.append(
            Reason(
                code=ReasonCode.THREAD_PREMODERATION,
                detail="The thread is pre-moderated: every comment is held for a moderator.",
            )
        )
    if not facts.trusted:
        if facts.hold_all:
            holds.append(Reason(code=ReasonCode.PREMODERATION, detail="The site holds every comment for a moderator."))
        if facts.first_comment:
            holds.append(Reason(code=ReasonCode.FIRST_COMMENT, detail="The site holds a commenter's first comment."))
        if facts.hold_links_at and facts.links >= facts.hold_links_at:
            holds.append(
                Reason(
                    code=ReasonCode.LINKS,
                    detail=f"{facts.links} links; the site holds comments with {facts.hold_links_at} or more.",
                )
            )
    if rejects:
        return Decision(Outcome.REJECTED, tuple(rejects + holds))
    if holds:
        return Decision(Outcome.HELD, tuple(holds))
    return Decision(Outcome.PUBLISHED, ())


def reader_reports(reports: int) -> Reason:
    """The reason a published comment went back to the queue."""
    return Reason(code=ReasonCode.READER_REPORTS, detail=f"{reports} reader reports put it back in the queue.")


def staff_reply(moderator: str) -> Reason:
    """Why a comment was published without scores: a moderator wrote it as the site."""
    return Reason(code=ReasonCode.STAFF_REPLY, detail=f"Staff reply by {moderator}.")


def edit_superseded() -> Reason:
    """Why an undecided edit was closed: its author sent another."""
    return Reason(code=ReasonCode.EDIT_SUPERSEDED, detail="Its author sent a newer edit.")


def scoring_failed(attempts: int) -> Decision:
    """The decision for a comment the scorer could not handle: a person decides, no loop."""
    return Decision(
        Outcome.HELD,
        (Reason(code=ReasonCode.SCORING_FAILED, detail=f"Scoring failed {attempts} times; held for a moderator."),),
    )


# Shadow mode (``SitePolicy.shadow_mode``) publishes what Moderato would hold or reject, and records what
# it would have done. These rules still act on a site in shadow mode: they protect the site itself
# (bots, floods of the same text) or carry out a person's decision (a blocked commenter or e-mail
# domain), not Moderato's judgement of a text; and a comment the scorer could not handle is held for a
# person, as ever; a thread a moderator pre-moderates is their decision about that story, not
# Moderato's judgement. Rate limits act before a comment is stored, whatever the mode.
ENFORCED_IN_SHADOW_MODE = frozenset(
    {
        ReasonCode.BLOCKED_COMMENTER,
        ReasonCode.TRAP,
        ReasonCode.DUPLICATE,
        ReasonCode.TOO_FAST,
        ReasonCode.NO_FORM_TOKEN,
        ReasonCode.SCORING_FAILED,
        ReasonCode.THREAD_PREMODERATION,
    }
)


def shadow_applied(decision: Decision) -> Decision:
    """What a site in shadow mode does with ``decision``: only the reasons that still act
    (``ENFORCED_IN_SHADOW_MODE``) hold or reject; everything else is published."""
    enforced = tuple(reason for reason in decision.reasons if reason.code in ENFORCED_IN_SHADOW_MODE)
    if not enforced:
        return Decision(Outcome.PUBLISHED, ())
    if any(reason.code == ReasonCode.BLOCKED_COMMENTER for reason in enforced):
        return Decision(Outcome.REJECTED, enforced)
    return Decision(Outcome.HELD, enforced)


# The reasons ``decide`` writes from the facts (every other reason comes from the scores and thresholds).
_LINKS = re.compile(r"^(\d+) links; the site holds comments with (\d+) or more")
_TOO_FAST = re.compile(r"^Sent (\d+(?:\.\d+)?) s after the form opened \(the site holds (\d+(?:\.\d+)?) s")
_BLOCKED = re.compile(r"^The commenter is blocked \((.*)\)\.$", re.DOTALL)
_WORDS = re.compile(r"^Blocked words: (.*)\.$", re.DOTALL)


def facts_from_reasons(reasons: Iterable[Mapping[str, Any]]) -> Facts:
    """The facts that made a stored decision's rule reasons, so that ``decide`` can replay the decision
    under other thresholds from the stored scores (the "what if").

    The rules that fired are exactly what the reasons name: ``decide`` with these facts writes the same
    rule reasons again, and rules that did not fire stay off (a trusted commenter's skipped
    pre-moderation is simply off). Score reasons and reader reports are not facts and are ignored.
    """
    fields: dict[str, Any] = {}
    for reason in reasons:
        code, detail = reason.get("code"), str(reason.get("detail", ""))
        if code == ReasonCode.BLOCKED_COMMENTER:
            found = _BLOCKED.match(detail)
            fields["blocked"] = found.group(1) if found else "unknown"
        elif code == ReasonCode.TRAP:
            fields["trap_filled"] = True
        elif code == ReasonCode.DUPLICATE:
            fields["duplicate"] = True
        elif code == ReasonCode.NO_FORM_TOKEN:
            fields["require_form_token"] = True
        elif code == ReasonCode.TOO_FAST:
            found = _TOO_FAST.match(detail)
            fields["form_seconds"], fields["min_form_seconds"] = (
                (float(found.group(1)), float(found.group(2))) if found else (0.0, 1.0)
            )
        elif code == ReasonCode.BLOCKED_WORDS:
            found = _WORDS.match(detail)
            fields["blocked_words"] = tuple(found.group(1).split(", ")) if found else ("?",)
        elif code == ReasonCode.PREMODERATION:
            fields["hold_all"] = True
        elif code == ReasonCode.THREAD_PREMODERATION:
            fields["thread_premoderated"] = True
        elif code == ReasonCode.FIRST_COMMENT:
            fields["first_comment"] = True
        elif code == ReasonCode.LINKS:
            found = _LINKS.match(detail)
            fields["links"], fields["hold_links_at"] = (int(found.group(1)), int(found.group(2))) if found else (1, 1)
    return Facts(**fields)
