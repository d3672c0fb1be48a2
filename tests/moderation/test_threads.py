"""One thread's controls: pre-moderated, closed, its own thresholds; in the pipeline, as a service, in the admin."""

import logging
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from comments.models import Comment, Site, Thread
from moderation import services, threads
from moderation.models import CommenterFlag, ThreadPolicy
from moderation.threads import ThreadControl
from tests.conftest import moderate_every_site

CLEAN = "Thanks for the article, I learned a lot about the new bridge."
THREADS = "/admin/comments/thread/"
QUEUE = "/admin/comments/comment/"


@pytest.fixture
def thread(site):
    return Thread.objects.create(site=site, key="/news/trial")


@pytest.fixture
def other(site):
    return Thread.objects.create(site=site, key="/news/weather")


@pytest.fixture
def alice(db):
    """A moderator of every site."""
    user = User.objects.create_user("alice", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="moderators"))
    return moderate_every_site(user)


def pending(thread, body=CLEAN, **fields):
    return Comment.objects.create(thread=thread, body=body, **({"author_name": "Bob", "commenter": "c0b"} | fields))


# In the pipeline ----------------------------------------------------------------------------------


def test_a_premoderated_thread_holds_a_clean_comment_that_the_thread_next_door_publishes(thread, other, alice):
    threads.thread_control(thread=thread, actor=alice, control=ThreadControl.PREMODERATE)
    held, published = pending(thread), pending(other)

    assert services.comment_score(comment_id=held.pk) == "held"
    assert services.comment_score(comment_id=published.pk) == "published"
    held.refresh_from_db()
    assert [reason["code"] for reason in held.reasons] == ["thread_premoderation"]
    assert "thread is pre-moderated" in held.reasons[0]["detail"]


def test_a_premoderated_thread_holds_a_trusted_commenters_comment_too(site, thread, alice):
    CommenterFlag.objects.create(site=site, identity="commenter:c0b", kind=CommenterFlag.Kind.TRUSTED)
    site.policy.hold_all = True  # the site's pre-moderation a trusted commenter skips; the thread's, not
    site.policy.save()
    threads.thread_control(thread=thread, actor=alice, control=ThreadControl.PREMODERATE)
    comment = pending(thread)

    assert services.comment_score(comment_id=comment.pk) == "held"
    comment.refresh_from_db()
    assert [reason["code"] for reason in comment.reasons] == ["thread_premoderation"]


def test_the_batch_path_reads_each_threads_policy_with_the_thread(thread, other):
    ThreadPolicy.objects.create(thread=thread, hold_all=True)
    ThreadPolicy.objects.create(thread=other, thresholds={"TOXICITY": 0.0})  # every score is at or above 0
    third = Thread.objects.create(site=thread.site, key="/news/sport")
    comments = [pending(thread), pending(other, CLEAN + " Again."), pending(third, CLEAN + " Once more.")]

    batch = services.pending_comments_score_batch()

    assert [batch.outcomes[comment.pk] for comment in comments] == ["held", "held", "published"]
    reasons = Comment.objects.get(pk=comments[1].pk).reasons
    assert [(reason["code"], reason["attribute"], reason["threshold"]) for reason in reasons] == [
        ("hold_threshold", "TOXICITY", 0.0)
    ]
    assert "the thread's publish threshold 0.00" in reasons[0]["detail"]


def test_a_threads_stricter_threshold_holds_what_its_site_publishes_and_a_rescore_keeps_it_held(thread):
    comment = pending(thread)
    assert services.comment_score(comment_id=comment.pk) == "published"
    comment.refresh_from_db()
    score = comment.scores["TOXICITY"]
    ThreadPolicy.objects.create(thread=thread, thresholds={"TOXICITY": round(score / 2, 6)})
    again = pending(thread, CLEAN, commenter="c0c")  # (another commenter: the same text is no duplicate)

    assert services.comment_score(comment_id=again.pk) == "held"
    again.refresh_from_db()
    assert [reason["code"] for reason in again.reasons] == ["hold_threshold"]
    result = services.held_comments_rescore(comment_ids=[again.pk])
    assert result.decided == {again.pk: "held"}


