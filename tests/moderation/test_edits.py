"""An author's edit is scored through the comment pipeline's evaluation; the published text stays until
the edit is decided: published, it replaces it; held, a moderator decides it in the admin; rejected,
the old text stays."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from comments import services as public
from comments.models import Comment, CommentEdit, Thread
from moderation import services
from moderation.models import ModerationDecision, Notification
from tests.conftest import moderate_every_site

CLEAN = "Thanks for the article, I learned a lot about the new bridge."
CLEAN_EDIT = "Thanks for the article, I learned a lot about the new bridge and its history."
TOXIC = "You are a worthless idiot and a disgusting piece of trash, shut up"
SPAM = "Earn $5000 a week from home!!! Click http://bit.ly/xyz and DM me on WhatsApp +1 555 0100 now"


@pytest.fixture
def thread(site):
    site.policy.webhook_url = "https://hooks.example/moderato"
    site.policy.save()
    return Thread.objects.get_or_create(site=site, key="/news/bridge")[0]


@pytest.fixture
def alice(site, thread):
    """Alice's comment, posted and scored as the pipeline does (published), and her commenter token."""
    submission = public.comment_submit(site_key=site.public_key, thread_key=thread.key, name="Alice", body=CLEAN)
    assert services.comment_score(comment_id=submission.comment.pk) == "published"
    return submission


def edit(alice, body):
    return public.comment_author_edit(comment_id=alice.comment.pk, commenter_token=alice.commenter_token, body=body)


def test_a_clean_edit_is_published_in_the_comment_s_place_with_new_scores(alice, django_capture_on_commit_callbacks):
    before = Comment.objects.get(pk=alice.comment.pk)
    pending = edit(alice, CLEAN_EDIT)
    assert Comment.objects.get(pk=alice.comment.pk).body == CLEAN  # until the edit is decided
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.comment_edit_score(edit_id=pending.pk) == "published"
    comment = Comment.objects.get(pk=alice.comment.pk)
    assert (comment.body, comment.status) == (CLEAN_EDIT, "published")
    assert comment.edited_at is not None
    assert comment.scores != before.scores  # scored again, on the new text
    assert CommentEdit.objects.get(pk=pending.pk).state == "published"
    assert Notification.objects.filter(comment=comment, event="comment.edited").count() == 1
    assert any(callback.__qualname__ == "moderation.tasks.notification_deliver.delay" for callback in callbacks)
    assert services.comment_edit_score(edit_id=pending.pk) == "skipped"  # a second run changes nothing


def test_a_toxic_edit_is_held_the_published_text_stays_and_a_moderator_approves_it(alice, site):
    pending = edit(alice, TOXIC)
    assert services.comment_edit_score(edit_id=pending.pk) == "held"
    comment = Comment.objects.get(pk=alice.comment.pk)
    assert (comment.body, comment.status, comment.edited_at) == (CLEAN, "published", None)
    held = CommentEdit.objects.get(pk=pending.pk)
    assert held.state == "held"
    assert "TOXICITY" in {reason["attribute"] for reason in held.reasons}
    moderator = User.objects.create_user("mo", "mo@example.org")
    moderator.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(moderator)
    decision = services.comment_edit_moderate(edit_id=held.pk, actor=moderator, approve=True)
    assert (decision.from_status, decision.to_status, decision.note) == (
        "published",
        "published",
        f"edit #{held.pk} approved",
    )
    assert Comment.objects.get(pk=alice.comment.pk).body == TOXIC
    assert CommentEdit.objects.get(pk=held.pk).state == "published"


def test_a_held_edit_a_moderator_rejects_leaves_the_old_text(alice):
    pending = edit(alice, TOXIC)
    services.comment_edit_score(edit_id=pending.pk)
    moderator = User.objects.create_superuser("root", "root@example.org", "pw")
    services.comment_edit_moderate(edit_id=pending.pk, actor=moderator, approve=False)
    assert Comment.objects.get(pk=alice.comment.pk).body == CLEAN
    assert CommentEdit.objects.get(pk=pending.pk).state == "rejected"
    assert ModerationDecision.objects.get().note == f"edit #{pending.pk} rejected"


def test_a_spam_edit_is_rejected_and_the_old_text_stays(alice):
    pending = edit(alice, SPAM)
    assert services.comment_edit_score(edit_id=pending.pk) == "rejected"
    assert Comment.objects.get(pk=alice.comment.pk).body == CLEAN


def test_a_newer_edit_supersedes_an_undecided_one(alice):
    first = edit(alice, "First second thought about the bridge.")
    second = edit(alice, CLEAN_EDIT)
    assert CommentEdit.objects.get(pk=first.pk).state == "rejected"
    assert CommentEdit.objects.get(pk=first.pk).reasons[0]["code"] == "edit_superseded"
    assert services.comment_edit_score(edit_id=first.pk) == "skipped"
    assert services.comment_edit_score(edit_id=second.pk) == "published"
    assert Comment.objects.get(pk=alice.comment.pk).body == CLEAN_EDIT


def test_an_edit_decided_after_the_comment_left_the_page_waits_for_a_person(alice):
    pending = edit(alice, CLEAN_EDIT)
    Comment.objects.filter(pk=alice.comment.pk).update(status=Comment.Status.HELD)  # readers' reports, say
    assert services.comment_edit_score(edit_id=pending.pk) == "held"
    assert Comment.objects.get(pk=alice.comment.pk).body == CLEAN


def test_an_edit_whose_scoring_kept_failing_is_held(alice, settings):
    pending = edit(alice, CLEAN_EDIT)
    CommentEdit.objects.filter(pk=pending.pk).update(scoring_attempts=settings.MODERATO_MAX_SCORING_ATTEMPTS)
    assert services.comment_edit_score(edit_id=pending.pk) == "held"
    assert CommentEdit.objects.get(pk=pending.pk).reasons[0]["code"] == "scoring_failed"


def test_the_sweep_queues_a_lost_edit_again_once_per_period(alice):
    pending = edit(alice, CLEAN_EDIT)
    assert services.pending_edits_claim_stale(older_than=timedelta(seconds=30)) == []  # young: its task has it
    CommentEdit.objects.filter(pk=pending.pk).update(created_at=timezone.now() - timedelta(seconds=31))
    assert services.pending_edits_claim_stale(older_than=timedelta(seconds=30)) == [pending.pk]
    assert services.pending_edits_claim_stale(older_than=timedelta(seconds=30)) == []


def test_deleting_a_comment_notifies_the_webhook(alice):
    public.comment_author_delete(comment_id=alice.comment.pk, commenter_token=alice.commenter_token)
    row = Notification.objects.get(comment=alice.comment, event="comment.deleted")
    assert row.payload["comment"]["comment"] == ""
    assert row.payload["comment"]["status"] == "deleted"


def test_the_admin_lists_a_held_edit_first_and_approves_it(alice, admin_client):
    pending = edit(alice, TOXIC)
    services.comment_edit_score(edit_id=pending.pk)
    page = admin_client.get("/admin/comments/commentedit/").content.decode()
    assert TOXIC in page and CLEAN in page  # the new text next to the published one
    detail = admin_client.get(f"/admin/comments/comment/{alice.comment.pk}/change/").content.decode()
    assert TOXIC in detail  # the comment's page shows its edits
    response = admin_client.post(
        "/admin/comments/commentedit/", {"action": "edit_approve", "_selected_action": [pending.pk]}
    )
    assert response.status_code == 302
    assert Comment.objects.get(pk=alice.comment.pk).body == TOXIC
