"""Import the comments of a Disqus export into a site: `import_disqus FILE --site KEY [--dry-run] [--score]`."""

from moderation.management.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import the comments of a Disqus export into a site; a second run creates nothing."
    source = "disqus"
    what = "Disqus export (XML, Moderation > Export)"
