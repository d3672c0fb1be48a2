from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from comments.models import Comment, Thread
from moderation import commenters, services
from tests.conftest import moderate_every_site

CLEAN = "Thanks for the article, I learned a lot about the new bridge."
TOXIC = "You are a worthless idiot and a disgusting piece of trash, shut up"
SPAM = "Earn $5000 a week from home!!! Click http://bit.ly/xyz and DM me on WhatsApp +1 555 0100 now"


@pytest.fixture
def thread(site):
    return Thread.objects.create(site=site, key="/news/bridge")


def pending(thread, body=CLEAN, **fields):
    return Comment.objects.create(thread=thread, body=body, **({"author_name": "Alice"} | fields))


@pytest.mark.parametrize(("body", "outcome"), [(CLEAN, "published"), (TOXIC, "held"), (SPAM, "rejected")])
def test_it_scores_with_the_shipped_models_and_decides(thread, body, outcome):
    comment = pending(thread, body)
    assert services.comment_score(comment_id=comment.pk) == outcome
    comment.refresh_from_db()
    assert comment.status == outcome
    assert set(comment.scores) >= {"TOXICITY", "SPAM"}
    assert all(0 <= value <= 1 for value in comment.scores.values())
    assert comment.model_versions["TOXICITY"].startswith("toxicity-")
    assert comment.model_versions["SPAM"].startswith("spam-")
    assert comment.decided_at is not None and comment.scoring_attempts == 1
    if outcome != "published":
        assert comment.reasons and comment.reasons[0]["code"].endswith("_threshold")


@pytest.mark.parametrize(
    ("body", "language", "script"),
    [
        (CLEAN, "en", "Latn"),
        ("Хвала на чланку, веома информативно и добро написано.", "sr", "Cyrl"),
        ("Благодаря за статията, беше много информативна.", "bg", "Cyrl"),
        ("Faleminderit për artikullin, shumë informues.", "sq", "Latn"),
        ("👍👍", "", ""),
    ],
)
def test_it_stores_the_language_and_script_it_detected(thread, body, language, script):
    comment = pending(thread, body)
    services.comment_score(comment_id=comment.pk)
    comment.refresh_from_db()
    assert (comment.language, comment.script) == (language, script)


def test_it_gives_the_policy_the_language(thread, monkeypatch):
    seen = []
    decide = services.policy.decide
    monkeypatch.setattr(services.policy, "decide", lambda **kwargs: seen.append(kwargs["facts"]) or decide(**kwargs))
    services.comment_score(comment_id=pending(thread, "Das ist ein guter Artikel über die neue Brücke.").pk)
    assert seen[0].language == "de"


def test_it_changes_nothing_when_run_twice(thread):
    comment = pending(thread)
    services.comment_score(comment_id=comment.pk)
    decided = Comment.objects.get(pk=comment.pk)
    assert services.comment_score(comment_id=comment.pk) == "skipped"
    again = Comment.objects.get(pk=comment.pk)
    assert (again.status, again.decided_at, again.scoring_attempts) == (decided.status, decided.decided_at, 1)


def test_it_never_overrides_a_moderator_who_acted_first(thread):
    comment = pending(thread, TOXIC)
    Comment.objects.filter(pk=comment.pk).update(status="published", decided_at=timezone.now())
    assert services.comment_score(comment_id=comment.pk) == "skipped"
    comment.refresh_from_db()
    assert comment.status == "published" and comment.scores == {}


def test_it_holds_everything_on_a_premoderated_site(thread):
    thread.site.policy.hold_all = True
    thread.site.policy.save()
    comment = pending(thread)
    assert services.comment_score(comment_id=comment.pk) == "held"
    comment.refresh_from_db()
    assert comment.reasons[0]["code"] == "premoderation"


def test_it_uses_the_site_thresholds(thread):
    thread.site.policy.thresholds = {"TOXICITY": {"publish": 0.0, "reject": None}}
    thread.site.policy.save()
    comment = pending(thread)
    assert services.comment_score(comment_id=comment.pk) == "held"


