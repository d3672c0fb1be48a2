"""The dashboard in a real browser: reached from the admin index, its charts drawn, nothing fetched elsewhere."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from moderation import services
from moderation.models import ModerationAction
from tests.browser.test_desk import held, log_in  # noqa: F401  (held is a fixture)
from tests.conftest import cache_clear

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def cached_counts_forgotten():
    """The pages cache the held count and the figures (the cache outlives the test's rows): this test
    would read figures an earlier page kept, and the desk's tests that follow this test's "6 held"."""
    cache_clear()
    yield
    cache_clear()


def test_the_dashboard_renders_its_charts(page: Page, live_server, held):  # noqa: F811
    moderator = log_in(page, live_server)
    for comment, action in zip(held[:4], [ModerationAction.APPROVE, ModerationAction.REJECT] * 2, strict=True):
        services.comment_moderate(comment_id=comment.pk, actor=moderator, action=action)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Dashboard").click()
    expect(page).to_have_title("Dashboard | Moderato")
    charts = page.locator("svg.moderato-chart")
    expect(charts).to_have_count(5)
    for i in range(5):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 40
        # every chart has drawn bars: a bar of some size, not only axes
        assert charts.nth(i).locator("rect.moderato-chart-bar").count() > 0
    bars = page.evaluate(
        "[...document.querySelectorAll('rect.moderato-chart-bar')].filter(r => r.getBBox().height > 0).length"
    )
    assert bars >= 5
    expect(page.locator(".moderato-waiting")).to_contain_text("Daily Planet")
    expect(page.locator(".moderato-waiting")).to_contain_text("6")  # ten held, four decided
    expect(page.locator(".moderato-models")).to_contain_text("toxicity-")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert errors == []
    assert all(url.startswith(live_server.url) for url in requested), requested  # no CDN, no other origin
