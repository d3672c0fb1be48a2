"""Shadow mode (publish, record what Moderato would have decided), its report, and the "what if" replay."""

from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.utils import timezone

from comments.models import Comment, Site, Thread
from moderation import policy, services, shadow
from moderation.models import ModerationAction, ShadowDecision
from moderation.sites import site_thresholds
from tests.conftest import cache_clear, moderate_every_site
from tests.moderation.test_services import CLEAN, SPAM, TOXIC, batch_scenario, pending


@pytest.fixture(autouse=True)
def no_cached_held_counts():
    """The admin pages below cache the header's held count for 15 s under keys other tests read too."""
    yield
    cache_clear()


@pytest.fixture
def thread(site):
    return Thread.objects.create(site=site, key="/news/bridge")


@pytest.fixture
def shadowed(site):
    site.policy.shadow_mode = True
    site.policy.save()
    return site


@pytest.fixture
def moderator(db):
    user = User.objects.create_user("alice", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(user)
    return user


# Shadow mode in the pipeline --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "would", "code"),
    [(TOXIC, "held", "hold_threshold"), (SPAM, "rejected", "reject_threshold"), (CLEAN, "published", None)],
)
def test_shadow_mode_publishes_and_records_what_the_single_path_would_have_decided(shadowed, thread, body, would, code):
    comment = pending(thread, body)
    assert services.comment_score(comment_id=comment.pk) == "published"
    comment.refresh_from_db()
    assert (comment.status, comment.reasons) == ("published", [])
    record = ShadowDecision.objects.get(comment=comment)
    assert (record.outcome, record.applied, record.site_id) == (would, "published", shadowed.pk)
    assert {r["code"] for r in record.reasons} == ({code} if code else set())  # TOXICITY and INSULT, say


def test_without_shadow_mode_nothing_is_recorded(thread):
    comment = pending(thread, TOXIC)
    assert services.comment_score(comment_id=comment.pk) == "held"
    assert services.pending_comments_score_batch().claimed == 0
    assert not ShadowDecision.objects.exists()


def test_shadow_mode_in_a_batch_records_what_a_site_without_it_decides(site):
    shadowed = Site.objects.create(name="Shadowed", public_key="shadowed")
    shadowed.policy.shadow_mode = True
    shadowed.policy.save()
    trusting = [c.pk for c in batch_scenario(site, "/trusting")]
    trying = [c.pk for c in batch_scenario(shadowed, "/trying")]
    batch = services.pending_comments_score_batch()
    assert sorted(batch.outcomes) == sorted(trusting + trying)
    decided = {c.pk: c for c in Comment.objects.filter(pk__in=trusting + trying)}
    records = {r.comment_id: r for r in ShadowDecision.objects.all()}
    assert sorted(records) == trying
    for ours, theirs in zip(trying, trusting, strict=True):
        record, twin = records[ours], decided[theirs]
        assert (record.outcome, [r["code"] for r in record.reasons]) == (twin.status, [r["code"] for r in twin.reasons])
        assert decided[ours].status == record.applied == batch.outcomes[ours]
    applied = [records[pk].applied for pk in trying]
    would = [records[pk].outcome for pk in trying]
    # What still acts: the duplicates (5, 9) are held and the blocked commenter (10) rejected; the rest is published.
    assert (
        applied
        == ["published"] * 5 + ["held", "published", "published", "published", "held", "rejected"] + ["published"] * 2
    )
    assert {"held", "rejected"} <= set(would[:5])  # the toxic, the spam, the links and the blocked words


def test_re_scoring_a_held_comment_of_a_site_now_in_shadow_mode_replaces_its_record(thread):
    comment = pending(thread, TOXIC)
    services.comment_score(comment_id=comment.pk)
    thread.site.policy.shadow_mode = True
    thread.site.policy.save()
    assert services.held_comments_rescore(comment_ids=[comment.pk]).decided == {comment.pk: "published"}
    services.held_comments_rescore(comment_ids=[comment.pk])  # published now: left alone
    assert ShadowDecision.objects.get(comment=comment).outcome == "held"


