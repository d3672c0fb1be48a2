"""The moderation settings leave Site: moderation 0004 has copied them to moderation.SitePolicy."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('comments', '0004_site_thresholds_for_the_2026_11_30_models'),
        ('moderation', '0004_site_policy'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='site',
            name='allowed_words',
        ),
        migrations.RemoveField(
            model_name='site',
            name='blocked_email_domains',
        ),
        migrations.RemoveField(
            model_name='site',
            name='blocked_words',
        ),
        migrations.RemoveField(
            model_name='site',
            name='email_moderators',
        ),
        migrations.RemoveField(
            model_name='site',
            name='hold_all',
        ),
        migrations.RemoveField(
            model_name='site',
            name='hold_first_comment',
        ),
        migrations.RemoveField(
            model_name='site',
            name='hold_links_at',
        ),
        migrations.RemoveField(
            model_name='site',
            name='moderators',
        ),
        migrations.RemoveField(
            model_name='site',
            name='report_threshold',
        ),
        migrations.RemoveField(
            model_name='site',
            name='thresholds',
        ),
        migrations.RemoveField(
            model_name='site',
            name='webhook_secret',
        ),
        migrations.RemoveField(
            model_name='site',
            name='webhook_url',
        ),
    ]
