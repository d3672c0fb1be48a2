from django.contrib.auth.models import Group

from moderation.roles import MODERATORS_GROUP, moderators_group_sync


def test_it_gives_the_moderators_group_exactly_the_queue_permissions(db):
    group = Group.objects.get(name=MODERATORS_GROUP)
    codenames = set(group.permissions.values_list("content_type__app_label", "codename"))
    assert codenames == {
        ("comments", "can_moderate"),
        ("comments", "view_comment"),
        ("comments", "view_thread"),
        ("moderation", "view_moderationdecision"),
        ("moderation", "view_notification"),
        ("moderation", "view_erasure"),
    }
    assert not any(codename.startswith(("change_", "delete_", "add_")) for _, codename in codenames)


def test_it_resets_extra_permissions_when_synced_again(db):
    from django.contrib.auth.models import Permission

    group = Group.objects.get(name=MODERATORS_GROUP)
    group.permissions.add(Permission.objects.get(codename="change_site"))
    moderators_group_sync()
    assert not group.permissions.filter(codename="change_site").exists()
