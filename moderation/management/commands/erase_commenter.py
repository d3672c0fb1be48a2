"""Erase a commenter's comments (by e-mail address), as each site's erasure setting says."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from comments.models import Site
from moderation import readers
from moderation.models import Erasure


class Command(BaseCommand):
    help = (
        "Erase the comments posted with an e-mail address, on one site or on every site: deleted (a comment "
        "with replies from others stays as [deleted]) or anonymised, as the site's policy says. Each site's "
        "erasure is recorded (how many comments, never whose)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", required=True, help="The commenter's e-mail address (any case).")
        parser.add_argument("--site", default=None, help="Only this site (its public key); default every site.")

    def handle(self, *args: Any, email: str, site: str | None, **options: Any) -> None:
        commenter = commenter_of(email=email, site_key=site)
        erased = readers.commenter_erase(commenter=commenter, via=Erasure.Via.COMMAND)
        self.stdout.write(
            f"Erased {erased.comments} comment(s): {erased.deleted} deleted, {erased.placeholders} kept as "
            f"{readers.DELETED} (others replied), {erased.anonymised} anonymised."
        )


def commenter_of(*, email: str, site_key: str | None) -> readers.Commenter:
    """The commenter of the command line, or CommandError (exit status 1, one line)."""
    try:
        address = readers.email_check(email)
    except ValidationError:
        raise CommandError(f"{email!r} is not an e-mail address.") from None
    site_id = None
    if site_key is not None:
        site_id = Site.objects.filter(public_key=site_key).values_list("pk", flat=True).first()
        if site_id is None:
            raise CommandError(f"No site has the public key {site_key!r}.")
    return readers.Commenter(email=address, site_id=site_id)
