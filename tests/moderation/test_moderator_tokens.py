"""Moderators' API tokens: issued once and stored hashed, revoked from a command or the admin."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from moderation.models import ModeratorToken
from moderation.moderator_tokens import moderator_token_authenticate, moderator_token_create
from tests.conftest import moderate_every_site

QUEUE = "/api/v1/moderation/comments"
TOKENS = "/admin/moderation/moderatortoken/"


@pytest.fixture
def alice(db):
    user = User.objects.create_user("alice", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="moderators"))
    return moderate_every_site(user)


@pytest.fixture
def bob(db):
    """Staff, but not a moderator."""
    return User.objects.create_user("bob", password="pw", is_staff=True)


def queue_status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client.get(QUEUE).status_code


def create(*args: str) -> str:
    out = StringIO()
    call_command("create_moderator_token", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_a_token_once_and_only_its_hash_is_stored(alice):
    printed = create("--user", "alice", "--name", "newsroom desk")
    assert re.fullmatch(r"mtk_[0-9a-f]{48}\n", printed)
    key = printed.strip()
    token = ModeratorToken.objects.get()
    assert (token.user, token.name, token.prefix) == (alice, "newsroom desk", key[:12])
    stored = " ".join(str(value) for value in ModeratorToken.objects.values_list().get())
    assert key not in stored and key[12:] not in stored
    assert queue_status(key) == 200


def test_the_command_refuses_unknown_users_and_people_who_may_not_moderate(bob):
    with pytest.raises(CommandError, match="No user is called 'nobody'"):
        create("--user", "nobody")
    with pytest.raises(CommandError, match="bob is not an active staff member who may moderate"):
        create("--user", "bob")
    assert not ModeratorToken.objects.exists()


def test_a_revoked_token_and_an_inactive_user_s_token_answer_401(alice):
    _, kept_key = moderator_token_create(user=alice)
    revoked, revoked_key = moderator_token_create(user=alice)
    out = StringIO()
    call_command("revoke_moderator_token", "--prefix", revoked.prefix, stdout=out)
    assert out.getvalue() == "Revoked 1 token(s).\n"
    assert (queue_status(revoked_key), queue_status(kept_key)) == (401, 200)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert queue_status(kept_key) == 401


def test_revoking_by_user_revokes_every_token_of_theirs_and_says_when_there_is_none(alice):
    keys = [moderator_token_create(user=alice)[1] for _ in range(2)]
    out = StringIO()
    call_command("revoke_moderator_token", "--user", "alice", stdout=out)
    assert out.getvalue() == "Revoked 2 token(s).\n"
    assert [queue_status(key) for key in keys] == [401, 401]
    with pytest.raises(CommandError, match="No active token of 'alice'"):
        call_command("revoke_moderator_token", "--user", "alice")


def test_a_token_notes_its_last_use_without_writing_on_every_request(alice):
    _, key = moderator_token_create(user=alice)
    assert moderator_token_authenticate(key=key) is not None
    first = ModeratorToken.objects.get().last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        moderator_token_authenticate(key=key)
    assert len(queries) == 1  # the read; no write within five minutes
    ModeratorToken.objects.update(last_used_at=timezone.now() - timedelta(minutes=6))
    moderator_token_authenticate(key=key)
    assert ModeratorToken.objects.get().last_used_at > first
    assert moderator_token_authenticate(key="mod" + key[3:]) is None  # another kind of key


def test_an_admin_creates_a_token_seen_once_and_revokes_it(client, alice, bob):
    admin = User.objects.create_superuser("root", password="pw")
    client.force_login(admin)
    refused = client.post(f"{TOKENS}add/", {"user": bob.pk, "name": "desk"})
    assert refused.status_code == 200  # the form again, with the message under the user field
    assert "bob is not an active staff member who may moderate" in str(refused.context["adminform"].form.errors["user"])
    assert not ModeratorToken.objects.exists()

    added = client.post(f"{TOKENS}add/", {"user": alice.pk, "name": "desk"}, follow=True)
    message = next(str(m) for m in added.context["messages"])
    key = re.search(r"mtk_[0-9a-f]{48}", message)[0]
    assert "Copy it now: it is not shown again." in message
    token = ModeratorToken.objects.get()
    assert token.prefix in added.content.decode() and key not in client.get(TOKENS).content.decode()
    assert key not in client.get(f"{TOKENS}{token.pk}/change/").content.decode()
    assert queue_status(key) == 200

    client.post(TOKENS, {"action": "revoke", "_selected_action": [token.pk]})
    assert ModeratorToken.objects.get().revoked_at is not None
    assert queue_status(key) == 401


def test_a_moderator_cannot_give_themselves_tokens_in_the_admin(client, alice):
    client.force_login(alice)
    assert client.get(f"{TOKENS}add/").status_code == 403
