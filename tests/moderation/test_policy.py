import math

import pytest

from moderation.policy import (
    DEFAULT_THRESHOLDS,
    Facts,
    Outcome,
    Threshold,
    decide,
    scoring_failed,
    thresholds_effective,
    thresholds_from_json,
    thresholds_to_json,
)

THRESHOLDS = {"TOXICITY": Threshold(publish=0.5), "SPAM": Threshold(publish=0.5, reject=0.95)}


def test_it_publishes_when_every_score_is_below_its_publish_threshold():
    decision = decide(scores={"TOXICITY": 0.1, "SPAM": 0.49}, thresholds=THRESHOLDS)
    assert decision.outcome is Outcome.PUBLISHED
    assert decision.reasons == ()


def test_it_holds_at_the_publish_threshold_and_says_which_attribute():
    decision = decide(scores={"TOXICITY": 0.5, "SPAM": 0.0}, thresholds=THRESHOLDS)
    assert decision.outcome is Outcome.HELD
    [reason] = decision.reasons
    assert (reason.code, reason.attribute, reason.score, reason.threshold) == ("hold_threshold", "TOXICITY", 0.5, 0.5)


def test_it_rejects_at_the_reject_threshold_and_reject_wins_over_hold():
    decision = decide(scores={"TOXICITY": 0.9, "SPAM": 0.97}, thresholds=THRESHOLDS)
    assert decision.outcome is Outcome.REJECTED
    assert [r.code for r in decision.reasons] == ["reject_threshold", "hold_threshold"]
    assert decision.reasons[0].attribute == "SPAM"


def test_it_never_rejects_an_attribute_without_a_reject_threshold():
    decision = decide(scores={"TOXICITY": 1.0, "SPAM": 0.0}, thresholds=THRESHOLDS)
    assert decision.outcome is Outcome.HELD


def test_it_holds_everything_when_the_site_premoderates():
    decision = decide(scores={"TOXICITY": 0.0, "SPAM": 0.0}, thresholds=THRESHOLDS, facts=Facts(hold_all=True))
    assert decision.outcome is Outcome.HELD
    assert decision.reasons[0].code == "premoderation"


@pytest.mark.parametrize("scores", [{"SPAM": 0.0}, {"TOXICITY": math.nan, "SPAM": 0.0}])
def test_it_holds_when_a_thresholded_score_is_missing(scores):
    decision = decide(scores=scores, thresholds=THRESHOLDS)
    assert decision.outcome is Outcome.HELD
    assert decision.reasons[0].code == "score_missing"


def test_it_records_attributes_without_thresholds_but_ignores_them():
    decision = decide(scores={"TOXICITY": 0.0, "SPAM": 0.0, "INSULT": 0.99}, thresholds=THRESHOLDS)
    assert decision.outcome is Outcome.PUBLISHED


def test_it_round_trips_thresholds_through_json():
    assert thresholds_from_json(thresholds_to_json(DEFAULT_THRESHOLDS)) == DEFAULT_THRESHOLDS


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "must be an object"),
        ({"toxicity": {"publish": 0.5}}, "capitals"),
        ({"TOXICITY": {"reject": 0.5}}, "'publish'"),
        ({"TOXICITY": {"publish": 1.5}}, "from 0 to 1"),
        ({"TOXICITY": {"publish": True}}, "from 0 to 1"),
        ({"TOXICITY": {"publish": 0.8, "reject": 0.5}}, "must not be below"),
        ({"TOXICITY": {"publish": 0.5, "hold": 0.7}}, "unknown keys"),
    ],
)
def test_it_refuses_bad_thresholds_with_a_message(raw, message):
    with pytest.raises(ValueError, match=message):
        thresholds_from_json(raw)


def test_it_explains_a_scoring_failure():
    decision = scoring_failed(3)
    assert decision.outcome is Outcome.HELD
    assert decision.reasons[0].as_dict() == {
        "code": "scoring_failed",
        "detail": "Scoring failed 3 times; held for a moderator.",
    }


