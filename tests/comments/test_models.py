def test_a_migration_moves_sites_on_the_old_default_thresholds_and_leaves_chosen_ones(db):
    import importlib

    from django.apps import apps

    from comments.models import Site

    migration = importlib.import_module("comments.migrations.0004_site_thresholds_for_the_2026_11_30_models")
    old = Site.objects.create(name="Old", public_key="old", thresholds=migration.OLD)
    chosen = {"TOXICITY": {"publish": 0.7, "reject": None}, "SPAM": {"publish": 0.5, "reject": 0.95}}
    own = Site.objects.create(name="Own", public_key="own", thresholds=chosen)
    migration.move(apps, None, migration.OLD, migration.NEW)
    old.refresh_from_db()
    own.refresh_from_db()
    assert old.thresholds == migration.NEW
    assert own.thresholds == chosen
