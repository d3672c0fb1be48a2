"""Import the comments of an Isso database into a site: `import_isso FILE --site KEY [--dry-run] [--score]`."""

from moderation.management.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import the comments of an Isso database into a site; a second run creates nothing."
    source = "isso"
    what = "Isso database (its SQLite file, the [general] dbpath)"