def test_it_holds_without_scoring_once_the_attempts_are_used_up(thread, settings):
    comment = pending(thread, scoring_attempts=settings.MODERATO_MAX_SCORING_ATTEMPTS)
    assert services.comment_score(comment_id=comment.pk) == "held"
    comment.refresh_from_db()
    assert comment.scores == {}
    assert comment.reasons == [{"code": "scoring_failed", "detail": "Scoring failed 3 times; held for a moderator."}]


def test_it_claims_only_comments_pending_too_long(thread):
    now = timezone.now()
    old = pending(thread)
    fresh = pending(thread)
    requeued = pending(thread, requeued_at=now - timedelta(seconds=5))
    decided = pending(thread, status="published", decided_at=now)
    Comment.objects.filter(pk__in=[old.pk, requeued.pk, decided.pk]).update(created_at=now - timedelta(minutes=5))
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == [old.pk]
    assert fresh.pk not in services.pending_comments_claim_stale(older_than=timedelta(seconds=30))
    assert Comment.objects.get(pk=old.pk).requeued_at is not None
    # Claimed just now: not again until another 30 seconds have passed.
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == []


@pytest.mark.parametrize(("requeues", "wait"), [(0, 30), (1, 60), (2, 120), (3, 240), (6, 1920), (20, 1920)])
def test_each_requeue_of_a_comment_waits_twice_as_long(thread, requeues, wait):
    """A backlog that takes minutes to drain is not queued again every sweep."""
    now = timezone.now()
    comment = pending(thread)
    Comment.objects.filter(pk=comment.pk).update(
        created_at=now - timedelta(hours=2), requeues=requeues, requeued_at=now - timedelta(seconds=wait - 2)
    )
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == []
    Comment.objects.filter(pk=comment.pk).update(requeued_at=now - timedelta(seconds=wait + 2))
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == [comment.pk]
    assert Comment.objects.get(pk=comment.pk).requeues == requeues + 1


ALICE = "worker1@alice"


def beat(*, pids, starting=False):
    """Alice's worker writes its heartbeat, naming these processes (its main process, then its pool)."""
    from moderation import health

    health.worker_heartbeat_record(hostname=ALICE, starting=starting, pids=pids)


def claimed_by_alice(thread, pid):
    """A fresh comment that a drain in Alice's process ``pid`` claimed just now."""
    comment = pending(thread)
    holder = services.Holder(hostname=ALICE, pid=pid)
    assert services.pending_comments_claim_fresh(limit=10, max_chars=10_000, holder=holder) == [comment.pk]
    return comment


@pytest.mark.parametrize(
    "death",
    [
        "pool-child-killed-and-replaced",
        "worker-killed-and-started-again",
        "worker-stopped-beating",
        "worker-row-gone",
    ],
)
def test_the_sweep_requeues_at_once_a_comment_held_by_a_process_that_is_gone(thread, death):
    """Its batch died with the process: no waiting for the comment to be 30 s old, nor for any back-off."""
    from moderation.models import WorkerHeartbeat

    beat(pids=[100, 101, 102], starting=True)
    comment = claimed_by_alice(thread, pid=101)
    if death == "pool-child-killed-and-replaced":
        beat(pids=[100, 102, 103])
    elif death == "worker-killed-and-started-again":
        beat(pids=[200, 201, 202], starting=True)
    elif death == "worker-stopped-beating":
        WorkerHeartbeat.objects.update(seen_at=timezone.now() - timedelta(minutes=2))
    else:
        WorkerHeartbeat.objects.all().delete()
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == [comment.pk]
    comment.refresh_from_db()
    assert (comment.requeues, comment.claimed_by, comment.claimed_pid, comment.claimed_at) == (1, "", None, None)
    # Queued again and held by nobody yet: the back-off as ever (30 s, then 60 ...).
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == []


def test_the_sweep_leaves_a_comment_held_by_a_live_process_alone_until_its_back_off(thread):
    now = timezone.now()
    beat(pids=[100, 101, 102], starting=True)
    comment = claimed_by_alice(thread, pid=101)
    Comment.objects.filter(pk=comment.pk).update(created_at=now - timedelta(minutes=5))
    beat(pids=[100, 101, 102])
    # Five minutes old, but taken just now by a process that is alive: its worker is at it.
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == []
    # Held that long by a live process: it dropped the task (its retries ran out), so the back-off applies.
    Comment.objects.filter(pk=comment.pk).update(claimed_at=now - timedelta(seconds=31))
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == [comment.pk]