def test_shadow_mode_and_pre_moderation_of_everything_cannot_both_be_on(site):
    from django.core.exceptions import ValidationError

    site.policy.shadow_mode = site.policy.hold_all = True
    with pytest.raises(ValidationError, match="pre-moderation"):
        site.policy.full_clean()


# The report ---------------------------------------------------------------------------------------


def known_actions(thread, moderator):
    """Comments decided in shadow mode, then by a moderator; returns them by name."""
    made = {
        name: pending(thread, body + f" ({name})" if body == CLEAN else body, author_name=name)
        for name, body in [
            ("caught_toxic", TOXIC),
            ("caught_spam", SPAM),
            ("approved_toxic", TOXIC),
            ("flipped_toxic", TOXIC),
            ("untouched_toxic", TOXIC),
            ("missed", CLEAN),
            ("kept_clean", CLEAN),
            ("untouched_clean", CLEAN),
        ]
    }
    assert set(services.pending_comments_score_batch().outcomes.values()) == {"published"}
    for name, actions in [
        ("caught_toxic", [ModerationAction.TOXIC]),
        ("caught_spam", [ModerationAction.SPAM]),
        ("approved_toxic", [ModerationAction.NOT_TOXIC]),
        ("flipped_toxic", [ModerationAction.REJECT, ModerationAction.APPROVE]),  # the latest decision counts
        ("missed", [ModerationAction.REJECT]),
        ("kept_clean", [ModerationAction.APPROVE]),
    ]:
        for action in actions:
            services.comment_moderate(comment_id=made[name].pk, actor=moderator, action=action)
    return made


def test_the_report_counts_agreement_catches_and_wrong_holds_against_known_actions(shadowed, thread, moderator):
    made = known_actions(thread, moderator)
    other = Site.objects.create(name="Other", public_key="other")
    other.policy.shadow_mode = True
    other.policy.save()
    pending(Thread.objects.create(site=other, key="/x"), TOXIC)
    services.pending_comments_score_batch()
    old = pending(thread, TOXIC + " again, long ago", author_name="old")
    services.comment_score(comment_id=old.pk)
    ShadowDecision.objects.filter(comment=old).update(decided_at=timezone.now() - timedelta(days=31))

    report = shadow.shadow_report(site=shadowed, days=30)
    assert report.comments == 8
    assert report.table == {
        ("held", "removed"): 1,
        ("rejected", "removed"): 1,
        ("held", "kept"): 2,
        ("held", "untouched"): 1,
        ("published", "removed"): 1,
        ("published", "kept"): 1,
        ("published", "untouched"): 1,
    }
    assert (report.caught, report.missed, report.wrongly_held, report.agreed) == (2, 1, 2, 3)
    assert report.decided_by_moderators == 6
    assert (report.agreement_rate, report.catch_rate, report.precision) == (0.5, 2 / 3, 0.5)
    assert [e.comment_id for e in report.missed_examples] == [made["missed"].pk]
    assert {e.comment_id for e in report.wrongly_held_examples} == {made["approved_toxic"].pk, made["flipped_toxic"].pk}
    assert shadow.shadow_report(site=shadowed, days=60).comments == 9


def test_the_report_counts_comments_held_anyway_by_the_rules_that_still_act(shadowed, thread):
    comment = pending(thread, CLEAN, trap_filled=True)
    assert services.comment_score(comment_id=comment.pk) == "held"
    report = shadow.shadow_report(site=shadowed)
    assert (report.comments, report.enforced, report.table) == (1, 1, {("held", "untouched"): 1})


