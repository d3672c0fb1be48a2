"""The admin's login slows down a password guesser, per account and per address, and never for good."""

import pytest
from django.contrib.auth.models import User

from config import login
from tests.conftest import cache_clear

LOGIN = "/admin/login/"


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", password="right horse battery", is_staff=True)


@pytest.fixture(autouse=True)
def empty_cache():
    cache_clear()
    yield
    cache_clear()


def attempt(client, username, password, address="192.0.2.10"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(response) -> bool:
    return response.status_code == 302


def test_after_five_failures_even_the_right_password_must_wait(client, alice, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(login.time, "time", lambda: now[0])
    for _ in range(5):
        assert not logged_in(attempt(client, "alice", "wrong"))
    refused = attempt(client, "alice", "right horse battery")
    assert not logged_in(refused) and "Too many failed attempts: wait 1 s, then try again." in refused.content.decode()
    now[0] += 1
    assert logged_in(attempt(client, "alice", "right horse battery"))


def test_the_wait_doubles_with_each_failure_up_to_fifteen_minutes():
    assert [login.delay_after(n) for n in (4, 5, 6, 7, 14, 30)] == [0, 1, 2, 4, 512, 900]


def test_an_address_guessing_many_accounts_is_slowed_too(client, alice, monkeypatch):
    monkeypatch.setattr(login.time, "time", lambda: 2_000_000.0)
    for n in range(5):
        attempt(client, f"user{n}", "guess", address="198.51.100.66")
    assert not logged_in(attempt(client, "alice", "right horse battery", address="198.51.100.66"))
    assert logged_in(attempt(client, "alice", "right horse battery", address="198.51.100.67"))