def test_a_process_started_after_the_last_beat_is_taken_for_alive(thread):
    """A pool child that replaced a killed one claims before its worker's next beat names it."""
    beat(pids=[100, 101], starting=True)
    comment = claimed_by_alice(thread, pid=105)
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == []
    beat(pids=[100, 105])
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == []
    beat(pids=[100, 106])  # killed in turn
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == [comment.pk]


def test_a_scoring_message_taken_by_a_worker_makes_its_main_process_the_holder(thread):
    """Taken from the broker, to run when a pool process is free: killed before that, the worker takes
    the message with it (until the broker's visibility timeout), and the sweep re-queues the comment."""
    beat(pids=[100, 101], starting=True)
    comment = pending(thread, scoring_attempts=1, requeues=1, requeued_at=timezone.now())
    services.comment_hold(comment_id=comment.pk, holder=services.Holder(hostname=ALICE, pid=100))
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == []
    beat(pids=[300, 301], starting=True)
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == [comment.pk]
    assert Comment.objects.get(pk=comment.pk).requeues == 2


def test_messages_dropped_with_a_lost_broker_connection_are_requeued_at_the_next_sweep(thread):
    """Redis restarted: the worker lives on, but Celery dropped the messages it held unstarted."""
    beat(pids=[100, 101], starting=True)
    taken, running = pending(thread, scoring_attempts=1), pending(thread, scoring_attempts=1)
    services.comment_hold(comment_id=taken.pk, holder=services.Holder(hostname=ALICE, pid=100))
    services.comment_claim(comment_id=running.pk, holder=services.Holder(hostname=ALICE, pid=101))
    assert services.comments_holds_drop(holder=services.Holder(hostname=ALICE, pid=100)) == 1
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == [taken.pk]


def test_a_sweep_killed_before_sending_its_messages_leaves_them_to_the_next_sweep(thread):
    """The sweep holds what it marks re-queued until a worker takes the message: killed in between, it
    leaves those comments held by a dead process, not waiting out a back-off for a message never sent."""
    beat(pids=[100, 101], starting=True)
    comment = pending(thread, scoring_attempts=1)
    Comment.objects.filter(pk=comment.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    sweep = services.Holder(hostname=ALICE, pid=101)
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30), holder=sweep) == [comment.pk]
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == []  # the sweep lives
    beat(pids=[100, 102])  # its pool process was killed and replaced
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == [comment.pk]


def test_a_claim_records_its_holder_and_a_decided_comment_is_never_requeued(thread):
    beat(pids=[100, 101], starting=True)
    comment = pending(thread)
    assert services.comment_score(comment_id=comment.pk, holder=services.Holder(hostname=ALICE, pid=101))
    comment.refresh_from_db()
    assert (comment.status, comment.claimed_by, comment.claimed_pid) == ("published", ALICE, 101)
    beat(pids=[200, 201], starting=True)
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=0)) == []


def test_a_moderator_decision_wins_over_a_late_scoring_task(thread):
    from django.contrib.auth.models import Group, User

    from moderation.models import ModerationAction

    alice = User.objects.create_user("alice")
    alice.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(alice)
    comment = pending(thread, TOXIC)
    decision = services.comment_moderate(comment_id=comment.pk, actor=alice, action=ModerationAction.NOT_TOXIC)
    assert (decision.from_status, decision.to_status) == ("pending", "published")
    assert services.comment_score(comment_id=comment.pk) == "skipped"
    comment.refresh_from_db()
    assert comment.status == "published"