def test_a_row_written_with_bad_thresholds_is_ignored_with_an_error_logged(thread, caplog):
    ThreadPolicy.objects.create(thread=thread, thresholds={"TOXICITY": "high"})
    comment = pending(thread)

    with caplog.at_level(logging.ERROR, logger="moderation.threads"):
        assert services.comment_score(comment_id=comment.pk) == "published"
    assert "unreadable thresholds" in caplog.text


def test_an_authors_edit_in_a_premoderated_thread_is_held(thread, alice):
    from comments.models import CommentEdit

    comment = pending(thread)
    services.comment_score(comment_id=comment.pk)
    threads.thread_control(thread=thread, actor=alice, control=ThreadControl.PREMODERATE)
    edit = CommentEdit.objects.create(comment=comment, body=CLEAN + " (edited)")

    assert services.comment_edit_score(edit_id=edit.pk) == "held"


def test_the_what_if_replay_keeps_a_threads_own_thresholds_in_force(site, thread, other):
    from moderation import shadow
    from moderation.policy import Threshold

    ThreadPolicy.objects.create(thread=thread, thresholds={"TOXICITY": 0.0})
    strict, usual = pending(thread), pending(other, CLEAN + " Again.")
    for comment in (strict, usual):
        services.comment_score(comment_id=comment.pk)

    replay = shadow.what_if(site=site, overrides={"TOXICITY": Threshold(publish=0.9)})
    assert (replay.decisions[strict.pk], replay.decisions[usual.pk]) == (("held", "held"), ("published", "published"))


# As a service ---------------------------------------------------------------------------------------


def test_controls_say_whether_they_changed_the_thread(thread, alice):
    assert threads.thread_control(thread=thread, actor=alice, control=ThreadControl.PREMODERATE)
    assert not threads.thread_control(thread=thread, actor=alice, control=ThreadControl.PREMODERATE)
    assert threads.thread_control(thread=thread, actor=alice, control=ThreadControl.STOP_PREMODERATING)
    assert threads.thread_control(thread=thread, actor=alice, control=ThreadControl.CLOSE)
    assert not threads.thread_control(thread=thread, actor=alice, control=ThreadControl.CLOSE)
    thread.refresh_from_db()
    assert not thread.is_open and not ThreadPolicy.objects.get(thread=thread).hold_all
    assert threads.thread_control(thread=thread, actor=alice, control=ThreadControl.REOPEN)
    assert not threads.thread_control(thread=thread, actor=alice, control=ThreadControl.REOPEN)
    thread.refresh_from_db()
    assert thread.is_open and thread.auto_close


def test_only_a_moderator_of_the_threads_site_controls_it(thread):
    bob = User.objects.create_user("bob", is_staff=True)
    with pytest.raises(PermissionDenied):
        threads.thread_control(thread=thread, actor=bob, control=ThreadControl.CLOSE)
    carol = User.objects.create_user("carol", is_staff=True)
    carol.groups.add(Group.objects.get(name="moderators"))
    elsewhere = Site.objects.create(name="Gazette", public_key="gazette")
    elsewhere.policy.moderators.add(carol)
    with pytest.raises(PermissionDenied):
        threads.thread_control(thread=thread, actor=carol, control=ThreadControl.PREMODERATE)
    thread.refresh_from_db()
    assert thread.is_open and not ThreadPolicy.objects.exists()


def test_reopening_a_thread_the_site_closed_by_age_stops_it_closing_by_age(site, alice):
    site.close_after_days = 7
    site.save()
    old = Thread.objects.create(site=site, key="/news/old", created_at=timezone.now() - timedelta(days=8))
    young = Thread.objects.create(site=site, key="/news/young", created_at=timezone.now() - timedelta(days=1))
    assert not old.takes_comments(site, timezone.now())

    assert threads.thread_control(thread=old, actor=alice, control=ThreadControl.REOPEN)
    old.refresh_from_db()
    assert old.takes_comments(site, timezone.now()) and not old.auto_close
    # A young thread closed by hand and reopened still closes at its time.
    threads.thread_control(thread=young, actor=alice, control=ThreadControl.CLOSE)
    threads.thread_control(thread=young, actor=alice, control=ThreadControl.REOPEN)
    young.refresh_from_db()
    assert young.auto_close and young.closes_at(site) == young.created_at + timedelta(days=7)


