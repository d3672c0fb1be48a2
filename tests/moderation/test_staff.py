"""Replies as the site (moderation/staff.py): the service, then the admin's reply box that calls it."""

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from comments.models import Comment, Site, Thread
from moderation import notifications, services
from moderation.models import ModerationAction, ModerationDecision, Notification
from moderation.staff import REPLY_MAX_LENGTH, staff_reply_post
from tests.conftest import moderate_every_site
from tests.moderation.test_admin import QUEUE, make

URL = "/api/v1/comments"
ANSWER = "Thanks for spotting it: the bridge opened in 2025, the article is corrected."


@pytest.fixture
def thread(site):
    return Thread.objects.create(site=site, key="/news/bridge")


def moderator(username: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True, email=f"{username}@planet.example")
    user.groups.add(Group.objects.get(name="moderators"))
    return user


@pytest.fixture
def alice(db):
    """A moderator of every site."""
    return moderate_every_site(moderator("alice"))


@pytest.fixture
def mallory(db):
    """A moderator of another site only."""
    user = moderator("mallory")
    Site.objects.create(name="Gazette", public_key="gazette").policy.moderators.add(user)
    return user


def listed(api, thread) -> list[dict]:
    """The thread's page as readers get it, flattened: every listed comment, replies included."""
    answer = api.get(URL, {"site": thread.site.public_key, "thread": thread.key})
    assert answer.status_code == 200
    found, stack = [], list(reversed(answer.json()["results"]))
    while stack:
        comment = stack.pop()
        found.append(comment)
        stack.extend(reversed(comment["replies"]))
    return found


def test_a_reply_is_published_at_once_marked_signed_with_the_site_name_and_says_who(alice, thread):
    question = make(thread, "When did the bridge open?", status="published")

    posted = staff_reply_post(comment_id=question.pk, actor=alice, body=f"  {ANSWER}\n")

    reply = Comment.objects.get(pk=posted.reply.pk)
    assert (reply.status, reply.by_staff, reply.staff_user, reply.author_name) == (
        "published", True, alice, "Daily Planet"
    )  # fmt: skip
    assert (reply.parent, reply.root, reply.thread, reply.body) == (question, question, thread, ANSWER)
    assert reply.reasons == [{"code": "staff_reply", "detail": "Staff reply by alice."}]
    assert reply.scores == {} and reply.decided_at is not None and reply.language == "en"
    assert (posted.parent_status, posted.approved, posted.listed) == ("published", False, True)
    assert not ModerationDecision.objects.exists()  # the comment replied to was not decided again


def test_a_reply_to_a_reply_hangs_under_the_same_top_level_comment(alice, thread):
    top = make(thread, "Top.", status="published")
    answer = make(thread, "An answer.", status="published", parent=top, root=top)
    reply = staff_reply_post(comment_id=answer.pk, actor=alice, body=ANSWER).reply
    assert (reply.parent_id, reply.root_id) == (answer.pk, top.pk)


def test_a_closed_thread_is_closed_to_readers_not_to_the_site(alice, thread):
    question = make(thread, "Why are comments closed?", status="published")
    Thread.objects.filter(pk=thread.pk).update(is_open=False)
    assert staff_reply_post(comment_id=question.pk, actor=alice, body=ANSWER).reply.status == "published"


def test_it_signs_with_the_staff_name_of_the_site_policy(alice, thread):
    thread.site.policy.staff_name = "The editors"
    thread.site.policy.save()
    question = make(thread, "Who checks these figures?", status="published")
    assert staff_reply_post(comment_id=question.pk, actor=alice, body=ANSWER).reply.author_name == "The editors"


def test_with_approve_a_held_comment_is_published_with_its_audit_row_then_the_reply(alice, thread, api):
    held = make(thread, "Is the toll really 4 euros?")

    posted = staff_reply_post(comment_id=held.pk, actor=alice, body=ANSWER, approve=True, expected_status="held")

    held.refresh_from_db()
    assert held.status == "published"
    decision = ModerationDecision.objects.get(comment=held)
    assert (decision.actor, decision.action, decision.from_status, decision.note) == (
        alice, "approve", "held", "approved with a staff reply"
    )  # fmt: skip
    assert (posted.parent_status, posted.approved, posted.listed) == ("published", True, True)
    assert [(c["comment"], c.get("staff")) for c in listed(api, thread)] == [
        ("Is the toll really 4 euros?", None),
        (ANSWER, True),
    ]