def test_a_moderator_who_decides_while_the_task_is_scoring_wins(thread, monkeypatch):
    """The race itself: the task has claimed the comment and computed its scores when the moderator
    decides; the task's write is conditional on the comment still being pending, so it writes nothing
    (and notifies nothing) instead of overwriting the moderator's decision."""
    from django.contrib.auth.models import Group, User

    from moderation.models import ModerationAction, Notification

    alice = User.objects.create_user("alice")
    alice.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(alice)
    thread.site.policy.webhook_url = "https://hooks.example/x"
    thread.site.policy.save()
    comment = pending(thread, TOXIC)
    evaluate = services.comment_evaluate

    def evaluate_then_the_moderator_acts(**kwargs):
        evaluation = evaluate(**kwargs)  # the task has its scores: "held" ...
        services.comment_moderate(comment_id=comment.pk, actor=alice, action=ModerationAction.NOT_TOXIC)
        return evaluation

    monkeypatch.setattr(services, "comment_evaluate", evaluate_then_the_moderator_acts)
    assert services.comment_score(comment_id=comment.pk) == "skipped"
    comment.refresh_from_db()
    assert comment.status == "published" and comment.scores == {} and comment.reasons == []
    assert list(Notification.objects.values_list("event", flat=True)) == ["comment.published"]


def test_it_refuses_a_decision_from_a_non_moderator(thread):
    from django.contrib.auth.models import User
    from django.core.exceptions import PermissionDenied

    from moderation.models import ModerationAction

    comment = pending(thread)
    with pytest.raises(PermissionDenied):
        services.comment_moderate(
            comment_id=comment.pk, actor=User.objects.create_user("bob"), action=ModerationAction.APPROVE
        )
    assert Comment.objects.get(pk=comment.pk).status == "pending"


def decide_new(thread, body=CLEAN, **fields):
    comment = pending(thread, body, **fields)
    services.comment_score(comment_id=comment.pk)
    comment.refresh_from_db()
    return comment


def test_it_holds_a_first_comment_then_publishes_the_next_once_one_is_published(thread):
    thread.site.policy.hold_first_comment = True
    thread.site.policy.save()
    first = decide_new(thread, author_email="Carol@Example.org", ip_hash="h0", commenter="carol-token-id")
    assert (first.status, first.reasons[0]["code"]) == ("held", "first_comment")
    Comment.objects.filter(pk=first.pk).update(status="published")
    # The same signed token, or the same address with the same e-mail address: the same commenter.
    assert decide_new(thread, CLEAN + " Again.", author_email="x@example.org", commenter="carol-token-id").status == (
        "published"
    )
    again = decide_new(thread, CLEAN + " Thanks again.", author_email="carol@example.org", ip_hash="h0")
    assert again.status == "published", again.reasons
    # Anyone can type Carol's address: from another address and without her token, a first comment.
    assert decide_new(thread, author_email="carol@example.org", ip_hash="h7").status == "held"
    # No e-mail: the commenter is the address hash plus the name.
    assert decide_new(thread, ip_hash="h1", author_name="Dan").status == "held"


def test_it_holds_a_comment_sent_seconds_after_the_form_opened(thread):
    assert [r["code"] for r in decide_new(thread, form_seconds=1.5).reasons] == ["too_fast"]
    assert decide_new(thread, form_seconds=25.0).status == "published"
    assert decide_new(thread).status == "published"  # no form token: an API client
    thread.site.policy.hold_without_form_token = True
    thread.site.policy.save()
    assert [r["code"] for r in decide_new(thread).reasons] == ["no_form_token"]


def test_trust_follows_the_signed_commenter_token_not_the_name_or_address_typed(thread, api):
    from django.contrib.auth.models import User

    thread.site.policy.hold_all = True
    thread.site.policy.save()
    from django.contrib.auth.models import Group

    moderator = moderate_every_site(User.objects.create_user("alice", is_staff=True))
    moderator.groups.add(Group.objects.get(name="moderators"))
    vip = {"site": thread.site.public_key, "thread": thread.key, "name": "Vera", "email": "vera@example.org"}
    first = api.post("/api/v1/comments", vip | {"comment": "First."}, format="json").json()
    services.comment_score(comment_id=first["id"])
    commenters.commenter_flag(comment_id=first["id"], actor=moderator, kind="trusted")

    def decided(**fields):
        accepted = api.post("/api/v1/comments", vip | fields, format="json", REMOTE_ADDR="203.0.113.50").json()
        services.comment_score(comment_id=accepted["id"])
        return Comment.objects.get(pk=accepted["id"]).status

    assert decided(comment="With her token.", commenter_token=first["commenter_token"]) == "published"
    # Someone else typing Vera's name and address, from elsewhere, without her token.
    assert decided(comment="Pretending to be Vera.") == "held"


