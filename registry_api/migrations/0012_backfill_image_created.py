"""Fill Manifest.image_created for manifests pushed before the field existed: each image
manifest's config is read through the storage protocol (capped, as at push time), so the
tag lists show build times for old images too. Unreadable or large configs stay null."""
import json

from django.db import migrations

BATCH = 500


def backfill(apps, schema_editor):
    # App code on purpose: the same cap and parser as a push, and the configured storage.
    from registry_api.services.configblobs import image_created
    from registry_api.oci.mediatypes import IMAGE_MANIFESTS

    Manifest = apps.get_model("registry_api", "Manifest")
    pending = []
    rows = Manifest.objects.filter(media_type__in=IMAGE_MANIFESTS, image_created__isnull=True).only("payload")
    for manifest in rows.iterator(chunk_size=BATCH):
        try:
            config = json.loads(bytes(manifest.payload)).get("config") or {}
            digest, media_type, size = config["digest"], config["mediaType"], config["size"]
        except (ValueError, AttributeError, KeyError, TypeError):
            continue
        if not isinstance(digest, str) or not isinstance(size, int):
            continue
        manifest.image_created = image_created(digest, str(media_type), size)
        if manifest.image_created is not None:
            pending.append(manifest)
        if len(pending) >= BATCH:
            Manifest.objects.bulk_update(pending, ["image_created"])
            pending = []
    Manifest.objects.bulk_update(pending, ["image_created"])


class Migration(migrations.Migration):
    dependencies = [("registry_api", "0011_portal_scale")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
