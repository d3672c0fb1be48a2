"""Fixtures of the compatibility API tests: a site's API key, and an empty cache (rate counters)."""

import pytest

from moderation.compat import services
from tests.conftest import cache_clear

CLEAN = "Thanks for the article, I learned a lot about the new bridge."
TOXIC = "You are a worthless idiot and a disgusting piece of trash, shut up"
SPAM = "Earn $5000 a week from home!!! Click http://bit.ly/xyz and DM me on WhatsApp +1 555 0100 now"


@pytest.fixture(autouse=True)
def empty_cache():
    cache_clear()
    yield
    cache_clear()


@pytest.fixture
def key(site) -> str:
    """An API key of the ``site`` fixture (Daily Planet)."""
    _, secret = services.api_key_create(site=site, name="Coral Talk")
    return secret