def test_it_rejects_a_blocked_commenter_whatever_the_scores():
    decision = decide(scores={"TOXICITY": 0.0, "SPAM": 0.0}, thresholds=THRESHOLDS, facts=Facts(blocked="email:e@x"))
    assert decision.outcome is Outcome.REJECTED
    assert decision.reasons[0].code == "blocked_commenter"


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        (Facts(first_comment=True), "first_comment"),
        (Facts(links=3, hold_links_at=2), "links"),
        (Facts(blocked_words=("idiot",)), "blocked_words"),
    ],
)
def test_it_holds_when_a_site_rule_fires_and_says_which(facts, code):
    decision = decide(scores={"TOXICITY": 0.0, "SPAM": 0.0}, thresholds=THRESHOLDS, facts=facts)
    assert decision.outcome is Outcome.HELD
    assert [r.code for r in decision.reasons] == [code]


def test_it_lets_links_below_the_limit_and_no_limit_pass():
    for facts in (Facts(links=1, hold_links_at=2), Facts(links=9, hold_links_at=0)):
        assert (
            decide(scores={"TOXICITY": 0.0, "SPAM": 0.0}, thresholds=THRESHOLDS, facts=facts).outcome
            is Outcome.PUBLISHED
        )


def test_a_trusted_commenter_skips_pre_moderation_but_not_the_models_or_word_lists():
    trusted = Facts(trusted=True, hold_all=True, first_comment=True, links=5, hold_links_at=1)
    assert (
        decide(scores={"TOXICITY": 0.1, "SPAM": 0.0}, thresholds=THRESHOLDS, facts=trusted).outcome is Outcome.PUBLISHED
    )
    assert decide(scores={"TOXICITY": 0.9, "SPAM": 0.0}, thresholds=THRESHOLDS, facts=trusted).outcome is Outcome.HELD
    words = Facts(trusted=True, blocked_words=("x",))
    assert decide(scores={"TOXICITY": 0.0, "SPAM": 0.0}, thresholds=THRESHOLDS, facts=words).outcome is Outcome.HELD


def test_the_shipped_models_carry_the_defaults_sites_were_moved_to():
    """A site on the defaults of comments 0004 followed the 2026.11.30 models' defaults after moderation
    0004 (the same numbers, so the move changed no decision), and follows each newer model's own since:
    the code's fallback is the newest shipped models' defaults."""
    import importlib
    import json
    from pathlib import Path

    migration = importlib.import_module("comments.migrations.0004_site_thresholds_for_the_2026_11_30_models")
    artifacts = Path(__file__).resolve().parents[2] / "ml" / "artifacts"

    def carried(toxicity: str, spam: str) -> dict:
        found = {}
        for meta in (artifacts / f"toxicity/{toxicity}/meta.json", artifacts / f"spam/{spam}/meta.json"):
            found |= json.loads(meta.read_text())["default_thresholds"]
        return found

    assert carried("toxicity-2026.11.30", "spam-2026.11.30") == migration.NEW
    assert carried("toxicity-2026.11.30.2", "spam-2026.11.30")["TOXICITY"] == {"publish": 0.184, "reject": None}
    assert carried("toxicity-2026.11.30.3", "spam-2026.11.30")["TOXICITY"] == {"publish": 0.165, "reject": None}
    assert carried("toxicity-2026.11.30.4", "spam-2026.11.30")["IDENTITY_ATTACK"] == {"publish": 0.432, "reject": None}
    assert carried("toxicity-2026.12.01.5", "spam-2026.12.01")["THREAT"] == {"publish": 0.108, "reject": None}
    assert carried("toxicity-2026.12.01.21", "spam-2026.12.01")["TOXICITY"] == {"publish": 0.129, "reject": None}
    assert "INSULT" not in carried("toxicity-2026.12.01.21", "spam-2026.12.01")  # rolling back stops holding for it
    assert carried("toxicity-2026.12.01.23", "spam-2026.12.01")["PROFANITY"] == {"publish": 0.076, "reject": None}
    assert carried("toxicity-2026.12.01.25", "spam-2026.12.01.2") == thresholds_to_json(DEFAULT_THRESHOLDS)


