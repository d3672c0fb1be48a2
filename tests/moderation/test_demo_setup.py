import io

from django.core.management import call_command

from comments.models import Site
from moderation.compat.models import ApiKey
from moderation.compat.services import api_key_authenticate


def test_it_creates_the_demo_site_admin_and_api_key_once(db, capsys, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("demo_setup")
    first = capsys.readouterr().out.splitlines()
    call_command("demo_setup")
    second = capsys.readouterr().out.splitlines()
    assert first == second  # running again keeps the data and prints the same login and key
    assert first[0].startswith("Admin: http://127.0.0.1:8000/admin/ user admin password ")
    site = Site.objects.get(public_key="demo")
    assert site.allowed_origins == ["http://127.0.0.1:8000", "http://localhost:8000"] and not site.policy.hold_all
    key = first[1].rsplit(" ", 1)[1]
    assert ApiKey.objects.count() == 1
    assert api_key_authenticate(key=key).site == site


def test_it_allows_the_demo_page_on_the_port_make_run_uses(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("demo_setup", base_url="http://127.0.0.1:8101", stdout=io.StringIO())
    site = Site.objects.get(public_key="demo")
    assert site.allowed_origins == ["http://127.0.0.1:8101", "http://localhost:8101"]
    call_command("demo_setup", base_url="http://127.0.0.1:8000", stdout=io.StringIO())
    site.refresh_from_db()  # a later run on another port adds its origins and keeps the others
    assert site.allowed_origins == [
        "http://127.0.0.1:8101",
        "http://localhost:8101",
        "http://127.0.0.1:8000",
        "http://localhost:8000",
    ]