def test_the_report_command_prints_the_figures_and_refuses_bad_input(shadowed, thread, moderator, capsys):
    known_actions(thread, moderator)
    call_command("shadow_report", "--site", "planet", "--days", "7")
    out = capsys.readouterr().out
    assert "Shadow decisions of site planet (Daily Planet), last 7 days: 8" in out
    assert "agreement 50.0 % (3 of 6)" in out
    assert "missed (would publish; moderators removed): 1" in out
    assert "precision 50.0 % (2 of 4)" in out
    for args in (["--site", "nowhere"], ["--site", "planet", "--days", "0"]):
        with pytest.raises(CommandError) as refused:
            call_command("shadow_report", *args)
        assert refused.value.returncode == 2 and "\n" not in str(refused.value)


# What if ------------------------------------------------------------------------------------------


def rules_scenario(site):
    """Comments decided by the pipeline on a site whose rules fire on them (a batch, then the single path).
    Returns {comment id: the pipeline's outcome}; the newest is a first comment, held."""
    comments = batch_scenario(site, "/rules")
    thread = comments[0].thread
    comments.append(pending(thread, CLEAN + " So fast.", form_seconds=0.5, commenter="quick"))
    comments.append(pending(thread, CLEAN + " Honey.", trap_filled=True, commenter="bot"))
    decided = services.pending_comments_score_batch().outcomes
    site.policy.hold_first_comment = True
    site.policy.save()
    for body, commenter in [(CLEAN + " Again.", "tok"), (CLEAN + " Hello.", "newbie")]:
        comment = pending(thread, body, commenter=commenter)
        decided[comment.pk] = services.comment_score(comment_id=comment.pk)
    assert Counter(decided.values()) == {"held": 9, "published": 6, "rejected": 2}
    assert Comment.objects.get(pk=max(decided)).reasons[0]["code"] == "first_comment"
    return decided


def test_what_if_at_the_thresholds_in_force_decides_as_the_pipeline_did(site, moderator):
    decided = rules_scenario(site)
    first_held = max(decided)
    # A moderator approves a first comment: the commenter has now published, but the replay keeps the facts
    # of the decision (a first comment, then) and decides as the pipeline did.
    services.comment_moderate(comment_id=first_held, actor=moderator, action=ModerationAction.APPROVE)
    replay = shadow.what_if(site=site, overrides={})
    assert {pk: now for pk, (now, _) in replay.decisions.items()} == decided
    assert replay.changed == [] and replay.now == replay.then == dict(Counter(decided.values()))
    assert (replay.asked, replay.unscored, replay.other_model) == (len(decided), 0, 0)


def test_what_if_changes_the_decisions_the_new_thresholds_change(site):
    decided = rules_scenario(site)
    scores = dict(Comment.objects.filter(pk__in=decided).values_list("pk", "scores"))
    in_force = site_thresholds(site=site)
    stricter = policy.Threshold(publish=0.0)  # every score is at or above 0: every comment is held
    replay = shadow.what_if(site=site, overrides={"TOXICITY": stricter, "SPAM": policy.Threshold(publish=1.0)})
    expected_changes = {pk for pk, outcome in decided.items() if outcome == "published"}
    # SPAM no longer rejects (no reject threshold) and holds only at 1.0: a comment rejected by SPAM alone is held.
    expected_changes |= {
        pk for pk, outcome in decided.items() if outcome == "rejected" and scores[pk]["SPAM"] >= in_force["SPAM"].reject
    } - {pk for pk in decided if "blocked_commenter" in str(Comment.objects.get(pk=pk).reasons)}
    assert {r.comment_id for r in replay.changed} == expected_changes
    assert replay.then.get("published", 0) == 0
    assert all(r.then == "held" for r in replay.changed)
    assert replay.thresholds_then["TOXICITY"] == stricter and replay.thresholds_now == in_force


def test_what_if_replays_what_moderato_would_have_decided_in_shadow_mode(shadowed, thread):
    shadowed.policy.blocked_words = "bridge"
    shadowed.policy.save()
    comment = pending(thread, CLEAN)  # a blocked word, nothing else: the rule, not the scores, would hold it
    assert services.comment_score(comment_id=comment.pk) == "published"
    replay = shadow.what_if(site=shadowed, overrides={"TOXICITY": policy.Threshold(publish=1.0)})
    assert replay.decisions == {comment.pk: ("held", "held")}


