import time

import pytest

from comments import tokens


def test_a_commenter_token_names_its_commenter_on_its_own_site_only():
    token = tokens.commenter_token_make(site_id=1, commenter="abc")
    assert tokens.commenter_token_read(token=token, site_id=1) == "abc"
    assert tokens.commenter_token_read(token=token, site_id=2) is None
    assert tokens.commenter_token_read(token=token[:-2] + "xx", site_id=1) is None
    assert tokens.commenter_token_read(token="", site_id=1) is None


def test_a_token_of_another_kind_never_passes_for_a_commenter_token():
    form = tokens.form_token_make(site_id=1)
    assert tokens.commenter_token_read(token=form, site_id=1) is None
    assert not tokens.status_token_valid(comment_id=1, token=form)


def test_a_commenter_token_expires(settings, monkeypatch):
    settings.MODERATO_COMMENTER_TOKEN_DAYS = 30
    token = tokens.commenter_token_make(site_id=1, commenter="abc")
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 29 * 86400)
    assert tokens.commenter_token_read(token=token, site_id=1) == "abc"
    monkeypatch.setattr(time, "time", lambda: now + 31 * 86400)
    assert tokens.commenter_token_read(token=token, site_id=1) is None


def test_a_status_token_opens_its_own_comment_only():
    token = tokens.status_token(comment_id=7)
    assert tokens.status_token_valid(comment_id=7, token=token)
    assert not tokens.status_token_valid(comment_id=8, token=token)
    assert not tokens.status_token_valid(comment_id=7, token="")


def test_a_form_token_says_how_long_ago_it_was_issued(monkeypatch):
    token = tokens.form_token_make(site_id=1)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 12.5)
    assert tokens.form_token_seconds(token=token, site_id=1) == pytest.approx(12.5, abs=0.05)
    assert tokens.form_token_seconds(token="", site_id=1) is None


@pytest.mark.parametrize("forged", ["1:abc", "x" * 500, "made-up"])
def test_a_forged_or_foreign_form_token_counts_as_no_time_at_all(forged):
    assert tokens.form_token_seconds(token=forged, site_id=1) == 0.0
    assert tokens.form_token_seconds(token=tokens.form_token_make(site_id=2), site_id=1) == 0.0