def test_without_approve_a_reply_to_a_held_comment_waits_unlisted_until_it_is_published(
    alice, thread, api, django_capture_on_commit_callbacks
):
    held = make(thread, "Is the toll really 4 euros?")

    posted = staff_reply_post(comment_id=held.pk, actor=alice, body=ANSWER)

    assert (posted.reply.status, posted.parent_status, posted.approved, posted.listed) == (
        "published", "held", False, False
    )  # fmt: skip
    assert listed(api, thread) == []
    with django_capture_on_commit_callbacks(execute=True):  # the approval makes the cached page stale
        services.comment_moderate(comment_id=held.pk, actor=alice, action=ModerationAction.APPROVE)
    assert [c["comment"] for c in listed(api, thread)] == ["Is the toll really 4 euros?", ANSWER]


def test_a_rejected_comment_is_answered_only_together_with_its_approval(alice, thread):
    rejected = make(thread, "Buy cheap pills", status="rejected")
    with pytest.raises(ValidationError, match="is rejected: readers would never see a reply under it"):
        staff_reply_post(comment_id=rejected.pk, actor=alice, body=ANSWER)
    assert not Comment.objects.filter(by_staff=True).exists()
    staff_reply_post(comment_id=rejected.pk, actor=alice, body=ANSWER, approve=True)
    assert Comment.objects.get(pk=rejected.pk).status == "published"


@pytest.mark.parametrize("fields", [{"status": "deleted"}, {"status": "published", "body": "", "author_name": ""}])
def test_a_deleted_comment_cannot_be_answered(alice, thread, fields):
    from django.utils import timezone

    gone = make(thread, fields.pop("body", "gone"), deleted_at=timezone.now(), **fields)
    with pytest.raises(ValidationError, match="was deleted"):
        staff_reply_post(comment_id=gone.pk, actor=alice, body=ANSWER, approve=True)
    assert not Comment.objects.filter(by_staff=True).exists()


def test_it_never_approves_over_another_moderator_s_decision_made_meanwhile(alice, thread):
    held = make(thread, "Is the toll really 4 euros?")
    services.comment_moderate(comment_id=held.pk, actor=alice, action=ModerationAction.REJECT)
    with pytest.raises(ValidationError, match="is rejected now, no longer held"):
        staff_reply_post(comment_id=held.pk, actor=alice, body=ANSWER, approve=True, expected_status="held")
    assert Comment.objects.get(pk=held.pk).status == "rejected"
    assert not Comment.objects.filter(by_staff=True).exists()


@pytest.mark.parametrize(
    "body, message",
    [
        ("", "empty"),
        ("  \n\t ", "empty"),
        ("\u200b\u200d", "empty"),  # zero-width characters only: nothing a reader would see
        ("x" * (REPLY_MAX_LENGTH + 1), "at most 5,000 characters"),
        ("a\x00b", "not text"),
        ("a\ud800b", "not text"),
    ],
)
def test_it_refuses_an_empty_too_long_or_unstorable_text_with_a_message_on_the_body(alice, thread, body, message):
    question = make(thread, "When?", status="published")
    with pytest.raises(ValidationError) as refused:
        staff_reply_post(comment_id=question.pk, actor=alice, body=body)
    assert message in refused.value.message_dict["body"][0]
    assert not Comment.objects.filter(by_staff=True).exists()


def test_a_text_of_the_longest_length_a_reader_may_write_is_taken(alice, thread):
    question = make(thread, "When?", status="published")
    assert len(staff_reply_post(comment_id=question.pk, actor=alice, body="x" * REPLY_MAX_LENGTH).reply.body) == 5000


def test_only_a_moderator_of_the_comment_s_site_may_reply(alice, mallory, thread):
    question = make(thread, "When?", status="published")
    outsider = User.objects.create_user("bob", password="pw", is_staff=True)  # staff, not a moderator
    for user in (mallory, outsider):
        with pytest.raises(PermissionDenied):
            staff_reply_post(comment_id=question.pk, actor=user, body=ANSWER, approve=True)
    thread.site.policy.moderators.add(mallory)  # now a moderator of this site too
    assert staff_reply_post(comment_id=question.pk, actor=mallory, body=ANSWER).reply.staff_user == mallory
    assert Comment.objects.filter(by_staff=True).count() == 1