def test_effective_thresholds_take_the_site_then_the_model_then_the_code():
    site = {"TOXICITY": Threshold(publish=0.3), "LIKELY_TO_REJECT": Threshold(publish=0.5)}
    models = {"TOXICITY": Threshold(publish=0.2), "THREAT": Threshold(publish=0.4)}
    produced = ["TOXICITY", "THREAT", "IDENTITY_ATTACK", "SEXUALLY_EXPLICIT", "SPAM"]
    effective = thresholds_effective(produced=produced, site=site, models=models)
    assert effective == {
        "TOXICITY": Threshold(publish=0.3),  # the site's
        "THREAT": Threshold(publish=0.4),  # the model's
        "IDENTITY_ATTACK": DEFAULT_THRESHOLDS["IDENTITY_ATTACK"],  # the code's
        "SPAM": DEFAULT_THRESHOLDS["SPAM"],
        "LIKELY_TO_REJECT": Threshold(publish=0.5),  # the site asked for it: its missing score holds
    }  # SEXUALLY_EXPLICIT: no default anywhere, so no threshold


def test_a_model_without_a_head_leaves_its_default_out():
    effective = thresholds_effective(produced=["TOXICITY", "SPAM"], site={}, models={})
    assert set(effective) == {"TOXICITY", "SPAM"}
    decision = decide(scores={"TOXICITY": 0.0, "SPAM": 0.0}, thresholds=effective)
    assert decision.outcome is Outcome.PUBLISHED


def test_the_default_thresholds_hold_threats_that_toxicity_scores_low():
    scores = dict.fromkeys(DEFAULT_THRESHOLDS, 0.0) | {"TOXICITY": 0.1, "THREAT": 0.9}
    decision = decide(scores=scores, thresholds=DEFAULT_THRESHOLDS)
    assert decision.outcome is Outcome.HELD
    assert [reason.attribute for reason in decision.reasons] == ["THREAT"]


@pytest.mark.parametrize(
    ("form_seconds", "minimum", "required", "codes"),
    [
        (1.2, 3, False, ["too_fast"]),
        (0.0, 3, False, ["too_fast"]),  # a forged form token
        (3.0, 3, False, ["too_fast"]),
        (3.5, 3, False, []),
        (1.2, 0, False, []),  # the check is off
        (None, 3, False, []),  # no token: an API client, allowed unless the site requires the widget
        (None, 3, True, ["no_form_token"]),
        (45.0, 3, True, []),
    ],
)
def test_it_holds_a_comment_sent_too_fast_after_the_form_opened(form_seconds, minimum, required, codes):
    facts = Facts(form_seconds=form_seconds, min_form_seconds=minimum, require_form_token=required)
    decision = decide(scores={"TOXICITY": 0.1, "SPAM": 0.1}, thresholds=THRESHOLDS, facts=facts)
    assert [reason.code for reason in decision.reasons] == codes
    assert decision.outcome is (Outcome.HELD if codes else Outcome.PUBLISHED)


# Shadow mode and the "what if" replay ------------------------------------------------------------

EVERY_RULE = {
    "blocked": Facts(blocked="email:mallory@example.org"),
    "trap": Facts(trap_filled=True),
    "duplicate": Facts(duplicate=True),
    "no_form_token": Facts(require_form_token=True),
    "too_fast": Facts(form_seconds=1.26, min_form_seconds=3),
    "blocked_words": Facts(blocked_words=("bridge troll", "idiot")),
    "premoderation": Facts(hold_all=True),
    "thread_premoderation": Facts(thread_premoderated=True, trusted=True),
    "first_comment": Facts(first_comment=True),
    "links": Facts(links=4, hold_links_at=2),
    "trusted_skips": Facts(trusted=True, hold_all=True, first_comment=True, links=5, hold_links_at=1),
    "everything": Facts(
        blocked="ip:abc",
        trap_filled=True,
        duplicate=True,
        form_seconds=0.0,
        min_form_seconds=3,
        blocked_words=("x",),
        hold_all=True,
        first_comment=True,
        links=3,
        hold_links_at=3,
    ),
    "nothing": Facts(links=1, hold_links_at=2, form_seconds=30.0, min_form_seconds=3),
}


@pytest.mark.parametrize("facts", EVERY_RULE.values(), ids=EVERY_RULE.keys())
@pytest.mark.parametrize("scores", [{"TOXICITY": 0.1, "SPAM": 0.1}, {"TOXICITY": 0.7, "SPAM": 0.99}, {"SPAM": 0.2}])
def test_the_facts_read_back_from_stored_reasons_make_the_same_decision(facts, scores):
    from moderation.policy import facts_from_reasons

    stored = decide(scores=scores, thresholds=THRESHOLDS, facts=facts)
    replayed = decide(
        scores=scores, thresholds=THRESHOLDS, facts=facts_from_reasons(r.as_dict() for r in stored.reasons)
    )
    assert replayed == stored  # the outcome and every reason, word for word