def test_a_threads_state_in_words(site, thread, alice):
    site.close_after_days = 30
    site.save()
    assert threads.thread_state(thread=thread, site=site).labels == []
    ThreadPolicy.objects.create(thread=thread, hold_all=True, thresholds={"TOXICITY": 0.1, "SPAM": 0.5})
    threads.thread_control(thread=thread, actor=alice, control=ThreadControl.CLOSE)
    thread = Thread.objects.select_related("policy").get(pk=thread.pk)

    state = threads.thread_state(thread=thread, site=site)
    assert state.labels == ["closed", "pre-moderated", "holds at SPAM 0.5, TOXICITY 0.1"]
    assert state.closes_at == thread.created_at + timedelta(days=30)


# In the admin ---------------------------------------------------------------------------------------


def test_the_queue_shows_each_rows_thread_state_with_a_link_to_its_controls(client, alice, thread, other):
    ThreadPolicy.objects.create(thread=thread, hold_all=True)
    Thread.objects.filter(pk=thread.pk).update(is_open=False)
    pending(thread, status="held", decided_at=timezone.now())
    pending(other, "Rain again.", status="held", decided_at=timezone.now())
    client.force_login(alice)

    page = client.get(QUEUE).content.decode()

    assert f'href="/admin/comments/thread/{thread.pk}/change/" title="thread controls">/news/trial</a>' in page
    assert page.count('class="moderato-thread-state">closed</span>') == 1
    assert page.count('class="moderato-thread-state">pre-moderated</span>') == 1


def test_from_the_queue_a_moderator_premoderates_closes_and_reopens_the_threads_of_the_selected_comments(
    client, alice, thread, other
):
    first = pending(thread, status="held", decided_at=timezone.now())
    second = pending(thread, "Another.", status="held", decided_at=timezone.now())
    untouched = pending(other, "Rain again.", status="held", decided_at=timezone.now())
    client.force_login(alice)

    def act(control, *comments):
        return client.post(
            QUEUE,
            {"action": f"thread_{control}_of_comments", "_selected_action": [c.pk for c in comments]},
            follow=True,
        )

    answer = act("premoderate", first, second)
    assert "Pre-moderate thread: 1 thread(s) changed." in answer.content.decode()
    assert ThreadPolicy.objects.get(thread=thread).hold_all and not ThreadPolicy.objects.filter(thread=other).exists()
    act("close", first)
    thread.refresh_from_db()
    other.refresh_from_db()
    assert not thread.is_open and other.is_open
    act("reopen", second)
    thread.refresh_from_db()
    assert thread.is_open
    history = LogEntry.objects.filter(object_id=str(thread.pk)).order_by("pk")
    assert [entry.change_message for entry in history] == ["Pre-moderate thread", "Close thread", "Reopen thread"]
    assert all(entry.user == alice for entry in history)
    untouched.refresh_from_db()
    assert untouched.status == "held"  # the comments stay as they were


def test_a_staff_member_who_is_not_a_moderator_gets_no_thread_controls(client, thread):
    bob = User.objects.create_user("bob", password="pw", is_staff=True)
    bob.user_permissions.add(*Permission.objects.filter(codename__in=["view_comment", "view_thread"]))
    comment = pending(thread, status="held", decided_at=timezone.now())
    client.force_login(bob)

    client.post(QUEUE, {"action": "thread_close_of_comments", "_selected_action": [comment.pk]})
    client.post(THREADS, {"action": "thread_close", "_selected_action": [thread.pk]})

    thread.refresh_from_db()
    assert thread.is_open