def test_a_moderator_limited_to_other_languages_may_not_reply(alice, thread):
    from moderation.models import ModeratorLanguages

    ModeratorLanguages.objects.create(user=alice, languages="bg")
    question = make(thread, "When did the bridge open?", status="published", language="en", script="Latn")
    with pytest.raises(PermissionDenied):
        staff_reply_post(comment_id=question.pk, actor=alice, body=ANSWER)


def test_the_author_who_asked_for_reply_notices_gets_one_through_the_outbox(alice, thread):
    question = make(thread, "When did the bridge open?", status="published", author_email="reader@example.org")
    Comment.objects.filter(pk=question.pk).update(reply_notice=Comment.ReplyNotice.CONFIRMED)

    reply = staff_reply_post(comment_id=question.pk, actor=alice, body=ANSWER).reply

    row = Notification.objects.get(comment=reply)
    assert (row.kind, row.event) == ("email", "comment.reply")
    assert notifications.notification_deliver(notification_id=row.pk) == "delivered"
    [message] = mail.outbox
    assert message.to == ["reader@example.org"] and ANSWER in message.body


def test_the_site_s_webhook_hears_comment_published_with_staff_true(alice, thread):
    thread.site.policy.webhook_url = "https://planet.example/hooks/moderato"
    thread.site.policy.save()
    question = make(thread, "When did the bridge open?", status="published")

    reply = staff_reply_post(comment_id=question.pk, actor=alice, body=ANSWER).reply

    row = Notification.objects.get(comment=reply)
    assert (row.kind, row.event) == ("webhook", "comment.published")
    assert row.payload["comment"] | {"created": "", "decided": ""} == {
        "id": reply.pk, "thread": "/news/bridge", "parent": question.pk, "status": "published",
        "name": "Daily Planet", "staff": True, "comment": ANSWER, "scores": {}, "model_versions": {},
        "reasons": [{"code": "staff_reply", "detail": "Staff reply by alice."}], "created": "", "decided": "",
    }  # fmt: skip
    assert notifications.comment_payload(question, event="comment.published")["comment"]["staff"] is False


def test_the_thread_s_cached_page_shows_the_reply_at_once(alice, thread, api, django_capture_on_commit_callbacks):
    question = make(thread, "When did the bridge open?", status="published")
    assert [c["comment"] for c in listed(api, thread)] == ["When did the bridge open?"]  # the page is cached now

    with django_capture_on_commit_callbacks(execute=True):
        staff_reply_post(comment_id=question.pk, actor=alice, body=ANSWER)

    assert [(c["name"], c["comment"], c.get("staff")) for c in listed(api, thread)] == [
        ("Reader", "When did the bridge open?", None),
        ("Daily Planet", ANSWER, True),
    ]


def test_the_dashboard_counts_no_staff_reply_as_a_decision_of_the_model(alice, thread):
    from moderation import dashboard

    question = make(thread, "When did the bridge open?", status="published")
    before = dashboard.dashboard_read(user=alice, attributes=["TOXICITY"]).by_model["published"][-1]
    staff_reply_post(comment_id=question.pk, actor=alice, body=ANSWER)
    assert before == 1
    assert dashboard.dashboard_read(user=alice, attributes=["TOXICITY"]).by_model["published"][-1] == 1


# The admin: the reply box of each row of the queue and of the comment's page (CommentAdmin.staff_reply_view).


def reply_post(client, comment, **fields):
    headers = fields.pop("headers", {})
    return client.post(f"{QUEUE}{comment.pk}/reply/", fields, **headers)


JSON = {"HTTP_ACCEPT": "application/json"}


def test_every_row_of_the_queue_and_the_comment_page_have_a_reply_box(client, alice, thread):
    held = make(thread, "held one")
    published = make(thread, "published one", status="published")
    client.force_login(alice)
    queue = client.get(QUEUE).content.decode()
    changelist_form_end = queue.index("</form>", queue.index('id="changelist-form"'))
    for comment in (held, published):
        assert f'<form id="reply-form-{comment.pk}" method="post" action="{QUEUE}{comment.pk}/reply/">' in queue
        assert queue.index(f'id="reply-form-{comment.pk}"') > changelist_form_end  # forms cannot nest
        assert f'<textarea form="reply-form-{comment.pk}" name="body"' in queue
    assert f'form="reply-form-{held.pk}" name="approve" value="yes" checked>' in queue
    assert f'form="reply-form-{published.pk}" name="approve"' not in queue  # published already
    assert "<kbd>Y</kbd>" in queue
    page = client.get(f"{QUEUE}{held.pk}/change/").content.decode()
    assert f'<form id="reply-form-{held.pk}" method="post" action="{QUEUE}{held.pk}/reply/"' in page
    assert "Signed “Daily Planet”" in page and 'name="approve" value="yes" checked' in page
    assert page.index(f'id="reply-form-{held.pk}"') < page.index('id="comment_form"')


