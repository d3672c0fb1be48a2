"""One spelling per thread key (comments.models.thread_key_canonical): a path starts with "/".

A thread stored as ``news/bridge`` becomes ``/news/bridge``; if that thread exists too, its comments
join it and the misspelt one goes.
"""

from django.db import migrations


def canonical(key):
    key = key.strip()
    if not key or key.startswith("/") or key.lower().startswith(("http://", "https://")):
        return key
    return "/" + key


def thread_keys_canonical(apps, schema_editor):
    Thread = apps.get_model("comments", "Thread")
    Comment = apps.get_model("comments", "Comment")
    for thread in Thread.objects.exclude(key__startswith="/").iterator():
        key = canonical(thread.key)
        if key == thread.key:
            continue
        same = Thread.objects.filter(site_id=thread.site_id, key=key).first()
        if same is None:
            Thread.objects.filter(pk=thread.pk).update(key=key[:500])
        else:
            Comment.objects.filter(thread_id=thread.pk).update(thread_id=same.pk)
            Thread.objects.filter(pk=thread.pk).delete()


class Migration(migrations.Migration):
    dependencies = [("comments", "0009_comment_commenter_form_seconds")]

    operations = [migrations.RunPython(thread_keys_canonical, migrations.RunPython.noop)]
