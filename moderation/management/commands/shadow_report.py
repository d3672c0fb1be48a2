"""Compare a site's shadow-mode decisions with what its moderators did later."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from comments.models import Site
from moderation.shadow import REPORT_DAYS, REPORT_DAYS_MAX, shadow_report


class Command(BaseCommand):
    help = (
        "Print how the decisions Moderato would have made on a site in shadow mode compare with the moderators' "
        "later actions: agreement, what it would have caught, what it would have held wrongly."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--site", required=True, help="The site's public key, e.g. demo.")
        parser.add_argument(
            "--days", type=int, default=REPORT_DAYS, help=f"Shadow decisions of the last N days ({REPORT_DAYS})."
        )

    def handle(self, *args: Any, site: str, days: int, **options: Any) -> None:
        found = Site.objects.filter(public_key=site).first()
        if found is None:
            raise CommandError(f"No site has the public key {site!r}.", returncode=2)
        if not 1 <= days <= REPORT_DAYS_MAX:
            raise CommandError(f"--days must be from 1 to {REPORT_DAYS_MAX}, not {days}.", returncode=2)
        self.stdout.write("\n".join(shadow_report(site=found, days=days).lines()))