def test_it_holds_comments_with_too_many_links(thread):
    thread.site.policy.hold_links_at = 2
    thread.site.policy.save()
    held = decide_new(thread, "Useful: https://a.example/1 and https://b.example/2")
    assert [r["code"] for r in held.reasons] == ["links"]
    assert decide_new(thread, "Source: https://a.example/1").status == "published"


def test_it_holds_blocked_words_but_not_inside_allowed_words(thread):
    thread.site.policy.blocked_words = "bridge troll"
    thread.site.policy.allowed_words = "scunthorpe"
    thread.site.policy.save()
    held = decide_new(thread, "Only a Bridge Troll would say that.")
    assert held.status == "held"
    assert {"code": "blocked_words", "detail": "Blocked words: bridge troll."} in held.reasons
    # The allowed word keeps the rule quiet; the model's own score of the sentence is another matter.
    assert "blocked_words" not in [
        reason["code"] for reason in decide_new(thread, "Scunthorpe has a bridge too.").reasons
    ]


def test_it_rejects_blocked_commenters_and_email_domains(thread):
    from moderation.models import CommenterFlag

    CommenterFlag.objects.create(site=thread.site, identity="ip:abc", kind="blocked")
    assert decide_new(thread, ip_hash="abc", author_name="Anyone").status == "rejected"
    thread.site.policy.blocked_email_domains = "spam.example"
    thread.site.policy.save()
    rejected = decide_new(thread, author_email="x@SPAM.example")
    assert rejected.reasons[0]["code"] == "blocked_commenter"


def test_a_trusted_commenter_skips_pre_moderation(thread):
    from moderation.models import CommenterFlag

    thread.site.policy.hold_all = True
    thread.site.policy.save()
    CommenterFlag.objects.create(site=thread.site, identity="commenter:vip-token-id", kind="trusted")
    CommenterFlag.objects.create(site=thread.site, identity="ip:h5:vera", kind="trusted")
    assert decide_new(thread, commenter="vip-token-id").status == "published"
    assert decide_new(thread, ip_hash="h5", author_name="Vera").status == "published"
    assert decide_new(thread, ip_hash="h5", author_name="Someone Else").status == "held"
    assert decide_new(thread, author_email="other@example.org").status == "held"


def test_trust_by_e_mail_address_alone_skips_nothing(thread):
    from moderation.models import CommenterFlag

    thread.site.policy.hold_all = True
    thread.site.policy.save()
    # A flag from before trust needed an unforgeable identity: typing the address no longer helps.
    CommenterFlag.objects.create(site=thread.site, identity="email:vip@example.org", kind="trusted")
    held = decide_new(thread, author_email="VIP@example.org")
    assert [reason["code"] for reason in held.reasons] == ["premoderation"]
    with pytest.raises(ValidationError, match="e-mail address can only block"):
        CommenterFlag(site=thread.site, identity="email:vip@example.org", kind="trusted").full_clean()


def test_a_held_comment_is_decided_first_and_its_spans_explained_after(thread, django_capture_on_commit_callbacks):
    from moderation import explaining

    body = "Honestly, you are a worthless 1d10t."
    comment = pending(thread, body)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.comment_score(comment_id=comment.pk) == "held"
    assert "comment_explain_task.delay" in [
        callback.__qualname__.rsplit(".", 2)[-2] + ".delay" for callback in callbacks
    ]
    comment.refresh_from_db()
    assert all("spans" not in reason for reason in comment.reasons)  # not on the decision's path

    assert explaining.comment_explain(comment_id=comment.pk)
    comment.refresh_from_db()
    [reason] = [r for r in comment.reasons if r.get("attribute") == "TOXICITY"]
    assert reason["spans"], reason
    texts = [body[span["begin"] : span["end"]] for span in reason["spans"]]
    assert texts == [span["text"] for span in reason["spans"]]
    assert any("1d10t" in text or "worthless" in text for text in texts)
    assert not explaining.comment_explain(comment_id=comment.pk)  # explained once


