"""Turn scores and facts about a comment into publish / hold / reject, with the reasons.

Pure: no Django, no models, no I/O, so every rule is tested without a database.

Thresholds are per attribute: a score at or above ``publish`` holds the comment for a moderator,
a score at or above ``reject`` (when set) rejects it outright. Reject wins over hold.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


class Outcome(enum.StrEnum):
    PUBLISHED = "published"
    HELD = "held"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Threshold:
    publish: float
    reject: float | None = None


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str
    attribute: str | None = None
    score: float | None = None
    threshold: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


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


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...] = field(default_factory=tuple)


# Toxic comments are held for a person, never discarded unseen; blatant spam is discarded. The
# numbers were chosen on the development corpus (ml/corpus/dev, never trained on) for the shipped
# models, whose probabilities are calibrated for traffic with a few per cent of toxic comments:
# `bench/choose_thresholds.py` holds as much toxicity and spam as it can while at most 4 % of civil
# comments are held (7 % in any language and script with 100 civil comments or more), at most 4 % of
# legitimate comments that cite sources, and no legitimate comment is rejected. 4 % is what it takes
# to hold 80 % of toxic comments on that set (at 3 %, 78 %). The THREAT,
# IDENTITY_ATTACK and SEVERE_TOXICITY heads catch threats and dehumanisation that TOXICITY alone
# scores low. A model without one of these heads scores it as missing, which holds (see decide).
DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    "TOXICITY": Threshold(publish=0.17),
    "THREAT": Threshold(publish=0.134),
    "IDENTITY_ATTACK": Threshold(publish=0.364),
    "SEVERE_TOXICITY": Threshold(publish=0.061),
    "SPAM": Threshold(publish=0.815, reject=0.965),
}


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
    trusted commenter skips these three) holds. Attributes without a threshold are ignored.
    """
    rejects: list[Reason] = []
    holds: list[Reason] = []
    if facts.blocked:
        rejects.append(Reason(code="blocked_commenter", detail=f"The commenter is blocked ({facts.blocked})."))
    for attribute in sorted(thresholds):
        threshold = thresholds[attribute]
        score = scores.get(attribute)
        if score is None or math.isnan(score):
            holds.append(
                Reason(
                    code="score_missing",
                    detail=f"No {attribute} score: a person has to look.",
                    attribute=attribute,
                )
            )
            continue
        if threshold.reject is not None and score >= threshold.reject:
            rejects.append(
                Reason(
                    code="reject_threshold",
                    detail=f"{attribute} {score:.2f} is at or above the reject threshold {threshold.reject:.2f}.",
                    attribute=attribute,
                    score=round(score, 4),
                    threshold=threshold.reject,
                )
            )
        elif score >= threshold.publish:
            holds.append(
                Reason(
                    code="hold_threshold",
                    detail=f"{attribute} {score:.2f} is at or above the publish threshold {threshold.publish:.2f}.",
                    attribute=attribute,
                    score=round(score, 4),
                    threshold=threshold.publish,
                )
            )
    if facts.blocked_words:
        holds.append(Reason(code="blocked_words", detail=f"Blocked words: {', '.join(facts.blocked_words)}."))
    if not facts.trusted:
        if facts.hold_all:
            holds.append(Reason(code="premoderation", detail="The site holds every comment for a moderator."))
        if facts.first_comment:
            holds.append(Reason(code="first_comment", detail="The site holds a commenter's first comment."))
        if facts.hold_links_at and facts.links >= facts.hold_links_at:
            holds.append(
                Reason(
                    code="links",
                    detail=f"{facts.links} links; the site holds comments with {facts.hold_links_at} or more.",
                )
            )
    if rejects:
        return Decision(Outcome.REJECTED, tuple(rejects + holds))
    if holds:
        return Decision(Outcome.HELD, tuple(holds))
    return Decision(Outcome.PUBLISHED, ())


def scoring_failed(attempts: int) -> Decision:
    """The decision for a comment the scorer could not handle: a person decides, no loop."""
    return Decision(
        Outcome.HELD,
        (Reason(code="scoring_failed", detail=f"Scoring failed {attempts} times; held for a moderator."),),
    )
