"""Import the comments of a Moderato JSON export into a site: `import_json FILE --site KEY [--dry-run] [--score]`."""

from moderation.management.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import the comments of a Moderato JSON export into a site; a second run creates nothing."
    source = "moderato"
    what = "Moderato JSON export (export_comments --format json)"