def test_a_late_explanation_never_overwrites_a_newer_decision(thread, monkeypatch):
    from moderation import explaining

    comment = decide_new(thread, "You are a worthless 1d10t.")
    newer = [{"code": "reader_reports", "detail": "3 reader reports put it back in the queue."}]
    real = explaining.get_scorer()

    class DecidedWhileExplaining:
        """The real scorer; while it explains, the comment is decided again (readers' reports)."""

        def explain(self, text, top=5):
            later = timezone.now() + timedelta(seconds=1)
            Comment.objects.filter(pk=comment.pk).update(decided_at=later, reasons=newer)
            return real.explain(text, top=top)

    monkeypatch.setattr(explaining, "get_scorer", DecidedWhileExplaining)
    assert not explaining.comment_explain(comment_id=comment.pk)
    assert Comment.objects.get(pk=comment.pk).reasons == newer


def test_a_moderator_limited_to_another_site_cannot_decide_flag_or_see(thread, api):
    from django.contrib.auth.models import Group, User
    from django.core.exceptions import PermissionDenied

    from comments.models import Site
    from moderation.models import CommenterFlag, ModerationAction

    carol = User.objects.create_user("carol")
    carol.groups.add(Group.objects.get(name="moderators"))
    Site.objects.create(name="Elsewhere", public_key="elsewhere").policy.moderators.add(carol)
    comment = decide_new(thread, TOXIC, author_email="t@example.org")
    with pytest.raises(PermissionDenied):
        services.comment_moderate(comment_id=comment.pk, actor=carol, action=ModerationAction.APPROVE)
    with pytest.raises(PermissionDenied):
        commenters.commenter_flag(comment_id=comment.pk, actor=carol, kind=CommenterFlag.Kind.BLOCKED, by="email")
    api.force_authenticate(carol)
    assert "moderation" not in api.get(f"/api/v1/comments/{comment.pk}").json()
    assert Comment.objects.get(pk=comment.pk).status == "held"


def test_a_comment_the_pipeline_publishes_appears_on_the_cached_thread_page(
    thread, api, django_capture_on_commit_callbacks
):
    query = {"site": thread.site.public_key, "thread": thread.key}
    assert api.get("/api/v1/comments", query).json()["total"] == 0  # cached, empty
    comment = pending(thread)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.comment_score(comment_id=comment.pk) == "published"
    assert [c["id"] for c in api.get("/api/v1/comments", query).json()["results"]] == [comment.pk]


# Batches ------------------------------------------------------------------------------------------


def batch_scenario(site, key):
    """Comments that exercise every fact the batch gathers in bulk: scores, links, words, duplicates,
    flags; returned in submission order."""
    from moderation.models import CommenterFlag

    site.policy.hold_links_at = 2
    site.policy.blocked_words = "bridge troll"
    site.policy.save()
    CommenterFlag.objects.create(site=site, identity="ip:bad", kind="blocked")
    CommenterFlag.objects.create(site=site, identity="commenter:vip", kind="trusted")
    thread = Thread.objects.create(site=site, key=key)
    other = Thread.objects.create(site=site, key=key + "/other")
    specs = [
        (thread, CLEAN, {"ip_hash": "h1"}),
        (thread, TOXIC, {}),
        (thread, SPAM, {}),
        (thread, "Useful: https://a.example/1 and https://b.example/2", {}),
        (thread, "Only a Bridge Troll would say that.", {}),
        (thread, CLEAN, {"ip_hash": "h1"}),  # the same text again from the same address: a duplicate
        (thread, CLEAN, {"ip_hash": "h2"}),  # from another address: not one
        (other, CLEAN, {"ip_hash": "h1"}),  # in another thread: not one
        (thread, CLEAN + " Signed.", {"commenter": "tok"}),
        (thread, CLEAN + " Signed.", {"commenter": "tok", "ip_hash": "h9"}),  # the same token: a duplicate
        (thread, CLEAN, {"ip_hash": "bad", "author_name": "Mallory"}),  # blocked
        (thread, "Honestly, you are a worthless 1d10t.", {"commenter": "vip"}),
        (thread, "Хвала на чланку, веома информативно и добро написано.", {}),
    ]
    return [pending(t, body, **fields) for t, body, fields in specs]


