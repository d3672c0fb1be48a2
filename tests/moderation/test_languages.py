"""Moderators limited to languages: they see and decide only the comments in them, wherever they look."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from comments.models import Comment, Thread
from moderation import commenters, emails, languages, services, sites
from moderation.models import ModerationAction, ModeratorLanguages, validate_languages
from tests.conftest import moderate_every_site


def limited_moderator(username, languages):
    user = User.objects.create_user(username, password="pw", is_staff=True, email=f"{username}@planet.example")
    user.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(user)
    if languages is not None:
        ModeratorLanguages.objects.create(user=user, languages=languages)
    return User.objects.get(pk=user.pk)


def held_in(site, language, script, body="text"):
    thread, _ = Thread.objects.get_or_create(site=site, key="/languages")
    return Comment.objects.create(
        thread=thread,
        author_name="R",
        body=body,
        status="held",
        decided_at=timezone.now(),
        language=language,
        script=script,
    )


def test_a_moderator_limited_to_languages_decides_only_comments_in_them(site):
    bulgarian, albanian = held_in(site, "bg", "Cyrl"), held_in(site, "sq", "Latn")
    boris = limited_moderator("boris", "bg mk")
    services.comment_moderate(comment_id=bulgarian.pk, actor=boris, action=ModerationAction.APPROVE)
    with pytest.raises(PermissionDenied, match="language"):
        services.comment_moderate(comment_id=albanian.pk, actor=boris, action=ModerationAction.REJECT)
    assert Comment.objects.get(pk=albanian.pk).status == "held"
    with pytest.raises(PermissionDenied, match="language"):
        commenters.commenter_flag(comment_id=albanian.pk, actor=boris, kind="blocked")


def test_a_script_narrows_a_language_and_und_adds_the_undetected(site):
    latin, cyrillic, short = held_in(site, "sr", "Latn"), held_in(site, "sr", "Cyrl"), held_in(site, "", "")
    mira = limited_moderator("mira", "sr-Latn, und")
    visible = languages.language_scoped(Comment.objects.all(), user=mira)
    assert set(visible.values_list("pk", flat=True)) == {latin.pk, short.pk}
    assert not sites.moderator_sees(user=mira, site_id=site.pk, language="sr", script="Cyrl")
    assert sites.moderator_sees(user=mira, site_id=site.pk, language="sr", script="Latn")
    every_language = languages.language_scoped(Comment.objects.all(), user=limited_moderator("ana", None))
    assert cyrillic.pk in every_language.values_list("pk", flat=True)


def test_without_und_a_limited_moderator_does_not_see_comments_of_no_detected_language(site):
    held_in(site, "", "")
    assert not languages.language_scoped(Comment.objects.all(), user=limited_moderator("boris", "bg")).exists()


def test_an_unreadable_languages_row_limits_to_nothing_not_everything(site):
    held_in(site, "bg", "Cyrl")
    boris = limited_moderator("boris", "bg")
    ModeratorLanguages.objects.filter(user=boris).update(languages="Bulgarian!")
    assert not languages.language_scoped(Comment.objects.all(), user=boris).exists()


@pytest.mark.parametrize("raw", ["Bulgarian", "bg-cyrl", "bg;sq", "", "   "])
def test_it_refuses_languages_that_are_not_codes(db, raw):
    with pytest.raises(ValidationError):
        validate_languages(raw)


def test_the_e_mails_about_held_comments_go_to_the_moderators_of_their_language(site, mailoutbox):
    site.policy.email_moderators = True
    site.policy.save()
    site.policy.moderators.add(limited_moderator("boris", "bg"), limited_moderator("arben", "sq"))
    albanian = held_in(site, "sq", "Latn", body="Tekst i mbajtur")
    held_in(site, "bg", "Cyrl", body="Задържан текст")
    assert emails.held_comment_email_send(comment_id=albanian.pk) == 1
    assert mailoutbox[0].to == ["arben@planet.example"]
    mailoutbox.clear()
    assert emails.held_digest_send(site_id=site.pk) == 2
    by_address = {mail.to[0]: mail.body for mail in mailoutbox}
    assert "Tekst i mbajtur" in by_address["arben@planet.example"]
    assert "Задържан" not in by_address["arben@planet.example"]
    assert "Задържан" in by_address["boris@planet.example"] and "1 comment(s)" in by_address["boris@planet.example"]
