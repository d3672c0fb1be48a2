"""Sites still on the thresholds of the earlier models move to the defaults of the 2026.11.30 models.

The earlier models' probabilities were calibrated to a half-toxic validation mix; the new ones to
traffic with a few per cent of toxic comments, so the old defaults (hold at 0.5) would publish most
toxic comments. Only a site whose thresholds are exactly the old defaults is changed: a site whose
operator chose its own keeps them.
"""

from django.db import migrations

OLD = {"TOXICITY": {"publish": 0.5, "reject": None}, "SPAM": {"publish": 0.5, "reject": 0.95}}
NEW = {
    "TOXICITY": {"publish": 0.17, "reject": None},
    "THREAT": {"publish": 0.134, "reject": None},
    "IDENTITY_ATTACK": {"publish": 0.364, "reject": None},
    "SEVERE_TOXICITY": {"publish": 0.061, "reject": None},
    "SPAM": {"publish": 0.815, "reject": 0.965},
}


def move(apps, schema_editor, source, target):
    Site = apps.get_model("comments", "Site")
    for site in Site.objects.all():
        if site.thresholds == source:
            site.thresholds = target
            site.save(update_fields=["thresholds"])


class Migration(migrations.Migration):
    dependencies = [("comments", "0003_comment_language")]

    operations = [
        migrations.RunPython(
            lambda apps, editor: move(apps, editor, OLD, NEW), lambda apps, editor: move(apps, editor, NEW, OLD)
        )
    ]