def test_the_facts_read_back_decide_again_under_other_thresholds():
    from moderation.policy import facts_from_reasons

    stored = decide(scores={"TOXICITY": 0.7, "SPAM": 0.1}, thresholds=THRESHOLDS, facts=Facts(first_comment=True))
    facts = facts_from_reasons([*(r.as_dict() for r in stored.reasons), {"code": "reader_reports", "detail": "3"}])
    lenient = {"TOXICITY": Threshold(publish=0.9), "SPAM": Threshold(publish=0.5, reject=0.95)}
    assert [r.code for r in decide(scores={"TOXICITY": 0.7, "SPAM": 0.1}, thresholds=lenient, facts=facts).reasons] == [
        "first_comment"
    ]
    assert decide(scores={"TOXICITY": 0.7, "SPAM": 0.1}, thresholds=lenient, facts=Facts()).outcome is Outcome.PUBLISHED


@pytest.mark.parametrize(
    ("facts", "scores", "would", "applied", "codes"),
    [
        (Facts(), {"TOXICITY": 0.9, "SPAM": 0.1}, "held", "published", []),
        (Facts(), {"TOXICITY": 0.1, "SPAM": 0.99}, "rejected", "published", []),
        (Facts(hold_all=True, first_comment=True, links=9, hold_links_at=1), {"SPAM": 0.1}, "held", "published", []),
        (Facts(blocked_words=("troll",)), {"TOXICITY": 0.1, "SPAM": 0.1}, "held", "published", []),
        (Facts(trap_filled=True), {"TOXICITY": 0.9, "SPAM": 0.1}, "held", "held", ["trap"]),
        (Facts(duplicate=True), {"TOXICITY": 0.1, "SPAM": 0.99}, "rejected", "held", ["duplicate"]),
        (Facts(form_seconds=1.0, min_form_seconds=3), {"TOXICITY": 0.1, "SPAM": 0.1}, "held", "held", ["too_fast"]),
        (Facts(require_form_token=True), {"TOXICITY": 0.1, "SPAM": 0.1}, "held", "held", ["no_form_token"]),
        (Facts(blocked="ip:x", trap_filled=True), {"SPAM": 0.1}, "rejected", "rejected", ["blocked_commenter", "trap"]),
        (Facts(thread_premoderated=True), {"TOXICITY": 0.9, "SPAM": 0.1}, "held", "held", ["thread_premoderation"]),
        (Facts(), {"TOXICITY": 0.1, "SPAM": 0.1}, "published", "published", []),
    ],
)
def test_shadow_mode_publishes_what_moderato_would_keep_off_but_bots_and_blocks_still_act(
    facts, scores, would, applied, codes
):
    from moderation.policy import shadow_applied

    judgement = decide(scores=scores, thresholds=THRESHOLDS, facts=facts)
    done = shadow_applied(judgement)
    assert (judgement.outcome.value, done.outcome.value) == (would, applied)
    assert [r.code for r in done.reasons] == codes


def test_shadow_mode_holds_a_comment_the_scorer_could_not_handle():
    from moderation.policy import shadow_applied

    assert shadow_applied(scoring_failed(3)) == scoring_failed(3)


# One thread's controls (moderation.threads) -----------------------------------------------------


def test_a_premoderated_thread_holds_a_clean_comment_even_from_a_trusted_commenter():
    for facts in (Facts(thread_premoderated=True), Facts(thread_premoderated=True, trusted=True)):
        decision = decide(scores={"TOXICITY": 0.0, "SPAM": 0.0}, thresholds=THRESHOLDS, facts=facts)
        assert decision.outcome is Outcome.HELD
        [reason] = decision.reasons
        assert reason.code == "thread_premoderation"
        assert "thread is pre-moderated" in reason.detail