def decided_as(comment_ids):
    rows = Comment.objects.filter(pk__in=comment_ids).order_by("pk")
    return [
        (c.status, [r["code"] for r in c.reasons], c.language, c.scoring_attempts, c.model_versions) for c in rows
    ], [c.scores for c in rows]


def test_a_batch_decides_each_comment_as_the_single_path_would(site):
    from comments.models import Site

    batched = [c.pk for c in batch_scenario(site, "/batched")]
    batch = services.pending_comments_score_batch()
    assert sorted(batch.outcomes) == batched and batch.failed == []
    single = [c.pk for c in batch_scenario(Site.objects.create(name="Twin", public_key="twin"), "/single")]
    for comment_id in single:
        services.comment_score(comment_id=comment_id)
    (batch_rows, batch_scores), (single_rows, single_scores) = decided_as(batched), decided_as(single)
    assert batch_rows == single_rows
    assert [row[0] for row in batch_rows] == [batch.outcomes[pk] for pk in batched]
    assert {"duplicate"} <= set(batch_rows[5][1]) and {"duplicate"} <= set(batch_rows[9][1])
    assert "duplicate" not in batch_rows[6][1] + batch_rows[7][1] + batch_rows[0][1]
    assert batch_rows[10][0] == "rejected" and batch_rows[4][0] == "held"
    for ours, theirs in zip(batch_scores, single_scores, strict=True):
        assert ours.keys() == theirs.keys()
        assert all(abs(ours[name] - theirs[name]) < 1e-5 for name in ours)
    assert services.pending_comments_score_batch().claimed == 0  # nothing fresh is left


def test_a_batch_holds_first_comments_as_the_single_path_does(thread):
    thread.site.policy.hold_first_comment = True
    thread.site.policy.save()
    regular = pending(thread, ip_hash="h0", commenter="carol", status="published", decided_at=timezone.now())
    newcomer = pending(thread, CLEAN + " Hello.", ip_hash="h5", author_name="Dan")
    again = pending(thread, CLEAN + " Again.", commenter="carol")
    batch = services.pending_comments_score_batch()
    assert batch.outcomes == {newcomer.pk: "held", again.pk: "published"}
    assert Comment.objects.get(pk=newcomer.pk).reasons[0]["code"] == "first_comment"
    assert regular.pk not in batch.outcomes


def test_a_batch_makes_the_listings_it_changed_stale_in_one_round_trip_after_its_commit(
    thread, monkeypatch, django_capture_on_commit_callbacks
):
    from comments import selectors

    other = Thread.objects.create(site=thread.site, key="/news/dam")
    quiet = Thread.objects.create(site=thread.site, key="/news/quiet")
    threads = (thread, other, quiet)
    versions = {t.pk: selectors.listing_version(thread=t) for t in threads}
    pending(thread, CLEAN), pending(thread, CLEAN + " Again."), pending(other, CLEAN), pending(quiet, TOXIC)
    calls: list[set[int]] = []
    changed = services.thread_listings_changed

    def recorded(*, threads):
        calls.append({t.pk for t in threads})
        changed(threads=threads)

    monkeypatch.setattr(services, "thread_listings_changed", recorded)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.pending_comments_score_batch()
    assert calls == []  # not before the commit
    for callback in callbacks:
        callback()
    assert calls == [{thread.pk, other.pk}]  # the held comment's thread lists nothing new
    after = {t.pk: selectors.listing_version(thread=t) for t in threads}
    assert after[thread.pk] != versions[thread.pk] and after[other.pk] != versions[other.pk]
    assert after[quiet.pk] == versions[quiet.pk]