def test_the_thread_list_shows_each_threads_state_and_its_actions_close_and_premoderate(client, alice, site, thread):
    site.close_after_days = 7
    site.save()
    Thread.objects.create(site=site, key="/news/old", created_at=timezone.now() - timedelta(days=8))
    client.force_login(alice)

    page = client.get(THREADS).content.decode()
    assert page.count('class="moderato-thread-state">closed</span>') == 1  # the old one, by age
    assert f'class="moderato-thread-state">closes {(thread.created_at + timedelta(days=7)):%Y-%m-%d}' in page

    client.post(THREADS, {"action": "thread_premoderate", "_selected_action": [thread.pk]})
    client.post(THREADS, {"action": "thread_close", "_selected_action": [thread.pk]})
    thread.refresh_from_db()
    assert not thread.is_open and ThreadPolicy.objects.get(thread=thread).hold_all
    assert client.get(THREADS).content.decode().count('class="moderato-thread-state">closed</span>') == 2


def thread_form(thread, **policy):
    return {
        "site": thread.site_id,
        "key": thread.key,
        "title": "The trial",
        "is_open": "on",
        "auto_close": "on",
        "policy-TOTAL_FORMS": "1",
        "policy-INITIAL_FORMS": "0",
        "policy-MIN_NUM_FORMS": "0",
        "policy-MAX_NUM_FORMS": "1",
        "initial-policy-0-thresholds": "{}",  # (the browser sends a callable default's initial value back)
    } | {f"policy-0-{name}": value for name, value in policy.items()}


def test_on_the_threads_page_an_administrator_sets_its_own_thresholds_which_are_checked(admin_client, thread):
    url = f"{THREADS}{thread.pk}/change/"
    assert "thread moderation" in admin_client.get(url).content.decode().lower()

    for bad, message in [
        ('{"FLIRTATION": 0.1}', "FLIRTATION is not scored by the active models"),
        ('{"TOXICITY": 1.5}', "must be a number from 0 to 1"),
        ('{"toxicity": 0.1}', "capitals"),
    ]:
        refused = admin_client.post(url, thread_form(thread, thresholds=bad))
        assert refused.status_code == 200 and message in refused.content.decode(), bad
    assert not ThreadPolicy.objects.exists()

    saved = admin_client.post(url, thread_form(thread, thresholds='{"TOXICITY": 0.05}', hold_all="on"))
    assert saved.status_code == 302
    own = ThreadPolicy.objects.get(thread=thread)
    assert (own.hold_all, own.thresholds) == (True, {"TOXICITY": 0.05})
    page = admin_client.get(url).content.decode()
    assert "TOXICITY: hold at 0.05 (this thread" in page and "SPAM: hold at 0.754, reject at 0.944 (the site" in page


def test_a_thread_saved_without_touching_its_moderation_gets_no_row(admin_client, thread):
    answer = admin_client.post(f"{THREADS}{thread.pk}/change/", thread_form(thread, thresholds="{}"))
    assert answer.status_code == 302
    thread.refresh_from_db()
    assert thread.title == "The trial" and not ThreadPolicy.objects.exists()


def test_the_site_page_sets_the_days_after_which_threads_close(admin_client, site):
    page = admin_client.get(f"/admin/comments/site/{site.pk}/change/").content.decode()
    assert 'name="close_after_days"' in page


def test_an_administrator_adds_a_thread_ahead_of_its_article(admin_client, site):
    assert admin_client.get(f"{THREADS}add/").status_code == 200
    form = thread_form(Thread(site=site, key="/news/tomorrow"), thresholds="{}")
    assert admin_client.post(f"{THREADS}add/", form).status_code == 302
    assert Thread.objects.get(key="/news/tomorrow").auto_close and not ThreadPolicy.objects.exists()
    # Emptied by hand, the thresholds are none (not a null the column cannot hold).
    thread = Thread.objects.get(key="/news/tomorrow")
    answer = admin_client.post(f"{THREADS}{thread.pk}/change/", thread_form(thread, thresholds="", hold_all="on"))
    assert answer.status_code == 302
    assert ThreadPolicy.objects.get(thread=thread).thresholds == {}