def test_a_moderator_replies_and_approves_from_the_comment_page_without_a_script(client, alice, thread):
    held = make(thread, "Is the toll really 4 euros?")
    client.force_login(alice)
    page = f"{QUEUE}{held.pk}/change/"

    response = reply_post(client, held, body=ANSWER, approve="yes", status="held", next=page)

    assert response.status_code == 302 and response["Location"] == f"{page}#decide-{held.pk}"
    reply = Comment.objects.get(by_staff=True)
    assert (reply.parent_id, reply.staff_user, reply.status, reply.body) == (held.pk, alice, "published", ANSWER)
    assert Comment.objects.get(pk=held.pk).status == "published"
    shown = client.get(response["Location"]).content.decode()
    assert f"Approved comment #{held.pk} and replied as &quot;Daily Planet&quot;: reply #{reply.pk}" in shown
    assert "Staff reply by alice." in client.get(f"{QUEUE}{reply.pk}/change/").content.decode()


def test_a_reply_from_the_queue_s_script_answers_json_with_the_comment_s_status(client, alice, thread):
    held = make(thread, "Is the toll really 4 euros?")
    client.force_login(alice)
    response = reply_post(client, held, body=ANSWER, status="held", headers=JSON)  # not approved
    assert response.status_code == 200
    reply = Comment.objects.get(by_staff=True)
    assert response.json() == {
        "comment": held.pk,
        "status": "held",
        "status_label": "Held",
        "action": "reply",
        "message": f'Replied to comment #{held.pk} as "Daily Planet": reply #{reply.pk} is published, and readers '
        "see it once the comments above it are published.",
    }


@pytest.mark.parametrize(
    "body, code, error",
    [
        ("   ", 400, "Write the reply first: it is empty."),
        ("x" * (REPLY_MAX_LENGTH + 1), 400, "A reply is at most 5,000 characters long; this one has 5,001."),
    ],
)
def test_a_bad_text_is_a_clear_error_and_posts_nothing(client, alice, thread, body, code, error):
    question = make(thread, "When?", status="published")
    client.force_login(alice)
    response = reply_post(client, question, body=body, headers=JSON)
    assert response.status_code == code
    assert response.json() == {"comment": question.pk, "status": "published", "status_label": "Published",
                                "action": "", "error": error}  # fmt: skip
    back = reply_post(client, question, body=body, next=f"{QUEUE}{question.pk}/change/")  # without a script
    assert back.status_code == 302
    assert error in client.get(back["Location"]).content.decode()
    assert not Comment.objects.filter(by_staff=True).exists()


def test_a_reply_under_a_rejected_comment_without_its_approval_is_a_conflict(client, alice, thread):
    rejected = make(thread, "Buy cheap pills", status="rejected")
    client.force_login(alice)
    response = reply_post(client, rejected, body=ANSWER, status="rejected", headers=JSON)
    assert response.status_code == 409
    assert "readers would never see a reply under it" in response.json()["error"]
    assert not Comment.objects.filter(by_staff=True).exists()


def test_the_reply_view_checks_method_permission_site_and_csrf(client, alice, mallory, thread):
    question = make(thread, "When?", status="published")
    client.force_login(mallory)  # a moderator of another site: its comments are as absent as missing ones
    assert reply_post(client, question, body=ANSWER).status_code == 404
    client.force_login(User.objects.create_user("bob", password="pw", is_staff=True))  # not a moderator
    assert reply_post(client, question, body=ANSWER).status_code == 403
    client.force_login(alice)
    assert client.get(f"{QUEUE}{question.pk}/reply/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(f"{QUEUE}{question.pk}/reply/", {"body": ANSWER}).status_code == 403
    assert not Comment.objects.filter(by_staff=True).exists()
