import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from comments.models import Comment, Thread
from moderation.models import ModerationAction, ModerationDecision
from tests.conftest import cache_clear, moderate_every_site

QUEUE = "/admin/comments/comment/"


@pytest.fixture
def thread(site):
    return Thread.objects.create(site=site, key="/news/bridge")


@pytest.fixture
def alice(db):
    """A moderator."""
    user = User.objects.create_user("alice", password="pw", is_staff=True, email="alice@planet.example")
    user.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(user)
    return user


@pytest.fixture
def bob(db):
    """Staff, but not a moderator."""
    return User.objects.create_user("bob", password="pw", is_staff=True)


def make(thread, body, status="held", minutes_ago=0, **fields):
    comment = Comment.objects.create(
        thread=thread,
        author_name=fields.pop("author_name", "Reader"),
        body=body,
        status=status,
        decided_at=None if status == "pending" else timezone.now(),
        **fields,
    )
    Comment.objects.filter(pk=comment.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return comment


def act(client, action, *comments):
    return client.post(
        QUEUE, {"action": f"moderate_{action}", "_selected_action": [c.pk for c in comments]}, follow=True
    )


def test_it_lists_held_comments_first_and_oldest_first(client, alice, thread):
    make(thread, "published one", status="published", minutes_ago=30)
    newer = make(thread, "newer held", minutes_ago=1)
    older = make(thread, "older held", minutes_ago=10, scores={"TOXICITY": 0.83, "SPAM": 0.01})
    client.force_login(alice)
    response = client.get(QUEUE)
    assert response.status_code == 200
    rows = [c.pk for c in response.context["cl"].result_list]
    assert rows[:2] == [older.pk, newer.pk]
    assert "TOXICITY" in response.content.decode() and "0.83" in response.content.decode()


def test_it_shows_every_head_of_the_shipped_models_in_the_queue(client, alice, thread):
    from moderation import services

    comment = Comment.objects.create(thread=thread, author_name="Eve", body="I know where you live, watch your back")
    services.comment_score(comment_id=comment.pk)
    client.force_login(alice)
    page = client.get(f"{QUEUE}{comment.pk}/change/").content.decode()
    for head in ("THREAT", "SEVERE_TOXICITY", "SEXUALLY_EXPLICIT", "IDENTITY_ATTACK", "INSULT"):
        assert head in page


def test_it_shows_and_filters_by_the_detected_language(client, alice, thread):
    serbian = make(thread, "Хвала на чланку", language="sr", script="Cyrl")
    make(thread, "Thanks for the article", language="en", script="Latn")
    client.force_login(alice)
    response = client.get(QUEUE)
    assert "sr Cyrl" in response.content.decode() and "en Latn" in response.content.decode()
    rows = client.get(QUEUE, {"language": "sr"}).context["cl"].result_list
    assert [c.pk for c in rows] == [serbian.pk]
    assert [c.pk for c in client.get(QUEUE, {"script": "Cyrl"}).context["cl"].result_list] == [serbian.pk]


def test_it_searches_text_author_and_email(client, alice, thread):
    make(thread, "about the footbridge", author_name="Carol", author_email="carol@example.org")
    make(thread, "about the dam", author_name="Dan")
    client.force_login(alice)
    for query in ("footbridge", "Carol", "carol@example.org"):
        rows = client.get(QUEUE, {"q": query}).context["cl"].result_list
        assert [c.author_name for c in rows] == ["Carol"]


def test_it_filters_by_status(client, alice, thread):
    make(thread, "held")
    make(thread, "published", status="published")
    client.force_login(alice)
    rows = client.get(QUEUE, {"status__exact": "published"}).context["cl"].result_list
    assert [c.body for c in rows] == ["published"]


def test_it_filters_by_a_thread_typed_in_by_id_path_or_title(client, alice, thread):
    mine = make(thread, "on the bridge")
    dam = make(Thread.objects.create(site=thread.site, key="/news/dam", title="The dam opens"), "on the dam")
    client.force_login(alice)
    for typed in (str(thread.pk), "bridge", "DAM OPENS"):
        rows = client.get(QUEUE, {"thread": typed, "status__exact": "held"}).context["cl"].result_list
        assert [c.pk for c in rows] == ([dam.pk] if typed == "DAM OPENS" else [mine.pk]), typed
    page = client.get(QUEUE, {"thread": str(thread.pk), "status__exact": "held"}).content.decode()
    # The form names the thread found and keeps the other filters; the admin's autocomplete suggests.
    assert '<span class="moderato-small">/news/bridge</span>' in page
    assert '<input type="hidden" name="status__exact" value="held">' in page
    assert "/admin/autocomplete/?app_label=comments&amp;model_name=comment&amp;field_name=thread" in page
    answer = client.get("/admin/autocomplete/", {"app_label": "comments", "model_name": "comment",
                                                 "field_name": "thread", "term": "dam"})  # fmt: skip
    assert [row["text"] for row in answer.json()["results"]] == ["The dam opens"]


def test_a_thread_typed_in_never_names_or_lists_another_site_s(client, alice, thread):
    from comments.models import Site

    secret = Thread.objects.create(site=Site.objects.create(name="Gazette", public_key="gazette"), key="/secret-page")
    make(secret, "a secret held comment")
    thread.site.policy.moderators.add(alice)
    alice.user_permissions.clear()  # moderates the thread's site only
    client.force_login(alice)
    for typed in (str(secret.pk), "secret"):
        page = client.get(QUEUE, {"thread": typed})
        assert list(page.context["cl"].result_list) == []
        assert "/secret-page" not in page.content.decode().replace('value="secret"', "")
    answer = client.get("/admin/autocomplete/", {"app_label": "comments", "model_name": "comment",
                                                 "field_name": "thread", "term": "secret"})  # fmt: skip
    assert answer.json()["results"] == []


def test_the_site_filter_lists_a_few_sites_and_is_typed_into_past_ten(client, alice, thread):
    from comments.models import Site
    from moderation.admin import SITE_LINKS_MAX

    client.force_login(alice)
    assert f'href="?site={thread.site.pk}"' in client.get(QUEUE).content.decode()  # one site: a link
    gazette = Site.objects.create(name="Gazette", public_key="gazette")
    for i in range(SITE_LINKS_MAX):
        Site.objects.create(name=f"Site {i}", public_key=f"site{i}")
    make(Thread.objects.create(site=gazette, key="/x"), "in the gazette")
    make(thread, "in the planet")
    page = client.get(QUEUE).content.decode()
    assert f'href="?site={gazette.pk}"' not in page and 'name="site"' in page
    for typed in ("gazet", str(gazette.pk)):
        rows = client.get(QUEUE, {"site": typed}).context["cl"].result_list
        assert [c.body for c in rows] == ["in the gazette"], typed


def test_it_approves_in_bulk_and_writes_an_audit_row_each(client, alice, thread):
    first, second = make(thread, "one"), make(thread, "two")
    client.force_login(alice)
    act(client, "approve", first, second)
    assert set(Comment.objects.values_list("status", flat=True)) == {"published"}
    decisions = ModerationDecision.objects.order_by("comment_id")
    assert [(d.comment_id, d.actor, d.from_status, d.to_status, d.labels) for d in decisions] == [
        (first.pk, alice, "held", "published", {}),
        (second.pk, alice, "held", "published", {}),
    ]


@pytest.mark.parametrize(
    ("action", "status", "labels"),
    [
        ("reject", "rejected", {}),
        ("spam", "rejected", {"SPAM": 1}),
        ("not_spam", "published", {"SPAM": 0}),
        ("not_toxic", "published", {"TOXICITY": 0}),
        ("toxic", "rejected", {"TOXICITY": 1}),
    ],
)
def test_it_keeps_the_action_apart_from_the_label(client, alice, thread, action, status, labels):
    comment = make(thread, "text")
    client.force_login(alice)
    act(client, action, comment)
    comment.refresh_from_db()
    assert comment.status == status
    assert ModerationDecision.objects.get().labels == labels


def test_it_lets_no_non_moderator_decide(client, bob, thread):
    comment = make(thread, "text")
    client.force_login(bob)
    assert client.get(QUEUE).status_code == 403
    act(client, "approve", comment)
    comment.refresh_from_db()
    assert comment.status == "held"
    assert not ModerationDecision.objects.exists()


def test_it_lets_nobody_edit_or_delete_the_audit_trail(client, alice, thread):
    comment = make(thread, "text")
    client.force_login(alice)
    act(client, "approve", comment)
    decision = ModerationDecision.objects.get()
    url = f"/admin/moderation/moderationdecision/{decision.pk}/change/"
    assert client.get(url).status_code == 200  # readable
    client.post(url, {"note": "rewritten", "action": "reject"})
    assert (
        client.post(f"/admin/moderation/moderationdecision/{decision.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    decision.refresh_from_db()
    assert (decision.note, decision.action) == ("", "approve")
    admin = User.objects.create_superuser("root", password="pw")
    client.force_login(admin)
    assert (
        client.post(f"/admin/moderation/moderationdecision/{decision.pk}/delete/", {"post": "yes"}).status_code == 403
    )


def test_the_detail_page_tells_the_comment_s_story_with_the_moderators_and_their_notes(client, alice, thread):
    from moderation import services

    comment = make(thread, "You are a worthless idiot and a disgusting piece of trash, shut up", status="pending")
    assert services.comment_score(comment_id=comment.pk) == "held"
    client.force_login(alice)
    client.post(
        f"{QUEUE}{comment.pk}/decide/",
        {"action": "spam", "note": "Same <b>troll</b> as yesterday.", "next": f"{QUEUE}{comment.pk}/change/"},
    )
    comment.refresh_from_db()
    page = client.get(f"{QUEUE}{comment.pk}/change/").content.decode()
    story = page[page.index('class="moderato-story"') : page.index("</table>", page.index('class="moderato-story"'))]
    lines = [re.findall(r"<td>(.*?)</td>", line, re.S) for line in story.split("<tr>")[2:]]
    assert [(who, what) for _, who, what, _ in lines] == [
        ("the author", "submitted"),
        ("system", "scored and decided (pending → held)"),
        ("alice", "moderator&#x27;s decision: Mark as spam (held → rejected)"),
    ]
    toxicity = comment.scores["TOXICITY"]
    assert f"TOXICITY {toxicity:.2f} ({comment.model_versions['TOXICITY']})" in lines[1][3]
    assert "Held: TOXICITY" in lines[1][3] and "Language: en" in lines[1][3]
    assert "Note: Same &lt;b&gt;troll&lt;/b&gt; as yesterday." in lines[2][3] and "Teaches: SPAM 1" in lines[2][3]


def test_a_moderator_limited_to_a_site_sees_and_decides_only_its_comments(client, alice, thread):
    from comments.models import Site

    other_site = Site.objects.create(name="Other", public_key="other")
    other = make(Thread.objects.create(site=other_site, key="/x"), "elsewhere")
    mine = make(thread, "mine")
    other_site.policy.moderators.add(User.objects.create_user("carol"))  # limits carol, not alice
    thread.site.policy.moderators.add(alice)
    alice.user_permissions.clear()  # on one site's list, and no grant of every site
    client.force_login(alice)
    assert [c.pk for c in client.get(QUEUE).context["cl"].result_list] == [mine.pk]
    act(client, "approve", mine, other)
    assert Comment.objects.get(pk=other.pk).status == "held"
    assert Comment.objects.get(pk=mine.pk).status == "published"


def test_it_trusts_and_blocks_commenters_from_the_queue(client, alice, thread):
    from moderation.models import CommenterFlag

    known = make(thread, "hi", author_name="Erin", author_email="Erin@Example.org", ip_hash="h9")
    client.force_login(alice)
    client.post(QUEUE, {"action": "commenter_trusted_commenter", "_selected_action": [known.pk]})
    client.post(QUEUE, {"action": "commenter_blocked_ip", "_selected_action": [known.pk]})
    flags = dict(CommenterFlag.objects.values_list("identity", "kind"))
    # No signed commenter token on this comment: trusted by address hash and name, never by e-mail.
    assert flags == {"ip:h9:erin": "trusted", "ip:h9": "blocked"}
    tokened = make(thread, "hi again", author_name="Erin", author_email="erin@example.org", commenter="c" * 22)
    page = client.post(QUEUE, {"action": "commenter_trusted_commenter", "_selected_action": [tokened.pk]}, follow=True)
    assert CommenterFlag.objects.get(identity="commenter:" + "c" * 22).kind == "trusted"
    assert "1 commenter(s) (1 by signed commenter token (cannot be forged))" in page.content.decode()
    assert CommenterFlag.objects.get(identity="ip:h9").created_by == alice


def test_it_filters_by_reason_score_band_and_model_version(client, alice, thread):
    links = make(
        thread, "links", reasons=[{"code": "links", "detail": "2 links"}], scores={"TOXICITY": 0.1, "SPAM": 0.6}
    )
    toxic = make(
        thread,
        "toxic",
        reasons=[{"code": "hold_threshold", "detail": "x"}],
        scores={"TOXICITY": 0.9, "SPAM": 0.0},
        model_versions={"TOXICITY": "toxicity-2030.01.01", "SPAM": "spam-2030.01.01"},
    )
    client.force_login(alice)

    def rows(**query):
        return [c.pk for c in client.get(QUEUE, query).context["cl"].result_list]

    assert rows(reason="links") == [links.pk]
    assert rows(reason="hold_threshold") == [toxic.pk]
    assert rows(band="TOXICITY:high") == [toxic.pk]
    assert rows(band="SPAM:medium") == [links.pk]
    assert rows(model="toxicity-2030.01.01") == [toxic.pk]


def test_the_detail_page_shows_the_parent_and_the_direct_replies_not_the_siblings(client, alice, thread):
    parent = make(thread, "The parent says hello", status="published")
    make(thread, "A sibling answers", status="published", parent=parent, root=parent)
    held = make(thread, "The held reply", parent=parent, root=parent)
    answer = make(thread, "An answer to the held reply", status="published", parent=held, root=parent)
    make(thread, "An answer to the answer", status="published", parent=answer, root=parent)
    client.force_login(alice)
    page = client.get(f"{QUEUE}{held.pk}/change/").content.decode()
    assert "The parent says hello" in page and f'href="{QUEUE}{parent.pk}/change/">#{parent.pk}</a>' in page
    assert "An answer to the held reply" in page
    assert "A sibling answers" not in page and "An answer to the answer" not in page
    top = client.get(f"{QUEUE}{make(thread, 'alone').pk}/change/").content.decode()
    assert "A top-level comment with no replies." in top


def test_the_detail_page_shows_the_commenter_s_history_on_this_site(client, alice, thread):
    from comments.models import Site
    from moderation.models import CommenterFlag

    token = "t" * 22
    make(thread, "old one", status="published", commenter=token, minutes_ago=60 * 24 * 3)
    make(thread, "another", status="published", commenter=token)
    make(thread, "rude", status="rejected", commenter=token)
    make(thread, "same address and name", status="published", ip_hash="h1", author_name="Erin")
    make(thread, "someone else", status="published", commenter="u" * 22)
    elsewhere = Thread.objects.create(site=Site.objects.create(name="Other", public_key="other"), key="/x")
    make(elsewhere, "on another site", status="published", commenter=token)
    comment = make(thread, "now held", commenter=token, ip_hash="h1", author_name="Erin")
    CommenterFlag.objects.create(site=thread.site, identity=f"commenter:{token}", kind="trusted")
    client.force_login(alice)
    page = client.get(f"{QUEUE}{comment.pk}/change/").content.decode()
    assert "3 published, 1 held, 1 rejected (this one included)" in page
    assert "trusted as commenter" in page
    first_seen = Comment.objects.filter(body="old one").get().created_at
    assert f"First seen {first_seen:%Y-%m-%d %H:%M}" in page


def test_it_rescores_held_comments_but_leaves_those_a_person_decided(client, alice, thread):
    from moderation.models import ModerationDecision

    clean = make(thread, "Thanks for the article, I learned a lot about the new bridge.")
    toxic = make(thread, "You are a worthless idiot and a disgusting piece of trash, shut up")
    reported = make(thread, "A fine comment.", reasons=[{"code": "reader_reports", "detail": "3 reports"}])
    client.force_login(alice)
    response = client.post(
        QUEUE, {"action": "rescore_held", "_selected_action": [clean.pk, toxic.pk, reported.pk]}, follow=True
    )
    statuses = dict(Comment.objects.values_list("pk", "status"))
    assert (statuses[clean.pk], statuses[toxic.pk], statuses[reported.pk]) == ("published", "held", "held")
    assert "1 kept for a person" in response.content.decode()
    from moderation.policy import DEFAULT_THRESHOLDS

    assert Comment.objects.get(pk=toxic.pk).scores["TOXICITY"] >= DEFAULT_THRESHOLDS["TOXICITY"].publish
    assert not ModerationDecision.objects.exists()
    page = client.get(f"{QUEUE}{clean.pk}/change/").content.decode()
    assert "<td>system (asked by alice)</td><td>scored again (held → published)</td>" in page


def test_it_highlights_explained_words_and_escapes_everything_else():
    from moderation.admin import highlighted

    text = "<script>alert(1)</script> you idiot"
    html = highlighted(text, [{"begin": 30, "end": 35, "text": "idiot", "weight": 1.5}])
    assert html == '&lt;script&gt;alert(1)&lt;/script&gt; you <mark title="+1.50">idiot</mark>'
    assert highlighted(text, [{"begin": 30, "end": 35, "text": "idiot", "weight": 1.5}], limit=10).endswith("…")


def test_the_queue_shows_the_words_that_held_a_comment(client, alice, thread):
    from moderation import explaining, services

    comment = Comment.objects.create(thread=thread, author_name="T", body="Shut up, you worthless idiot.")
    assert services.comment_score(comment_id=comment.pk) == "held"
    client.force_login(alice)
    assert "<mark" not in client.get(QUEUE).content.decode()  # explained off the decision's path...
    assert explaining.comment_explain(comment_id=comment.pk)  # ...by the task that follows it
    page = client.get(QUEUE).content.decode()
    assert "<mark" in page and "idiot</mark>" in page


def test_a_comment_page_explains_a_held_comment_whose_explanation_has_not_run_yet(client, alice, thread):
    from moderation import services

    comment = Comment.objects.create(thread=thread, author_name="T", body="Shut up, you worthless idiot.")
    assert services.comment_score(comment_id=comment.pk) == "held"
    client.force_login(alice)
    page = client.get(f"{QUEUE}{comment.pk}/change/").content.decode()
    assert "idiot</mark>" in page and "Top words:" in page
    assert any("spans" in reason for reason in Comment.objects.get(pk=comment.pk).reasons)  # and kept


def test_nobody_deletes_a_comment_and_its_audit_trail_from_the_admin(client, thread):
    comment = make(thread, "text")
    client.force_login(User.objects.create_superuser("root", password="pw"))
    assert client.post(f"{QUEUE}{comment.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Comment.objects.filter(pk=comment.pk).exists()


def test_an_admin_creates_a_site_with_its_moderation_policy_on_one_page(db, client):
    from comments.models import Site

    root = User.objects.create_superuser("root", password="pw")
    client.force_login(root)
    page = client.get("/admin/comments/site/add/")
    assert page.status_code == 200 and b"Pre-moderation" in page.content
    form = {
        "name": "Gazette",
        "public_key": "gazette",
        "allowed_origins": '["https://gazette.example"]',
        "auto_create_threads": "on",
        "max_reply_depth": "8",
        "policy-TOTAL_FORMS": "1",
        "policy-INITIAL_FORMS": "0",
        "policy-MIN_NUM_FORMS": "1",
        "policy-MAX_NUM_FORMS": "1",
        "policy-0-thresholds": '{"TOXICITY": {"publish": 0.3, "reject": null}}',
        "policy-0-hold_all": "on",
        "policy-0-hold_links_at": "2",
        "policy-0-min_form_seconds": "3",
        "policy-0-webhook_secret": "s" * 64,
        "policy-0-report_threshold": "4",
        "policy-0-erasure": "anonymise",
    }
    response = client.post("/admin/comments/site/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    site = Site.objects.get(public_key="gazette")
    assert (site.policy.hold_all, site.policy.hold_links_at, site.policy.report_threshold) == (True, 2, 4)
    assert site.policy.erasure == "anonymise"
    assert site.policy.thresholds == {"TOXICITY": {"publish": 0.3, "reject": None}}
    page = client.get(f"/admin/comments/site/{site.pk}/change/").content.decode()
    assert "TOXICITY: hold at 0.3 (this site&#x27;s)" in page or "TOXICITY: hold at 0.3 (this site's)" in page
    assert "THREAT: hold at 0.105 (default)" in page
    form["policy-0-thresholds"] = '{"TOXICITY": {"publish": 2}}'
    refused = client.post(f"/admin/comments/site/{site.pk}/change/", form | {"policy-INITIAL_FORMS": "1"})
    assert refused.status_code == 200 and "must be a number from 0 to 1" in refused.content.decode()


def test_a_moderator_reads_the_delivery_log_and_retries_a_notification(thread, alice, client):
    from moderation import notifications

    thread.site.policy.webhook_url = "http://127.0.0.1:9/hook"  # nothing listens there
    thread.site.policy.save()
    comment = make(thread, "held text")
    [row] = notifications.decision_notify(comment_id=comment.pk, status="held")
    assert notifications.notification_deliver(notification_id=row.pk) == "retry"
    client.force_login(alice)
    log = client.get("/admin/moderation/notification/")
    assert log.status_code == 200 and "could not be reached" in log.content.decode()
    response = client.post(
        "/admin/moderation/notification/", {"action": "retry_now", "_selected_action": [row.pk]}, follow=True
    )
    assert "1 notification(s) queued again." in response.content.decode()
    row.refresh_from_db()
    assert row.state == "pending" and row.next_attempt_at <= timezone.now()
    assert notifications.notifications_due() == [row.pk]


def test_the_site_page_shows_the_secret_as_standard_webhooks_receivers_take_it(site, client):
    from moderation.webhooks import signing_secret

    client.force_login(User.objects.create_superuser("root", password="pw"))
    page = client.get(f"/admin/comments/site/{site.pk}/change/").content.decode()
    assert signing_secret(site.policy.webhook_secret) in page


@pytest.mark.parametrize(
    "url",
    [
        "/admin/comments/comment/?model=%00",
        "/admin/comments/comment/?q=a%00b",
        "/admin/moderation/moderationdecision/?q=%00",
        "/api/v1/comments?site=planet&thread=%00",
    ],
)
def test_a_nul_in_a_query_string_is_a_400_not_a_500(db, client, url):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    assert client.get(url).status_code == 400


def test_a_moderator_of_one_site_sees_nothing_of_another_site_anywhere_in_the_admin(client, alice, thread):
    from comments.models import Site
    from moderation import services

    other_site = Site.objects.create(name="Gazette", public_key="gazette")
    other_thread = Thread.objects.create(site=other_site, key="/secret-page")
    secret = make(other_thread, "a secret held comment")
    root = User.objects.create_superuser("root", password="pw")
    services.comment_moderate(comment_id=secret.pk, actor=root, action=ModerationAction.REJECT)
    thread.site.policy.moderators.add(alice)
    alice.user_permissions.clear()
    client.force_login(alice)
    for url in (
        "/admin/moderation/moderationdecision/",
        "/admin/moderation/moderationdecision/?q=secret",  # the search reads comment bodies
        "/admin/comments/thread/",
        "/admin/comments/comment/",
        "/admin/moderation/notification/",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        rows = list(page.context["cl"].result_list)
        assert all(site_of(row) != other_site.pk for row in rows), url
        body = page.content.decode()
        assert "a secret held comment" not in body and "/secret-page" not in body and "Gazette" not in body, url


def site_of(row) -> int:
    for path in ("site_id", "thread.site_id", "comment.thread.site_id"):
        value = row
        try:
            for part in path.split("."):
                value = getattr(value, part)
        except AttributeError:
            continue
        return value
    raise AssertionError(row)


def test_a_moderator_removed_from_their_only_site_moderates_nothing(client, alice, thread):
    make(thread, "held here")
    thread.site.policy.moderators.add(alice)
    alice.user_permissions.clear()
    thread.site.policy.moderators.remove(alice)  # on no site's list now, and no grant of every site
    client.force_login(alice)
    assert list(client.get(QUEUE).context["cl"].result_list) == []


def decide(client, comment, action, **fields):
    """Press one decide button of a comment, as its row's form posts it."""
    headers = fields.pop("headers", {})
    return client.post(f"{QUEUE}{comment.pk}/decide/", {"action": action, **fields}, **headers)


def test_every_row_of_the_queue_and_the_comment_page_have_the_decide_buttons(client, alice, thread):
    first, second = make(thread, "one"), make(thread, "two")
    client.force_login(alice)
    queue = client.get(QUEUE + "?status__exact=held").content.decode()
    changelist_form_end = queue.index("</form>", queue.index('id="changelist-form"'))
    for comment in (first, second):
        assert f'<form id="decide-form-{comment.pk}" method="post" action="{QUEUE}{comment.pk}/decide/">' in queue
        assert queue.index(f'id="decide-form-{comment.pk}"') > changelist_form_end  # forms cannot nest
        assert f'form="decide-form-{comment.pk}" name="action" value="approve"' in queue
    assert 'name="next" value="/admin/comments/comment/?status__exact=held"' in queue
    assert 'src="/static/moderation/desk.js"' in queue and 'id="moderato-help"' in queue
    page = client.get(f"{QUEUE}{first.pk}/change/").content.decode()
    assert f'<form id="decide-form-{first.pk}"' in page
    assert page.index(f'id="decide-form-{first.pk}"') < page.index('id="comment_form"')
    for action in ("approve", "reject", "spam", "not_spam", "toxic", "not_toxic"):
        assert f'name="action" value="{action}"' in page
    assert 'name="note"' in page


def test_a_decision_without_a_script_returns_to_the_same_page_of_the_queue(client, alice, thread):
    comment = make(thread, "text")
    client.force_login(alice)
    back = "/admin/comments/comment/?status__exact=held&p=2"
    response = decide(client, comment, "spam", note="advert for pills", status="held", next=back)
    assert response.status_code == 302
    assert response["Location"] == f"{back}#decide-{comment.pk}"
    decision = ModerationDecision.objects.get()
    assert (decision.actor, decision.action, decision.to_status, decision.note) == (alice, "spam", "rejected",
                                                                                  "advert for pills")  # fmt: skip
    assert "Mark as spam: comment" in client.get(response["Location"]).content.decode()


def test_a_decision_from_the_script_answers_json_and_goes_through_the_service(client, alice, thread):
    comment = make(thread, "text")
    client.force_login(alice)
    response = decide(client, comment, "approve", note="fine", headers={"HTTP_ACCEPT": "application/json"})
    assert response.status_code == 200
    assert response.json() == {
        "comment": comment.pk,
        "status": "published",
        "status_label": "Published",
        "action": "approve",
        "message": f"Approve (publish): comment #{comment.pk} (note: fine).",
    }
    assert ModerationDecision.objects.get().note == "fine"


def test_a_decision_on_a_comment_someone_else_decided_meanwhile_changes_nothing(client, alice, thread):
    comment = make(thread, "text", status="published")
    client.force_login(alice)
    response = decide(client, comment, "reject", status="held", headers={"HTTP_ACCEPT": "application/json"})
    assert response.status_code == 409
    assert response.json()["status"] == "published" and "no longer held" in response.json()["error"]
    assert not ModerationDecision.objects.exists()


def test_a_decision_goes_back_to_the_queue_never_to_another_site(client, alice, thread):
    comment = make(thread, "text")
    client.force_login(alice)
    response = decide(client, comment, "approve", next="https://evil.example/admin/")
    assert response["Location"] == f"{QUEUE}#decide-{comment.pk}"


def test_the_decide_view_checks_method_action_permission_site_and_csrf(client, alice, bob, thread):
    from django.test import Client

    from comments.models import Site

    comment = make(thread, "text")
    elsewhere = make(Thread.objects.create(site=Site.objects.create(name="Other", public_key="other"), key="/x"), "x")
    thread.site.policy.moderators.add(alice)
    alice.user_permissions.clear()  # moderates this thread's site only
    client.force_login(alice)
    assert client.get(f"{QUEUE}{comment.pk}/decide/").status_code == 405
    assert decide(client, comment, "publish_everything", headers={"HTTP_ACCEPT": "application/json"}).status_code == 400
    assert decide(client, elsewhere, "approve").status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(f"{QUEUE}{comment.pk}/decide/", {"action": "approve"}).status_code == 403
    client.force_login(bob)
    assert decide(client, comment, "approve").status_code == 403
    assert not ModerationDecision.objects.exists()
    assert set(Comment.objects.values_list("status", flat=True)) == {"held"}


def test_the_queue_and_the_page_say_held_or_rejected_with_the_score_and_its_threshold(client, alice, thread):
    hold = {
        "code": "hold_threshold",
        "detail": "old wording",
        "attribute": "TOXICITY",
        "score": 0.9712,
        "threshold": 0.5,
    }
    reject = {
        "code": "reject_threshold",
        "detail": "old wording",
        "attribute": "SPAM",
        "score": 0.99,
        "threshold": 0.965,
    }
    held = make(thread, "held", reasons=[hold])
    make(thread, "rejected", status="rejected", reasons=[reject])
    make(thread, "first", reasons=[{"code": "first_comment", "detail": "The site holds a commenter's first comment."}])
    client.force_login(alice)
    queue = client.get(QUEUE).content.decode()
    assert "Held: TOXICITY 0.97, hold threshold 0.50" in queue
    assert "Rejected: SPAM 0.990, reject threshold 0.965" in queue
    assert "The site holds a commenter&#x27;s first comment." in queue and "old wording" not in queue
    assert "Held: TOXICITY 0.97, hold threshold 0.50" in client.get(f"{QUEUE}{held.pk}/change/").content.decode()


def test_the_queue_highlights_no_function_word_or_punctuation_and_shows_each_weight(client, alice, thread):
    body = "Shut up, you worthless idiot."
    spans = [
        {"begin": 5, "end": 7, "text": "up", "weight": 0.4},
        {"begin": 7, "end": 8, "text": ",", "weight": 0.3},
        {"begin": 9, "end": 12, "text": "you", "weight": 0.35},
        {"begin": 13, "end": 22, "text": "worthless", "weight": 0.8},
        {"begin": 23, "end": 28, "text": "idiot", "weight": 1.25},
    ]
    reason = {"code": "hold_threshold", "detail": "", "attribute": "TOXICITY", "score": 0.97, "threshold": 0.5}
    comment = make(thread, body, reasons=[{**reason, "spans": spans}])
    client.force_login(alice)
    for page in (client.get(QUEUE).content.decode(), client.get(f"{QUEUE}{comment.pk}/change/").content.decode()):
        assert page.count("<mark") == 2
        assert '<mark title="TOXICITY +1.25">idiot</mark>' in page
        assert '<mark title="TOXICITY +0.80">worthless</mark>' in page
        assert ">up</mark>" not in page and ">,</mark>" not in page and ">you</mark>" not in page


def test_the_admin_says_moderato_and_how_many_comments_wait(client, alice, bob, thread):
    cache_clear()
    make(thread, "one"), make(thread, "two"), make(thread, "done", status="published")
    client.force_login(alice)
    page = client.get("/admin/").content.decode()
    assert "<title>Moderation | Moderato</title>" in page and ">Moderato</a>" in page
    assert "Django administration" not in page
    assert f'href="{QUEUE}?status__exact=held">2 held</a>' in page
    client.force_login(bob)  # staff, no moderator: no count
    assert " held</a>" not in client.get("/admin/password_change/").content.decode()


def test_the_held_count_is_of_the_moderator_s_sites_and_kept_briefly(client, alice, thread):
    from comments.models import Site
    from moderation.templatetags.moderato_admin import held_count

    cache_clear()
    make(Thread.objects.create(site=Site.objects.create(name="Other", public_key="other"), key="/x"), "elsewhere")
    make(thread, "mine")
    thread.site.policy.moderators.add(alice)
    alice.user_permissions.clear()
    alice = User.objects.get(pk=alice.pk)  # without the cached permissions
    assert held_count(user=alice) == 1
    make(thread, "another")
    assert held_count(user=alice) == 1  # kept a few seconds: one COUNT per page view at most
    cache_clear()
    assert held_count(user=alice) == 2


def test_model_versions_lists_the_shipped_models_in_use_until_a_version_row_exists(client, alice):
    from moderation.models import ModelVersion
    from moderation.scoring import get_scorer

    alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    versions = get_scorer().versions
    page = client.get("/admin/moderation/modelversion/").content.decode()
    assert 'id="shipped-versions"' in page
    for name, version in versions.items():
        assert f"<td>{version}</td><td>{name}</td><td>active (shipped)</td>" in page
    assert "IDENTITY_ATTACK" in page and "SPAM 0.754/0.944" in page
    ModelVersion.objects.create(name="spam", version=versions["spam"], status=ModelVersion.Status.ACTIVE)
    page = client.get("/admin/moderation/modelversion/").content.decode()
    assert f"<td>{versions['spam']}</td><td>spam</td><td>active (shipped)</td>" not in page
    assert f"<td>{versions['toxicity']}</td><td>toxicity</td><td>active (shipped)</td>" in page


def test_training_labels_count_a_moderator_s_label_as_soon_as_it_is_made(client, thread):
    comment, other = make(thread, "you fool"), make(thread, "buy pills")
    client.force_login(User.objects.create_superuser("root", password="pw"))  # the page is an administrator's
    url = "/admin/moderation/traininglabel/"
    assert "No moderator has labelled a comment yet." in client.get(url).content.decode()
    act(client, "toxic", comment)
    act(client, "approve", other)  # teaches nothing
    page = client.get(url).content.decode()
    assert "<tr><td>TOXICITY</td><td>1</td><td>0</td><td>1</td></tr>" in page
    act(client, "not_toxic", comment)  # the latest label of a comment counts, once
    act(client, "spam", other)
    page = client.get(url).content.decode()
    assert "<tr><td>TOXICITY</td><td>0</td><td>1</td><td>1</td></tr>" in page
    assert "<tr><td>SPAM</td><td>1</td><td>0</td><td>1</td></tr>" in page


@pytest.fixture
def boris(db):
    """A moderator of every site who reads Bulgarian and Macedonian only."""
    from moderation.models import ModeratorLanguages

    user = User.objects.create_user("boris", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(user)
    ModeratorLanguages.objects.create(user=user, languages="bg mk")
    return user


def test_a_moderator_limited_to_languages_sees_only_those_in_the_queue_and_its_held_count(client, boris, thread):
    bulgarian = make(thread, "Задържан коментар", language="bg", script="Cyrl")
    make(thread, "Koment i mbajtur", language="sq", script="Latn")
    make(thread, "ok", language="", script="")
    client.force_login(boris)
    cache_clear()
    response = client.get(QUEUE)
    assert [c.pk for c in response.context["cl"].result_list] == [bulgarian.pk]
    page = response.content.decode()
    assert ">1 held</a>" in page
    filters = {spec.title: [title for _, title in spec.lookup_choices] for spec in response.context["cl"].filter_specs
               if hasattr(spec, "lookup_choices") and spec.title in {"language", "script"}}  # fmt: skip
    assert filters["language"] == ["bg", "mk"]


def test_a_moderator_limited_to_languages_cannot_open_or_decide_another_language(client, boris, thread):
    albanian = make(thread, "Koment i mbajtur", language="sq", script="Latn")
    client.force_login(boris)
    assert client.get(f"{QUEUE}{albanian.pk}/change/", follow=True).redirect_chain[-1][0] == "/admin/"
    answer = client.post(f"{QUEUE}{albanian.pk}/decide/", {"action": "approve"}, headers={"accept": "application/json"})
    assert answer.status_code == 404
    act(client, "reject", albanian)
    assert Comment.objects.get(pk=albanian.pk).status == "held"
    assert not ModerationDecision.objects.exists()


def test_the_decisions_and_edits_lists_follow_the_moderators_languages(client, boris, thread, alice):
    from moderation import services

    for body, code in (("Задържан", "bg"), ("Mbajtur", "sq")):
        comment = make(thread, body, language=code, script="Cyrl" if code == "bg" else "Latn")
        services.comment_moderate(comment_id=comment.pk, actor=alice, action=ModerationAction.APPROVE)
    client.force_login(boris)
    decisions = client.get("/admin/moderation/moderationdecision/").context["cl"].result_list
    assert [d.comment.body for d in decisions] == ["Задържан"]


def test_the_comment_status_api_shows_a_limited_moderator_only_their_languages(client, boris, thread):
    albanian = make(thread, "Koment i mbajtur", language="sq", script="Latn", scores={"TOXICITY": 0.9})
    bulgarian = make(thread, "Задържан", language="bg", script="Cyrl", scores={"TOXICITY": 0.9})
    client.force_login(boris)
    assert "moderation" not in client.get(f"/api/v1/comments/{albanian.pk}").json()
    assert client.get(f"/api/v1/comments/{bulgarian.pk}").json()["moderation"]["status"] == "held"


def test_it_refuses_a_languages_row_that_names_no_language_with_a_field_message(client, alice):
    from django.contrib.auth.models import User as Person

    superuser = Person.objects.create_superuser("root", password="pw")
    client.force_login(superuser)
    response = client.post("/admin/moderation/moderatorlanguages/add/", {"user": alice.pk, "languages": "Albanian"})
    assert response.status_code == 200
    assert "is not a language" in response.content.decode()
    response = client.post("/admin/moderation/moderatorlanguages/add/", {"user": alice.pk, "languages": "sq, sr-Latn"})
    assert response.status_code == 302
