"""Replay a site's last decided comments under other thresholds, before changing them."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from comments.models import Site
from moderation.shadow import WHAT_IF_LAST, WHAT_IF_LAST_MAX, ThresholdError, threshold_overrides_parse, what_if


class Command(BaseCommand):
    help = (
        "Decide a site's last N decided comments again from their stored scores, at the thresholds in force and "
        "at the ones given, and print how many would be published, held and rejected, and which change."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--site", required=True, help="The site's public key, e.g. demo.")
        parser.add_argument(
            "--last", type=int, default=WHAT_IF_LAST, help=f"How many decided comments ({WHAT_IF_LAST})."
        )
        parser.add_argument(
            "--threshold",
            action="append",
            default=[],
            metavar="ATTRIBUTE=HOLD[:REJECT]",
            help="A threshold to try, e.g. TOXICITY=0.4 or SPAM=0.8:0.95 (REJECT none: no rejecting); repeat "
            "for more. Without :REJECT the reject threshold in force stays.",
        )
        parser.add_argument("--examples", type=int, default=50, help="Changed comments to list (50).")

    def handle(self, *args: Any, site: str, last: int, threshold: list[str], examples: int, **options: Any) -> None:
        found = Site.objects.filter(public_key=site).first()
        if found is None:
            raise CommandError(f"No site has the public key {site!r}.", returncode=2)
        if not 1 <= last <= WHAT_IF_LAST_MAX:
            raise CommandError(f"--last must be from 1 to {WHAT_IF_LAST_MAX}, not {last}.", returncode=2)
        try:
            overrides = threshold_overrides_parse(site=found, specs=threshold)
        except ThresholdError as exc:
            raise CommandError(f"--threshold: {exc}", returncode=2) from None
        self.stdout.write(
            "\n".join(what_if(site=found, overrides=overrides, last=last).lines(examples=max(0, examples)))
        )
