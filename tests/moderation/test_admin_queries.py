"""Query counts of the moderators' pages: they must not grow with the rows on the page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comments.models import Thread
from moderation.models import CommenterFlag, ModerationAction
from tests.conftest import cache_clear
from tests.moderation.test_admin import QUEUE, alice, make  # noqa: F401  (alice is a fixture)

REASON = {"code": "hold_threshold", "detail": "", "attribute": "TOXICITY", "score": 0.97, "threshold": 0.5,
          "spans": [{"begin": 0, "end": 4, "text": "Shut", "weight": 0.5}]}  # fmt: skip


@pytest.fixture(autouse=True)
def active_models_read_once(settings):
    """The scorer looks up the active model versions again after MODERATO_MODEL_REFRESH_SECONDS: on a
    busy machine that fell between two measured requests and counted three more queries in one."""
    settings.MODERATO_MODEL_REFRESH_SECONDS = 3600


@pytest.fixture
def thread(site):
    return Thread.objects.create(site=site, key="/news/bridge")


def queries(client, url: str) -> int:
    cache_clear()  # the held count's COUNT is part of every page
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def fill(thread, n: int, **fields) -> list:
    return [
        make(thread, f"Shut up number {i}", reasons=[REASON], scores={"TOXICITY": 0.97}, **fields) for i in range(n)
    ]


def test_the_queue_costs_the_same_queries_for_5_rows_as_for_50(client, alice, thread):  # noqa: F811
    client.force_login(alice)
    fill(thread, 5)
    queries(client, QUEUE)  # the first request of a process reads which model versions are active
    few = queries(client, QUEUE)
    fill(thread, 45, ip_hash="h", author_email="x@example.org")
    assert queries(client, QUEUE) == few
    assert few <= 13


def test_the_queue_stays_within_its_query_budget(client, alice, thread, django_assert_max_num_queries):  # noqa: F811
    fill(thread, 50)
    client.force_login(alice)
    cache_clear()
    with django_assert_max_num_queries(13):
        client.get(QUEUE + "?status__exact=held")


def test_a_comment_page_stays_within_its_query_budget(client, alice, thread, django_assert_max_num_queries):  # noqa: F811
    from moderation import services

    parent = make(thread, "parent", status="published")
    comment = make(thread, "Shut up", parent=parent, root=parent, commenter="t" * 22, reasons=[REASON])
    for i in range(30):
        make(thread, f"reply {i}", status="published", parent=comment, root=parent)
    for i in range(10):
        make(thread, f"history {i}", status="published", commenter="t" * 22)
    CommenterFlag.objects.create(site=thread.site, identity="commenter:" + "t" * 22, kind="trusted")
    for action in [ModerationAction.TOXIC, ModerationAction.NOT_TOXIC, ModerationAction.REJECT] * 5:
        services.comment_moderate(comment_id=comment.pk, actor=alice, action=action, note="n")
    client.force_login(alice)
    cache_clear()
    # 15 decisions, 30 replies, 11 comments of the commenter; the story costs 2 (the decisions it replaced, 1).
    with django_assert_max_num_queries(14):
        page = client.get(f"{QUEUE}{comment.pk}/change/")
    assert page.status_code == 200


def test_a_moderator_limited_to_languages_costs_the_same_queries_for_5_rows_as_for_50(client, thread):
    from django.contrib.auth.models import Group, User

    from moderation.models import ModeratorLanguages
    from tests.conftest import moderate_every_site

    boris = User.objects.create_user("boris", password="pw", is_staff=True)
    boris.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(boris)
    ModeratorLanguages.objects.create(user=boris, languages="bg sr-Cyrl")
    client.force_login(boris)
    fill(thread, 5, language="bg", script="Cyrl")
    fill(thread, 5, language="sq", script="Latn")
    queries(client, QUEUE)
    few = queries(client, QUEUE)
    fill(thread, 45, language="bg", script="Cyrl", ip_hash="h", author_email="x@example.org")
    assert queries(client, QUEUE) == few
    assert few <= 14  # the moderators' own budget and one read of their languages


def test_a_comment_page_costs_the_same_queries_for_a_short_story_as_for_a_long_one(client, alice, thread):  # noqa: F811
    from comments.services import comment_report
    from moderation import services

    def page_of(comment) -> int:
        queries(client, f"{QUEUE}{comment.pk}/change/")  # the first request of a process reads the active models
        return queries(client, f"{QUEUE}{comment.pk}/change/")

    client.force_login(alice)
    short = make(thread, "Shut up", reasons=[REASON])
    services.comment_moderate(comment_id=short.pk, actor=alice, action=ModerationAction.APPROVE, note="n")
    long = make(thread, "Shut up too", reasons=[REASON])
    for action in [ModerationAction.APPROVE, ModerationAction.REJECT] * 10:
        services.comment_moderate(comment_id=long.pk, actor=alice, action=action, note="n")
    services.comment_moderate(comment_id=long.pk, actor=alice, action=ModerationAction.APPROVE)
    for n in range(3):  # the third sends it back to the queue
        comment_report(comment_id=long.pk, site_key=thread.site.public_key, reason="r", address=f"10.0.0.{n}")
    assert page_of(short) == page_of(long)


def test_a_comment_page_costs_the_same_queries_with_5_as_with_50_of_everything(client, alice, thread):  # noqa: F811
    from moderation import services

    comment = make(thread, "Shut up", commenter="t" * 22, ip_hash="h", reasons=[REASON])
    client.force_login(alice)

    def grow(n: int) -> None:
        for i in range(n):
            make(thread, f"reply {i}", status="published", parent=comment, root=comment)
            make(thread, f"history {i}", status="published", commenter="t" * 22, ip_hash="h")
            services.comment_moderate(comment_id=comment.pk, actor=alice, action=ModerationAction.REJECT, note="n")

    grow(5)
    queries(client, f"{QUEUE}{comment.pk}/change/")
    few = queries(client, f"{QUEUE}{comment.pk}/change/")
    grow(45)
    assert queries(client, f"{QUEUE}{comment.pk}/change/") == few


def test_the_queue_lists_no_link_per_thread_or_site_and_its_queries_do_not_grow_with_them(client, alice, thread):  # noqa: F811
    from comments.models import Site

    client.force_login(alice)
    fill(thread, 50)
    queries(client, QUEUE)
    few = queries(client, QUEUE)
    for i in range(30):  # 30 sites with a thread and a published comment each: after the 50 held ones
        site = Site.objects.create(name=f"Flooded {i}", public_key=f"flooded{i}")
        make(Thread.objects.create(site=site, key=f"/flood/page-{i}"), "spam", status="published")
    assert queries(client, QUEUE) == few
    page = client.get(QUEUE).content.decode()
    assert "/flood/page-" not in page and "Flooded 1" not in page  # no filter link names them
    assert 'name="thread"' in page and 'name="site"' in page  # both filters are typed into


def test_the_queue_reads_its_first_page_from_the_queue_order_index(rf, alice, thread):  # noqa: F811
    """Held first, oldest first, then by id, as the comment_queue_order index orders them: the first page
    reads 50 entries of it instead of sorting every comment (the planner is told not to sort where it may)."""
    from django.contrib.admin import site as admin_site

    from comments.models import Comment

    fill(thread, 60)
    request = rf.get(QUEUE)
    request.user = alice
    changelist = admin_site.get_model_admin(Comment).get_changelist_instance(request)
    sql, params = changelist.get_queryset(request)[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL enable_seqscan = off")
        else:
            cursor.execute("ANALYZE")
        cursor.execute(("EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ") + sql, params)
        plan = " ".join(str(part) for row in cursor.fetchall() for part in row)
    assert "comment_queue_order" in plan, plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan and "Sort Key" not in plan, plan