def test_the_claim_takes_only_fresh_pending_comments_within_its_bounds(thread, settings):
    now = timezone.now()
    fresh = [pending(thread, "x" * 100) for _ in range(5)]
    tried = pending(thread, scoring_attempts=1)  # the per-comment path (or a killed drain) has it
    decided = pending(thread, status="published", decided_at=now)
    assert services.pending_comments_claim_fresh(limit=2, max_chars=10_000) == [fresh[0].pk, fresh[1].pk]
    assert services.pending_comments_claim_fresh(limit=10, max_chars=250) == [fresh[2].pk, fresh[3].pk]
    # At least one comment, however long: a batch never stalls on a long text.
    assert services.pending_comments_claim_fresh(limit=10, max_chars=1) == [fresh[4].pk]
    assert services.pending_comments_claim_fresh(limit=10, max_chars=10_000) == []
    attempts = dict(Comment.objects.values_list("pk", "scoring_attempts"))
    assert [attempts[c.pk] for c in fresh] == [1] * 5
    assert (attempts[tried.pk], attempts[decided.pk]) == (1, 0)


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_never_get_the_same_comment(site):
    """On PostgreSQL both read the same candidates; the UPDATE's condition, checked again on each row
    it writes, gives each comment to one of them (SQLite: one writer at a time)."""
    import threading

    from django.db import connection

    thread = Thread.objects.create(site=site, key="/race")
    ids = [pending(thread, f"{CLEAN} {n}").pk for n in range(400)]
    claims: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def claimer(mine: list[int]) -> None:
        try:
            start.wait()
            while claimed := services.pending_comments_claim_fresh(limit=25, max_chars=1_000_000):
                mine.extend(claimed)
        finally:
            connection.close()

    workers = [threading.Thread(target=claimer, args=(mine,)) for mine in claims]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not set(claims[0]) & set(claims[1])
    assert sorted(claims[0] + claims[1]) == ids
    assert set(Comment.objects.filter(pk__in=ids).values_list("scoring_attempts", flat=True)) == {1}


def test_a_moderator_who_decides_during_a_batch_wins(thread, monkeypatch):
    """The batch has claimed and scored its comments when a moderator decides one of them: the batch's
    write for that one is conditional on it still being pending, so it writes nothing for it (and
    notifies nothing), and decides the others."""
    from django.contrib.auth.models import Group, User

    from moderation.models import ModerationAction, Notification

    alice = User.objects.create_user("alice")
    alice.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(alice)
    thread.site.policy.webhook_url = "https://hooks.example/x"
    thread.site.policy.save()
    before, contested, after = pending(thread, CLEAN), pending(thread, TOXIC), pending(thread, SPAM)
    evaluate = services.comments_evaluate

    def evaluate_then_the_moderator_acts(**kwargs):
        evaluations = evaluate(**kwargs)  # the batch has its scores: the contested one "held" ...
        services.comment_moderate(comment_id=contested.pk, actor=alice, action=ModerationAction.NOT_TOXIC)
        return evaluations

    monkeypatch.setattr(services, "comments_evaluate", evaluate_then_the_moderator_acts)
    batch = services.pending_comments_score_batch()
    assert batch.outcomes == {before.pk: "published", contested.pk: "skipped", after.pk: "rejected"}
    contested.refresh_from_db()
    assert contested.status == "published" and contested.scores == {} and contested.reasons == []
    events = Notification.objects.filter(comment=contested).values_list("event", flat=True)
    assert list(events) == ["comment.published"]
    assert Notification.objects.count() == 3


def test_a_comment_that_breaks_the_batch_fails_alone(thread, monkeypatch):
    """The models choke on one text: the batch is scored one by one instead, the others are decided,
    and that one stays pending with its attempt counted, for the per-comment task."""
    poison = "POISON " + CLEAN
    scorer = services.get_scorer()

    class Choking:
        versions, attributes = scorer.versions, scorer.attributes

        def score_many(self, texts):
            if poison in texts:
                raise ValueError("the models choke on this text")
            return scorer.score_many(texts)

        def score(self, text):
            return self.score_many([text])[0]

    monkeypatch.setattr(services, "get_scorer", Choking)
    first, bad, last = pending(thread, CLEAN), pending(thread, poison), pending(thread, TOXIC)
    batch = services.pending_comments_score_batch()
    assert batch.outcomes == {first.pk: "published", last.pk: "held"} and batch.failed == [bad.pk]
    bad.refresh_from_db()
    assert (bad.status, bad.scoring_attempts) == ("pending", 1)
