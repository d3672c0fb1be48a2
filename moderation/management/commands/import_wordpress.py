"""Import the comments of a WordPress export into a site: `import_wordpress FILE --site KEY [--dry-run] [--score]`."""

from moderation.management.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import the comments of a WordPress export into a site; a second run creates nothing."
    source = "wordpress"
    what = "WordPress export (WXR, Tools > Export > All content)"
