"""The admin side of events: who changed rights (the admin's user, from its request), blob
deletes in the trail, and webhooks: delivery log, "send again", a secret never shown back."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from registry_api.models import AuditEvent, Webhook, WebhookDelivery
from registry_api.events.webhooks import deliver_due
from registry_api.models import Grant, Namespace
from tests import builders
from tests.api.support import Registry

from .receiver import Receiver

pytestmark = pytest.mark.django_db

SECRET = "receiver-shared-secret-42"


@pytest.fixture
def boss(client) -> User:
    user = User.objects.create_superuser("boss", password="boss-pw")
    client.force_login(user)
    return user


def test_a_blob_delete_is_audited(client):
    image = builders.image("blob-delete", layer_count=1)
    Registry(client).push_image("team/app", "v1", image)
    layer = image.layers[0].digest
    assert client.delete(f"/v2/team/app/blobs/{layer}").status_code == 202
    event = AuditEvent.objects.get(action="delete", target=layer)
    assert event.repository == "team/app" and event.detail == {"kind": "blob", "digest": layer}
    assert event.client_address == "127.0.0.1" and event.request_id


def test_a_grant_made_in_the_admin_names_the_admin_as_actor(client, boss):
    namespace = Namespace.objects.create(name="team")
    alice = User.objects.create_user("alice", password="alice-pw")
    AuditEvent.objects.all().delete()
    response = client.post("/admin/registry_api/grant/add/", {
        "namespace": namespace.pk, "user": alice.pk, "level": "push",
    }, REMOTE_ADDR="192.0.2.10")
    assert response.status_code == 302, response.content[:2000]
    grant = Grant.objects.get()
    event = AuditEvent.objects.get(action="permission")
    assert (event.actor, event.client_address, event.detail) == ("boss", "192.0.2.10", {"change": "created"})
    assert event.target == f"Grant {grant}"
    response = client.post(f"/admin/registry_api/grant/{grant.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="permission", actor="boss", detail__change="deleted").count() == 1


def test_the_webhook_page_shows_its_delivery_log(client, boss, django_capture_on_commit_callbacks):
    hook = Webhook.objects.create(name="ci", url="http://127.0.0.1:9/hook", secret=SECRET)
    with django_capture_on_commit_callbacks(execute=True):
        Registry(client).push_image("team/app", "v1", builders.image("logged", layer_count=1))
    deliver_due()  # fails: nothing listens on port 9
    page = client.get(f"/admin/registry_api/webhook/{hook.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    delivery = WebhookDelivery.objects.get()
    assert f"/admin/registry_api/webhookdelivery/{delivery.pk}/change/" in html
    assert "pending" in html and delivery.last_error[:20] in html


def test_send_again_delivers_now(client, boss, django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        Webhook.objects.create(name="ci", url=receiver.url, secret=SECRET)
        with django_capture_on_commit_callbacks(execute=True):
            Registry(client).push_image("team/app", "v1", builders.image("again", layer_count=1))
        deliver_due()
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "delivered" and len(receiver.received) == 1
        response = client.post("/admin/registry_api/webhookdelivery/", {
            "action": "send_now", "_selected_action": [delivery.pk],
        })
        assert response.status_code == 302
        assert len(receiver.received) == 2 and receiver.received[0]["body"] == receiver.received[1]["body"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    # Who sent it again is in the audit trail (services/deliveries.py, as on the management API).
    resent = AuditEvent.objects.get(detail__change="redelivered")
    assert (resent.actor, resent.detail["status"], resent.detail["status_code"]) == ("boss", "delivered", 204)


def _form(hook: Webhook | None = None, **changes) -> dict:
    data = {
        "name": hook.name if hook else "ci", "url": hook.url if hook else "https://ci.example/hook",
        "namespace": "", "repository_name": "", "on_push": "on", "on_delete": "on", "active": "on",
        "deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0",
        "deliveries-MIN_NUM_FORMS": "0", "deliveries-MAX_NUM_FORMS": "0",
    }
    data.update(changes)
    return data


def test_the_secret_is_never_shown_back(client, boss):
    hook = Webhook.objects.create(name="ci", url="https://ci.example/hook", secret=SECRET)
    page = client.get(f"/admin/registry_api/webhook/{hook.pk}/change/")
    assert page.status_code == 200 and SECRET not in page.content.decode()
    assert 'name="new_secret"' in page.content.decode()
    # Saving without a new secret keeps it; a new one replaces it; "unsigned" removes it.
    assert client.post(f"/admin/registry_api/webhook/{hook.pk}/change/", _form(hook)).status_code == 302
    hook.refresh_from_db()
    assert hook.secret == SECRET
    client.post(f"/admin/registry_api/webhook/{hook.pk}/change/", _form(hook, new_secret="rotated-secret"))
    hook.refresh_from_db()
    assert hook.secret == "rotated-secret"
    client.post(f"/admin/registry_api/webhook/{hook.pk}/change/", _form(hook, unsigned="on"))
    hook.refresh_from_db()
    assert hook.secret == ""


def test_a_new_hook_gets_a_secret_shown_once(client, boss):
    response = client.post("/admin/registry_api/webhook/add/", _form(), follow=True)
    assert response.status_code == 200
    hook = Webhook.objects.get()
    assert len(hook.secret) >= 32
    shown = [str(m) for m in response.context["messages"]]
    assert any(hook.secret in m for m in shown)
    again = client.get(f"/admin/registry_api/webhook/{hook.pk}/change/")
    assert hook.secret not in again.content.decode()
    assert re.search(r"signed", again.content.decode())
