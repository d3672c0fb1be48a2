"""Model versions keep their files in the database (ModelArtifactFile), not in one process's var/.

The files of versions built before are copied in from the directory each row named, when this
process can see it; a version whose files are not found stays recorded, and a process whose active
version it is scores with the shipped model and reports itself degraded until it is rolled back.
"""

import hashlib
from pathlib import Path

import django.db.models.deletion
from django.db import migrations, models


def files_copy_in(apps, schema_editor):
    ModelVersion = apps.get_model("moderation", "ModelVersion")
    ModelArtifactFile = apps.get_model("moderation", "ModelArtifactFile")
    for row in ModelVersion.objects.all():
        version_dir = Path(row.directory) / row.name / row.version
        if not version_dir.is_dir():
            continue
        for path in sorted(version_dir.iterdir()):
            if path.is_file():
                content = path.read_bytes()
                ModelArtifactFile.objects.create(
                    model_version=row,
                    name=path.name,
                    content=content,
                    sha256=hashlib.sha256(content).hexdigest(),
                    size=len(content),
                )


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0005_notification_outbox"),
    ]

    operations = [
        migrations.CreateModel(
            name="ModelArtifactFile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=64)),
                ("content", models.BinaryField()),
                ("sha256", models.CharField(max_length=64)),
                ("size", models.PositiveIntegerField()),
                (
                    "model_version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="files",
                        to="moderation.modelversion",
                    ),
                ),
            ],
            options={
                "ordering": ["model_version", "name"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("model_version", "name"), name="one_file_per_name_per_model_version"
                    )
                ],
            },
        ),
        migrations.RunPython(files_copy_in, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="modelversion",
            name="directory",
        ),
    ]
