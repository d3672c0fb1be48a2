"""Each site's moderation settings move to a SitePolicy the moderation app owns.

Thresholds keep only what differs from the defaults of the models shipped with this release
(comments 0004's NEW): the rest now follows the active model's defaults, so a new model head works
on every site. Going back writes the full thresholds onto the site again.
"""

import django.db.models.deletion
import moderation.models
from django.conf import settings
from django.db import migrations, models


DEFAULTS = {
    "TOXICITY": {"publish": 0.17, "reject": None},
    "THREAT": {"publish": 0.134, "reject": None},
    "IDENTITY_ATTACK": {"publish": 0.364, "reject": None},
    "SEVERE_TOXICITY": {"publish": 0.061, "reject": None},
    "SPAM": {"publish": 0.815, "reject": 0.965},
}
FIELDS = [
    "hold_all",
    "hold_first_comment",
    "hold_links_at",
    "blocked_words",
    "allowed_words",
    "blocked_email_domains",
    "webhook_url",
    "webhook_secret",
    "email_moderators",
    "report_threshold",
]


def forwards(apps, schema_editor):
    Site = apps.get_model("comments", "Site")
    SitePolicy = apps.get_model("moderation", "SitePolicy")
    for site in Site.objects.all():
        own = site.thresholds if isinstance(site.thresholds, dict) else {}
        row = SitePolicy.objects.create(
            site=site,
            thresholds={name: value for name, value in own.items() if DEFAULTS.get(name) != value},
            **{field: getattr(site, field) for field in FIELDS},
        )
        row.moderators.set(site.moderators.all())


def backwards(apps, schema_editor):
    Site = apps.get_model("comments", "Site")
    SitePolicy = apps.get_model("moderation", "SitePolicy")
    for row in SitePolicy.objects.select_related("site"):
        site = row.site
        site.thresholds = DEFAULTS | row.thresholds
        for field in FIELDS:
            setattr(site, field, getattr(row, field))
        site.save()
        site.moderators.set(row.moderators.all())


class Migration(migrations.Migration):

    dependencies = [
        ('comments', '0004_site_thresholds_for_the_2026_11_30_models'),
        ('moderation', '0003_model_versions'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SitePolicy',
            fields=[
                ('site', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='policy', serialize=False, to='comments.site')),
                ('thresholds', models.JSONField(blank=True, default=dict, help_text='The site\'s own thresholds, e.g. {"TOXICITY": {"publish": 0.3, "reject": null}}: a score at or above \'publish\' is held, at or above \'reject\' rejected. Attributes not named here follow the active model\'s defaults.', validators=[moderation.models.validate_thresholds])),
                ('hold_all', models.BooleanField(default=False, help_text='Pre-moderate: hold every comment for a moderator.')),
                ('hold_first_comment', models.BooleanField(default=False, help_text="Hold a commenter's first comment (a commenter: the e-mail address, else address hash and name).")),
                ('hold_links_at', models.PositiveSmallIntegerField(default=0, help_text='Hold comments with this many links or more (0: off).')),
                ('blocked_words', models.TextField(blank=True, help_text='One word or phrase per line; matched on word boundaries over normalised text. A match holds.')),
                ('allowed_words', models.TextField(blank=True, help_text='One per line; never counted as blocked words (e.g. a place name).')),
                ('blocked_email_domains', models.TextField(blank=True, help_text='One domain per line; comments from these e-mail domains are rejected.')),
                ('webhook_url', models.URLField(blank=True, help_text='Receives comment.published, comment.held and comment.rejected events (signed).')),
                ('webhook_secret', models.CharField(default=moderation.models.new_webhook_secret, help_text='Key of the HMAC-SHA256 signature of each webhook.', max_length=64)),
                ('email_moderators', models.BooleanField(default=False, help_text="E-mail the site's moderators (else every moderator) about each held comment, with signed one-click approve and reject links.")),
                ('report_threshold', models.PositiveSmallIntegerField(default=3, help_text='Reader reports that put a published comment back in the moderation queue.')),
                ('moderators', models.ManyToManyField(blank=True, help_text="Moderators limited to this site. A moderator on no site's list moderates every site.", related_name='moderated_site_policies', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'moderation policy',
                'verbose_name_plural': 'moderation policy',
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
