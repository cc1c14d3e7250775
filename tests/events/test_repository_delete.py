"""Deleting a repository is an event like any other: audited, told to the hooks watching that
repository, which survive it with their delivery log (they name it, they do not reference it)."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from registry_api.models import AuditEvent, Webhook, WebhookDelivery
from registry_api.events.webhooks import deliver_due
from registry_api.models import Repository
from registry_api.services.repositories import repository_delete
from tests import builders
from tests.api.support import Registry

from .receiver import Receiver

pytestmark = pytest.mark.django_db


def test_hooks_outlive_their_repository_and_hear_of_its_deletion(client, django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        hook = Webhook.objects.create(name="app", url=receiver.url, repository_name="team/app", secret="s")
        with django_capture_on_commit_callbacks(execute=True):
            Registry(client).push_image("team/app", "v1", builders.image("doomed", layer_count=1))
        deliver_due()
        with django_capture_on_commit_callbacks(execute=True):
            repository_delete(name="team/app")
        deliver_due()
        assert [(p["event"], p["repository"], p["target"]) for p in receiver.payloads()] == [
            ("push", "team/app", "v1"), ("delete", "team/app", "team/app"),
        ]
    hook.refresh_from_db()  # still there
    assert list(hook.deliveries.order_by("id").values_list("event", "status")) == [
        ("push", "delivered"), ("delete", "delivered"),
    ]
    audit = AuditEvent.objects.get(action="delete", repository="team/app")
    assert audit.target == "team/app" and audit.detail == {"kind": "repository", "tags": 1, "manifests": 1}


def test_a_hook_applies_again_when_the_repository_is_pushed_anew(client, django_capture_on_commit_callbacks):
    Webhook.objects.create(name="app", url="http://127.0.0.1:9/hook", repository_name="team/app")
    with django_capture_on_commit_callbacks(execute=True):
        Registry(client).push_image("team/app", "v1", builders.image("first", layer_count=1))
        repository_delete(name="team/app")
        Registry(client).push_image("team/app", "v2", builders.image("second", layer_count=1))
    assert [d.event for d in WebhookDelivery.objects.order_by("id")] == ["push", "delete", "push"]


def test_deleting_in_the_admin_is_audited_with_its_actor(client, django_capture_on_commit_callbacks):
    Webhook.objects.create(name="app", url="http://127.0.0.1:9/hook", repository_name="team/app")
    Registry(client).push_image("team/app", "v1", builders.image("admin-deleted", layer_count=1))
    client.force_login(User.objects.create_superuser("boss", password="boss-pw"))
    repository = Repository.objects.get(name="team/app")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/registry_api/repository/{repository.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Repository.objects.exists()
    audit = AuditEvent.objects.get(action="delete", repository="team/app")
    assert audit.actor == "boss" and audit.detail["kind"] == "repository"
    assert WebhookDelivery.objects.get(event="delete").payload["actor"] == "boss"


def test_repository_names_are_checked():
    with pytest.raises(ValidationError) as raised:
        Webhook(name="bad", url="http://127.0.0.1:9/", repository_name="Team/App").full_clean()
    assert "repository_name" in raised.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_each_hooks_repository():
    executor = MigrationExecutor(connection)
    executor.migrate([("registry_api", "0004_housekeeping")])
    apps = executor.loader.project_state([("registry_api", "0004_housekeeping")]).apps
    repository = apps.get_model("registry_api", "Repository").objects.create(name="team/app")
    apps.get_model("registry_api", "Webhook").objects.create(name="old", url="http://127.0.0.1:9/", repository=repository)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("registry_api"))
    assert Webhook.objects.get(name="old").repository_name == "team/app"
