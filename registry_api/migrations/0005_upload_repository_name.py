"""Upload sessions name their repository instead of referencing its row, and remember the
digest algorithm announced at POST (`?digest-algorithm=`).

A bare POST used to create the repository, so an abandoned session left an empty one in
the catalog; now the repository is created with its first blob, mount or manifest.
"""
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def names_from_rows(apps, schema_editor):
    Upload = apps.get_model("registry_api", "Upload")
    Repository = apps.get_model("registry_api", "Repository")
    Upload.objects.update(
        repository_name=Subquery(Repository.objects.filter(pk=OuterRef("repository_id")).values("name")[:1])
    )


def rows_from_names(apps, schema_editor):
    Upload = apps.get_model("registry_api", "Upload")
    Repository = apps.get_model("registry_api", "Repository")
    for upload in Upload.objects.all():
        repository, _ = Repository.objects.get_or_create(name=upload.repository_name)
        Upload.objects.filter(pk=upload.pk).update(repository=repository)


class Migration(migrations.Migration):
    dependencies = [("registry_api", "0004_housekeeping")]

    operations = [
        migrations.AddField(
            model_name="upload",
            name="repository_name",
            field=models.CharField(db_index=True, default="", max_length=255),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="upload",
            name="digest_algorithm",
            field=models.CharField(default="sha256", editable=False, max_length=16),
        ),
        # Nullable first, so that going back can add the column again before refilling it.
        migrations.AlterField(
            model_name="upload",
            name="repository",
            field=models.ForeignKey(
                null=True, on_delete=models.deletion.CASCADE, related_name="uploads", to="registry_api.repository"
            ),
        ),
        migrations.RunPython(names_from_rows, rows_from_names),
        migrations.RemoveField(model_name="upload", name="repository"),
    ]
