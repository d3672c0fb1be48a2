import re

import pytest
from django.contrib.auth.models import User

from moderation.compat import services
from moderation.compat.models import ApiKey, TrainingLabel

KEYS = "/admin/moderation/apikey/"


@pytest.fixture
def carol(db):
    """An administrator."""
    return User.objects.create_superuser("carol", password="pw")


def test_it_shows_a_new_key_once_and_stores_only_its_hash(client, carol, site):
    client.force_login(carol)
    response = client.post(f"{KEYS}add/", {"site": site.pk, "name": "Coral", "requests_per_minute": 120}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    key = re.search(r"\b(mod[0-9a-f]{40})\b", page).group(1)
    api_key = ApiKey.objects.get()
    assert api_key.requests_per_minute == 120 and api_key.name == "Coral"
    assert services.api_key_authenticate(key=key) == api_key
    assert key not in client.get(f"{KEYS}{api_key.pk}/change/").content.decode()
    assert key not in client.get(KEYS).content.decode()
    assert api_key.prefix in client.get(KEYS).content.decode()


def test_it_revokes_keys_from_the_list(client, carol, site, key):
    client.force_login(carol)
    api_key = ApiKey.objects.get()
    response = client.post(KEYS, {"action": "revoke", "_selected_action": [api_key.pk]}, follow=True)
    assert "Revoked 1 API key(s)." in response.content.decode()
    assert services.api_key_authenticate(key=key) is None


def test_it_edits_the_rate_limit_of_a_key(client, carol, site, key):
    client.force_login(carol)
    api_key = ApiKey.objects.get()
    response = client.post(f"{KEYS}{api_key.pk}/change/", {"name": "Renamed", "requests_per_minute": 5})
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert (api_key.name, api_key.requests_per_minute) == ("Renamed", 5)
    assert services.api_key_authenticate(key=key) == api_key


def test_it_lists_clients_labels_read_only(client, carol, site):
    label = services.training_label_create(
        site=site, text="Buy now", labels={"SPAM": 1}, source=TrainingLabel.Source.AKISMET
    )
    client.force_login(carol)
    assert "Buy now" in client.get("/admin/moderation/traininglabel/").content.decode()
    assert client.get("/admin/moderation/traininglabel/add/").status_code == 403
    assert client.post(f"/admin/moderation/traininglabel/{label.pk}/change/", {"text": "x"}).status_code == 403
