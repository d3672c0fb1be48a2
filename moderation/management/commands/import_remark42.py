"""Import the comments of a Remark42 backup into a site: `import_remark42 FILE --site KEY [--dry-run] [--score]`."""

from moderation.management.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import the comments of a Remark42 backup into a site; a second run creates nothing."
    source = "remark42"
    what = "Remark42 backup (backup-<site>-<date>.gz, or unpacked)"