def test_what_if_leaves_out_comments_decided_without_scores(thread):
    comment = pending(thread, CLEAN)
    services.comment_scoring_give_up(comment_id=comment.pk, attempts=3)
    replay = shadow.what_if(site=thread.site, overrides={})
    assert (replay.asked, replay.unscored, replay.decisions) == (1, 1, {})


def test_the_what_if_command_prints_the_counts_and_changes(site, capsys):
    decided = rules_scenario(site)
    call_command("what_if", "--site", "planet", "--last", "100", "--threshold", "TOXICITY=0", "--examples", "1")
    out = capsys.readouterr().out
    counts = Counter(decided.values())
    assert f"the last {len(decided)} decided comments, {len(decided)} with stored scores" in out
    assert f"TOXICITY {policy.DEFAULT_THRESHOLDS['TOXICITY'].publish} -> 0\n" in out and "SPAM 0.754/0.944," in out
    assert f"published{counts['published']:>11}{0:>8}" in out
    assert f"held{counts['held']:>16}{counts['held'] + counts['published']:>8}" in out
    assert f"changed: {counts['published']}" in out and f"... and {counts['published'] - 1} more" in out
    newest_published = max(pk for pk, outcome in decided.items() if outcome == "published")
    assert f"#{newest_published} published -> held: " in out


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        ("TOXICITY=abc", "expected ATTRIBUTE=HOLD"),
        ("TOXICITY", "expected ATTRIBUTE=HOLD"),
        ("TOXICITY=1.5", "TOXICITY.publish must be a number from 0 to 1"),
        ("TOXICITY=nan", "TOXICITY.publish must be a number from 0 to 1"),
        ("SPAM=0.99", "reject (0.944) must not be below publish (0.99)"),
        ("SPAM=0.5:0.4", "reject (0.4) must not be below publish (0.5)"),
        ("toxicity=0.4", "toxicity is not scored by the active models"),
        ("WEATHER=0.4", "WEATHER is not scored by the active models"),
    ],
)
def test_the_what_if_command_exits_2_with_one_line_on_bad_thresholds(site, threshold, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")) as refused:
        call_command("what_if", "--site", "planet", "--threshold", threshold)
    assert refused.value.returncode == 2 and "\n" not in str(refused.value)


@pytest.mark.parametrize("args", [["--site", "nowhere"], ["--site", "planet", "--last", "0"]])
def test_the_what_if_command_exits_2_on_a_bad_site_or_count(site, args):
    with pytest.raises(CommandError) as refused:
        call_command("what_if", *args)
    assert refused.value.returncode == 2


# The admin pages ----------------------------------------------------------------------------------


def test_the_site_page_links_to_the_reports_and_turns_shadow_mode_on(client, shadowed, moderator):
    admin = User.objects.create_superuser("root", password="pw")
    client.force_login(admin)
    page = client.get(f"/admin/comments/site/{shadowed.pk}/change/").content.decode()
    assert f"/admin/comments/site/{shadowed.pk}/shadow-report/" in page
    assert f"/admin/comments/site/{shadowed.pk}/what-if/" in page
    assert 'name="policy-0-shadow_mode"' in page


def test_the_shadow_report_page_shows_the_counts(client, shadowed, thread, moderator):
    made = known_actions(thread, moderator)
    client.force_login(moderator)
    response = client.get(f"/admin/comments/site/{shadowed.pk}/shadow-report/?days=30")
    assert response.status_code == 200
    page = response.content.decode()
    assert "8 comments" in page and "agreement:\n      50 %" in page
    assert f"#{made['missed'].pk}" in page
    assert client.get(f"/admin/comments/site/{shadowed.pk}/shadow-report/?days=0").status_code == 400
    assert client.get(f"/admin/comments/site/{shadowed.pk}/shadow-report/?days=x").status_code == 400


def test_the_what_if_page_replays_and_answers_400_with_field_messages(client, site, moderator):
    decided = rules_scenario(site)
    client.force_login(moderator)
    url = f"/admin/comments/site/{site.pk}/what-if/"
    form = client.get(url)
    assert (
        form.status_code == 200
        and 'name="TOXICITY_hold"' in form.content.decode()
        and f'value="{policy.DEFAULT_THRESHOLDS["TOXICITY"].publish}"' in (form.content.decode())
    )
    in_force = {f"{name}_hold": t.publish for name, t in site_thresholds(site=site).items()} | {
        f"{name}_reject": "" if t.reject is None else t.reject for name, t in site_thresholds(site=site).items()
    }
    same = client.get(url, in_force | {"last": 500})
    assert same.status_code == 200
    assert same.context["replay"].changed == [] and same.context["replay"].decisions.keys() == decided.keys()
    stricter = client.get(url, in_force | {"last": 500, "TOXICITY_hold": 0})
    assert stricter.status_code == 200
    assert {r.comment_id for r in stricter.context["replay"].changed} == {
        pk for pk, outcome in decided.items() if outcome == "published"
    }
    for bad, field, message in [
        ({"TOXICITY_hold": 2}, "TOXICITY_hold", "TOXICITY.publish must be a number from 0 to 1"),
        ({"SPAM_hold": 0.99}, "SPAM_hold", "must not be below publish"),
        ({"TOXICITY_hold": "x"}, "TOXICITY_hold", "Enter a number."),
        ({"TOXICITY_hold": "inf"}, "TOXICITY_hold", "Enter a number."),
        ({"last": 0}, "last", "greater than or equal to 1"),
    ]:
        refused = client.get(url, in_force | {"last": 500} | bad)
        assert refused.status_code == 400, bad
        assert any(message in error for error in refused.context["form"].errors[field]), refused.context["form"].errors


def test_the_reports_are_only_for_the_sites_moderators(client, site):
    outsider = User.objects.create_user("eve", password="pw", is_staff=True)
    outsider.groups.add(Group.objects.get(name="moderators"))  # a moderator, of no site
    client.force_login(outsider)
    assert client.get(f"/admin/comments/site/{site.pk}/shadow-report/").status_code == 403
    assert client.get(f"/admin/comments/site/{site.pk}/what-if/").status_code == 403
    assert client.get("/admin/comments/site/999999/what-if/").status_code == 404


def test_the_queue_filters_the_published_comments_moderato_would_have_kept_off(client, shadowed, thread, moderator):
    made = known_actions(thread, moderator)
    client.force_login(moderator)
    listed = client.get("/admin/comments/comment/", {"shadow": "kept_off", "status__exact": "published"})
    assert {c.pk for c in listed.context["cl"].result_list} == {
        made["approved_toxic"].pk,
        made["flipped_toxic"].pk,
        made["untouched_toxic"].pk,
    }
    would_publish = client.get("/admin/comments/comment/", {"shadow": "published"}).context["cl"].result_list
    assert {c.pk for c in would_publish} == {made[n].pk for n in ("missed", "kept_clean", "untouched_clean")}


def test_the_queue_and_the_comment_page_say_what_moderato_would_have_done(client, shadowed, thread, moderator):
    made = known_actions(thread, moderator)
    client.force_login(moderator)
    queue = client.get("/admin/comments/comment/").content.decode()
    # The four toxic comments: three still published, one a moderator rejected (not as Moderato would have: held).
    assert queue.count("Shadow mode: Moderato would have held it:") == 4
    page = client.get(f"/admin/comments/comment/{made['untouched_toxic'].pk}/change/").content.decode()
    assert "Shadow mode: Moderato would have held it:" in page and "Held: TOXICITY" in page
    page = client.get(f"/admin/comments/comment/{made['untouched_clean'].pk}/change/").content.decode()
    assert "Shadow mode" not in page  # published, as Moderato would have
