"""Digest format checks match the whole string: with `$`, SQLite (Python's re) let a digest
with a trailing newline through; `\\A…\\Z` anchors the ends in SQLite and PostgreSQL alike."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry_api', '0005_upload_repository_name'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='blob',
            name='blob_digest_format',
        ),
        migrations.RemoveConstraint(
            model_name='manifest',
            name='manifest_digest_format',
        ),
        migrations.AddConstraint(
            model_name='blob',
            constraint=models.CheckConstraint(condition=models.Q(('digest__regex', '\\A(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})\\Z')), name='blob_digest_format'),
        ),
        migrations.AddConstraint(
            model_name='manifest',
            constraint=models.CheckConstraint(condition=models.Q(('digest__regex', '\\A(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})\\Z')), name='manifest_digest_format'),
        ),
    ]
