import pytest
from django.core.exceptions import ValidationError

from comments import services
from comments.models import Comment, IdempotencyKey


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("198.51.100.1", "203.0.113.9", 0, "198.51.100.1"),  # no trusted proxy: the header is ignored
        ("10.0.0.2", "1.2.3.4, 203.0.113.9", 1, "203.0.113.9"),  # the client forged 1.2.3.4
        ("10.0.0.2", "203.0.113.9, 10.0.0.1", 2, "203.0.113.9"),
        ("10.0.0.2", "203.0.113.9", 3, "203.0.113.9"),  # fewer hops than proxies: the leftmost
        ("10.0.0.2", "garbage", 1, "10.0.0.2"),
        ("10.0.0.2", "", 1, "10.0.0.2"),
    ],
)
def test_it_finds_the_client_address_behind_trusted_proxies_only(remote, forwarded, proxies, expected):
    assert services.client_address(remote_addr=remote, forwarded_for=forwarded, trusted_proxies=proxies) == expected


def test_it_hashes_addresses_with_the_configured_key(settings):
    first = services.ip_hash(address="203.0.113.9")
    assert first == services.ip_hash(address="203.0.113.9") and len(first) == 64
    settings.MODERATO_ADDRESS_HASH_KEY = "another key"
    assert services.ip_hash(address="203.0.113.9") != first
    assert services.ip_hash(address="") == ""


def submit(**fields):
    return services.comment_submit(
        **({"site_key": "planet", "thread_key": "/a", "name": "Alice", "body": "Hello."} | fields)
    )


def test_it_links_every_reply_to_the_top_of_its_chain(site):
    top = submit().comment
    Comment.objects.filter(pk=top.pk).update(status="published", decided_at=top.created_at)
    answer = submit(parent_id=top.pk).comment
    Comment.objects.filter(pk=answer.pk).update(status="published", decided_at=top.created_at)
    deeper = submit(parent_id=answer.pk).comment
    assert (answer.root_id, deeper.root_id, deeper.parent_id) == (top.pk, top.pk, answer.pk)


def test_it_stores_nothing_when_validation_fails(site):
    with pytest.raises(ValidationError):
        submit(parent_id=424242)
    assert not Comment.objects.exists()


def test_it_forgets_idempotency_keys_after_their_keeping_time(site, settings):
    first = submit(idempotency_key="k").comment
    IdempotencyKey.objects.update(created_at=first.created_at.replace(year=2000))
    assert services.idempotency_keys_purge() == 1
    assert submit(idempotency_key="k").comment.pk != first.pk


def test_it_treats_an_expired_key_as_new_even_before_the_purge(site):
    first = submit(idempotency_key="k").comment
    IdempotencyKey.objects.update(created_at=first.created_at.replace(year=2000))
    second = submit(idempotency_key="k", body="Different now.")
    assert not second.replayed and second.comment.pk != first.pk
