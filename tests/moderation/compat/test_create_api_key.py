from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from moderation.compat import services
from moderation.compat.models import ApiKey


def test_it_prints_a_working_key(site):
    out = StringIO()
    call_command("create_api_key", "--site", "planet", "--name", "Coral", stdout=out)
    key = out.getvalue().strip()
    api_key = services.api_key_authenticate(key=key)
    assert api_key.site == site and api_key.name == "Coral"


def test_it_sets_the_rate_limit(site):
    call_command("create_api_key", "--site", "planet", "--requests-per-minute", "0", stdout=StringIO())
    assert ApiKey.objects.get().requests_per_minute == 0


def test_it_refuses_an_unknown_site(db):
    with pytest.raises(CommandError, match="nowhere"):
        call_command("create_api_key", "--site", "nowhere", stdout=StringIO())
