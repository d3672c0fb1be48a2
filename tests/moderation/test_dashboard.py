"""The moderators' dashboard: its figures, its charts, who sees what, and a query count that does not grow."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comments.models import Comment, Site, Thread
from moderation import dashboard, services
from moderation.models import ModerationAction, ModeratorLanguages
from tests.conftest import cache_clear, moderate_every_site

URL = "/admin/dashboard/"
ATTRIBUTES = ["SPAM", "TOXICITY"]
HELD_FOR_TOXICITY = [{"code": "hold_threshold", "attribute": "TOXICITY", "score": 0.9, "threshold": 0.5}]


@pytest.fixture
def alice(db):
    user = User.objects.create_user("alice", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="moderators"))
    return moderate_every_site(user)


@pytest.fixture
def thread(site):
    return Thread.objects.create(site=site, key="/news/bridge")


def make(thread, status="held", days_ago=0, **fields):
    comment = Comment.objects.create(
        thread=thread, author_name="R", body=fields.pop("body", "text"), status=status,
        decided_at=None if status == "pending" else timezone.now(), **fields,
    )  # fmt: skip
    Comment.objects.filter(pk=comment.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return comment


def test_it_counts_what_waits_per_site_with_the_oldest_wait(alice, thread):
    other = Thread.objects.create(site=Site.objects.create(name="Other", public_key="other"), key="/a")
    make(thread, days_ago=3), make(thread, days_ago=1), make(thread, status="published"), make(other)
    figures = dashboard.dashboard_read(user=alice, attributes=ATTRIBUTES)
    by_site = {row["name"]: row for row in figures.waiting}
    assert by_site[thread.site.name]["held"] == 2 and by_site["Other"]["held"] == 1
    assert timedelta(days=2, hours=23) < by_site[thread.site.name]["waited"] < timedelta(days=3, hours=1)
    assert figures.waiting[0]["name"] == thread.site.name  # the longest wait first


def test_it_tells_the_models_decisions_from_the_moderators(alice, thread):
    overturned = make(thread, reasons=HELD_FOR_TOXICITY, scores={"TOXICITY": 0.9})
    upheld = make(thread, reasons=HELD_FOR_TOXICITY, scores={"TOXICITY": 0.95})
    missed = make(thread, status="published", scores={"TOXICITY": 0.1})
    make(thread, status="published", days_ago=2, scores={"TOXICITY": 0.05})
    make(thread, status="published", days_ago=45)  # older than the 30 days
    services.comment_moderate(comment_id=overturned.pk, actor=alice, action=ModerationAction.APPROVE)
    services.comment_moderate(comment_id=upheld.pk, actor=alice, action=ModerationAction.REJECT)
    services.comment_moderate(comment_id=missed.pk, actor=alice, action=ModerationAction.TOXIC)
    figures = dashboard.dashboard_read(user=alice, attributes=ATTRIBUTES)
    assert len(figures.days) == 30 and figures.days[-1] == timezone.localdate()
    # the model held two and published one today (what a person did later does not change that), one 2 days ago
    assert figures.by_model["held"][-1] == 2 and figures.by_model["published"][-1] == 1
    assert figures.by_model["published"][-3] == 1 and sum(figures.by_model["published"]) == 2
    assert figures.by_person["published"][-1] == 1 and figures.by_person["rejected"][-1] == 2
    toxicity = {row.attribute: row for row in figures.agreement}["TOXICITY"]
    assert (toxicity.overturned, toxicity.upheld, toxicity.missed) == (1, 1, 1)
    assert toxicity.share_overturned == 0.5
    assert {row.attribute: row for row in figures.agreement}["SPAM"].share_overturned is None


def test_its_histograms_count_published_and_held_per_score_band(alice, thread):
    for score in (0.05, 0.07, 0.55, 1.0):
        make(thread, status="published", scores={"TOXICITY": score, "SPAM": 0.01})
    make(thread, scores={"TOXICITY": 0.93})
    make(thread, status="rejected", scores={"TOXICITY": 0.99})  # neither published nor held
    toxicity = dashboard.dashboard_read(user=alice, attributes=ATTRIBUTES).histograms["TOXICITY"]
    assert toxicity["published"] == [2, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert toxicity["held"] == [0] * 9 + [1]


def test_a_moderator_sees_the_figures_of_their_sites_and_languages_only(thread):
    other = Thread.objects.create(site=Site.objects.create(name="Other", public_key="other"), key="/a")
    boris = User.objects.create_user("boris", password="pw", is_staff=True)
    boris.groups.add(Group.objects.get(name="moderators"))
    thread.site.policy.moderators.add(boris)
    ModeratorLanguages.objects.create(user=boris, languages="bg")
    make(thread, language="bg", script="Cyrl"), make(thread, language="sq", script="Latn"), make(other, language="bg")
    figures = dashboard.dashboard_read(user=User.objects.get(pk=boris.pk), attributes=ATTRIBUTES)
    assert [(row["name"], row["held"]) for row in figures.waiting] == [(thread.site.name, 1)]
    assert sum(figures.by_model["held"]) == 1


def test_the_page_draws_its_charts_as_svg_and_the_index_links_to_it(client, alice, thread):
    make(thread, reasons=HELD_FOR_TOXICITY, scores={"TOXICITY": 0.9, "SPAM": 0.02}, body="<script>x</script>")
    client.force_login(alice)
    cache_clear()  # the figures another test's page kept (Redis outlives the rows)
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        html.count('<svg class="moderato-chart"') == 5
    )  # decisions by the model and by people, agreement, two histograms
    assert "TOXICITY scores of published and held comments" in html and "SPAM scores" in html
    assert "toxicity-" in html and "spam-" in html  # the models scoring now
    assert "<script>x</script>" not in html
    assert 'href="/admin/dashboard/"' in client.get("/admin/").content.decode()


def test_staff_who_do_not_moderate_cannot_open_it(client, db):
    client.force_login(User.objects.create_user("bob", password="pw", is_staff=True))
    assert client.get(URL).status_code == 403
    assert 'href="/admin/dashboard/"' not in client.get("/admin/").content.decode()


def queries(client) -> int:
    cache_clear()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200
    return len(captured)


def test_its_queries_do_not_grow_with_the_comments(client, alice, thread, settings):
    settings.MODERATO_MODEL_REFRESH_SECONDS = 3600
    client.force_login(alice)

    def fill(n, offset):
        for i in range(n):
            comment = make(thread, days_ago=i % 30, reasons=HELD_FOR_TOXICITY, scores={"TOXICITY": (i % 10) / 10})
            action = ModerationAction.APPROVE if (i + offset) % 2 else ModerationAction.REJECT
            services.comment_moderate(comment_id=comment.pk, actor=alice, action=action)
        Thread.objects.create(site=Site.objects.create(name=f"S{offset}", public_key=f"s{offset}"), key="/x")

    fill(5, 0)
    queries(client)
    few = queries(client)
    fill(60, 1)
    assert queries(client) == few
    assert few <= 13  # session, user, 2 of permissions, languages, held count; 5 of figures; 2 of model lists


def test_a_reload_within_the_minute_reads_the_figures_kept_not_the_comments(client, alice, thread, settings):
    settings.MODERATO_MODEL_REFRESH_SECONDS = 3600
    client.force_login(alice)
    make(thread)
    cold = queries(client)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200
    assert len(captured) <= cold - 5  # the five figure queries are not run again
    assert not any("comments_comment" in query["sql"] for query in captured.captured_queries)


def test_a_moderator_of_a_language_in_one_script_sees_that_script_only(thread):
    boris = User.objects.create_user("boris", password="pw", is_staff=True)
    boris.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(boris)
    ModeratorLanguages.objects.create(user=boris, languages="sr-Cyrl bg")
    make(thread, language="sr", script="Cyrl"), make(thread, language="sr", script="Latn")
    make(thread, language="bg", script="Cyrl"), make(thread, language="", script="")
    figures = dashboard.dashboard_read(user=User.objects.get(pk=boris.pk), attributes=ATTRIBUTES)
    assert [row["held"] for row in figures.waiting] == [2]


@pytest.fixture
def eager_tasks():
    """Tasks queued by the page run in it (the real task, no broker), as a worker would run them."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_figures_a_minute_old_are_shown_while_a_task_computes_them_again(client, alice, thread, eager_tasks):
    client.force_login(alice)
    make(thread)
    cache_clear()
    assert client.get(URL).context["figures"].waiting[0]["held"] == 1
    make(thread)
    assert client.get(URL).context["figures"].waiting[0]["held"] == 1  # kept: the rows are fresh
    dashboard.dashboard_rows_age(seconds=dashboard.CACHE_SECONDS + 1, attributes=dashboard.dashboard_attributes())
    with CaptureQueriesContext(connection) as captured:
        page = client.get(URL)
    assert page.context["figures"].waiting[0]["held"] == 1  # the page shows the old rows at once...
    assert any("comments_comment" in query["sql"] for query in captured.captured_queries)  # ...the task ran
    assert client.get(URL).context["figures"].waiting[0]["held"] == 2  # and the next page shows its rows


def test_figures_no_worker_refreshed_for_ten_minutes_are_computed_by_the_page(client, alice, thread):
    client.force_login(alice)
    make(thread)
    cache_clear()
    client.get(URL)
    make(thread)
    dashboard.dashboard_rows_age(seconds=dashboard.STALE_SECONDS + 1, attributes=dashboard.dashboard_attributes())
    assert client.get(URL).context["figures"].waiting[0]["held"] == 2