def test_a_threads_hold_threshold_is_used_before_the_sites_and_the_sites_reject_stays():
    from moderation.policy import thread_holds_applied

    strict = thread_holds_applied(THRESHOLDS, {"TOXICITY": 0.1, "SPAM": 0.2})
    assert strict == {
        "TOXICITY": Threshold(publish=0.1, thread=True),
        "SPAM": Threshold(publish=0.2, reject=0.95, thread=True),
    }
    scores = {"TOXICITY": 0.3, "SPAM": 0.0}  # under the site's 0.5
    assert decide(scores=scores, thresholds=THRESHOLDS).outcome is Outcome.PUBLISHED
    held = decide(scores=scores, thresholds=strict)
    assert held.outcome is Outcome.HELD
    [reason] = held.reasons
    assert (reason.code, reason.attribute, reason.threshold) == ("hold_threshold", "TOXICITY", 0.1)
    assert reason.detail == "TOXICITY 0.30 is at or above the thread's publish threshold 0.10."
    assert decide(scores={"TOXICITY": 0.0, "SPAM": 0.97}, thresholds=strict).outcome is Outcome.REJECTED
    # A thread may hold less than its site, too; attributes it does not name stay the site's.
    lenient = thread_holds_applied(THRESHOLDS, {"TOXICITY": 0.9})
    assert lenient["SPAM"] == THRESHOLDS["SPAM"]
    assert decide(scores={"TOXICITY": 0.7, "SPAM": 0.0}, thresholds=lenient).outcome is Outcome.PUBLISHED


def test_a_thread_without_holds_keeps_its_sites_thresholds_word_for_word():
    from moderation.policy import thread_holds_applied

    assert thread_holds_applied(THRESHOLDS, {}) == THRESHOLDS
    decision = decide(scores={"TOXICITY": 0.6, "SPAM": 0.0}, thresholds=THRESHOLDS)
    assert decision.reasons[0].detail == "TOXICITY 0.60 is at or above the publish threshold 0.50."


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([0.1], "must be an object"),
        ({"toxicity": 0.1}, "capitals"),
        ({"TOXICITY": 1.2}, "from 0 to 1"),
        ({"TOXICITY": -0.1}, "from 0 to 1"),
        ({"TOXICITY": True}, "from 0 to 1"),
        ({"TOXICITY": {"publish": 0.1}}, "from 0 to 1"),
        ({"INSULT": 0.1}, "INSULT is not scored by the active models"),
    ],
)
def test_it_refuses_bad_thread_thresholds_with_a_message(raw, message):
    from moderation.policy import thread_holds_from_json

    with pytest.raises(ValueError, match=message):
        thread_holds_from_json(raw, known=["TOXICITY", "SPAM"])


def test_it_reads_thread_thresholds_from_0_to_1():
    from moderation.policy import thread_holds_from_json

    assert thread_holds_from_json({"TOXICITY": 0, "SPAM": 1}, known=["TOXICITY", "SPAM"]) == {
        "TOXICITY": 0.0,
        "SPAM": 1.0,
    }
    assert thread_holds_from_json({"INSULT": 0.5}) == {"INSULT": 0.5}  # the model's validator knows no models


def test_the_default_insult_head_holds_an_insult_that_toxicity_scores_low():
    """From toxicity-2026.12.01.23 the INSULT and PROFANITY heads hold too (chosen on the development corpus)."""
    from ml.scoring import load_scorer

    scores = load_scorer().score("you are trash")
    assert scores["TOXICITY"] < DEFAULT_THRESHOLDS["TOXICITY"].publish
    decision = decide(scores=scores, thresholds=DEFAULT_THRESHOLDS)
    assert decision.outcome is Outcome.HELD
    assert [reason.attribute for reason in decision.reasons] == ["INSULT"]
    assert (
        decide(scores=load_scorer().score("you are right"), thresholds=DEFAULT_THRESHOLDS).outcome is Outcome.PUBLISHED
    )


def test_a_model_that_carries_defaults_but_none_for_a_head_keeps_the_codes_out():
    models = {"TOXICITY": Threshold(publish=0.2), "INSULT": None}
    effective = thresholds_effective(produced=["TOXICITY", "INSULT", "PROFANITY"], site={}, models=models)
    assert effective == {"TOXICITY": Threshold(publish=0.2), "PROFANITY": DEFAULT_THRESHOLDS["PROFANITY"]}
    site = {"INSULT": Threshold(publish=0.3)}
    assert thresholds_effective(produced=["INSULT"], site=site, models=models) == site
