"""The ``moderators`` group: exactly the permissions the moderation queue needs."""

from typing import Any

from django.contrib.auth.models import Group, Permission

MODERATORS_GROUP = "moderators"
# Not in the group: moderating every site is a grant to a person (the admin's user page), so that
# removing a moderator from their only site leaves them moderating nothing, not everything.
ALL_SITES_PERMISSION = "moderation.moderate_all_sites"
MODERATOR_PERMISSIONS = [
    ("comments", "can_moderate"),
    ("comments", "view_comment"),
    ("comments", "view_thread"),
    ("moderation", "view_moderationdecision"),
    ("moderation", "view_notification"),  # the delivery log
    ("moderation", "view_erasure"),  # the readers' erasures: how many, never what
]


def moderators_group_sync(**_: Any) -> Group:
    """Create the group or reset its permissions to exactly the list above."""
    group, _created = Group.objects.get_or_create(name=MODERATORS_GROUP)
    permissions = [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in MODERATOR_PERMISSIONS
    ]
    group.permissions.set(permissions)
    return group
