"""The audit trail: pushes, deletes, logins (kept or failed), and changes of rights."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from registry_api.auth import backends
from registry_api.auth.credentials import access_token_create
from registry_api.models import AuditEvent
from registry_api.models import Grant, Namespace
from tests import builders
from tests.api.support import Registry
from tests.auth.conftest import basic

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.REGISTRY_AUTH_ENABLED = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    backends._verified.clear()  # a password verified by an earlier test is not a login here


@pytest.fixture
def pusher(db):
    user = User.objects.create_user("pusher", password="pusher-pw")
    Grant.objects.create(namespace=Namespace.objects.create(name="team"), user=user, level="delete")
    AuditEvent.objects.all().delete()
    return user


class AuthedClient(Registry):
    def __init__(self, client, auth):
        super().__init__(client)
        for method in ("get", "post", "put", "patch", "delete", "head"):
            original = getattr(client, method)
            setattr(client, method, lambda *a, _o=original, **k: _o(*a, **{**auth, **k}))


def test_push_and_delete_are_audited_with_the_actor(client, pusher):
    registry = AuthedClient(client, basic("pusher", "pusher-pw"))
    image = builders.image("audited", layer_count=1)
    registry.push_image("team/app", "v1", image)
    client.delete("/v2/team/app/manifests/v1")
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor", "repository", "target"))
    assert ("push", "pusher", "team/app", "v1") in events
    assert ("delete", "pusher", "team/app", "v1") in events
    push = AuditEvent.objects.get(action="push")
    assert push.detail["digest"] == image.manifest.digest and push.client_address == "127.0.0.1" and push.request_id


def test_logins_are_audited_once_not_per_request(client, pusher):
    for _ in range(3):
        client.get("/v2/team/app/tags/list", **basic("pusher", "pusher-pw"))
    client.get("/v2/team/app/tags/list", **basic("pusher", "wrong"))
    logins = AuditEvent.objects.filter(action="login", actor="pusher")
    assert logins.count() == 1 and logins.get().detail == {"via": "password"}
    assert AuditEvent.objects.filter(action="login_failed", actor="pusher").count() == 1


def test_access_token_logins_and_failures(client, pusher):
    token, secret = access_token_create(user=pusher, name="ci")
    client.get("/v2/team/app/tags/list", **basic("pusher", secret))
    client.get("/v2/team/app/tags/list", **basic("pusher", secret))
    token.revoked = True
    token.save()
    client.get("/v2/team/app/tags/list", **basic("pusher", secret))
    # Shaped like a token but no token's secret: checked as a password (which may look so).
    client.get("/v2/team/app/tags/list", **basic("pusher", "drm_not-a-token"))
    assert AuditEvent.objects.filter(action="login", detail__via="access token").count() == 1
    assert AuditEvent.objects.filter(action="login_failed", detail__via="access token").count() == 1
    assert AuditEvent.objects.filter(action="login_failed", detail__via="password").count() == 1


def test_changes_of_rights_are_audited(client, pusher):
    admin = User.objects.create_superuser("boss", password="boss-pw")
    client.force_login(admin)
    AuditEvent.objects.all().delete()
    namespace = Namespace.objects.get(name="team")
    grant = Grant.objects.create(namespace=namespace, user=admin, level="pull")
    namespace.public = True
    namespace.save()
    grant.delete()
    group = Group.objects.create(name="devs")
    pusher.groups.add(group)
    changes = list(AuditEvent.objects.filter(action="permission").order_by("id").values_list("target", "detail"))
    assert [c[1]["change"] for c in changes] == ["created", "changed", "deleted", "created", "add"]
    assert changes[-1] == ("User pusher", {"change": "add", "groups": ["devs"]})


def test_portal_logins_are_audited(client, pusher):
    client.post("/admin/login/", {"username": "pusher", "password": "wrong"})
    assert AuditEvent.objects.filter(action="login_failed", actor="pusher").exists()


def test_the_admin_shows_the_trail_read_only(client, pusher):
    client.get("/v2/team/app/tags/list", **basic("pusher", "wrong"))
    admin = User.objects.create_superuser("boss", password="boss-pw")
    client.force_login(admin)
    page = client.get("/admin/registry_api/auditevent/")
    assert page.status_code == 200 and b"pusher" in page.content
    event = AuditEvent.objects.first()
    assert client.post(f"/admin/registry_api/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403


def test_deleting_a_namespace_or_user_audits_what_went_with_it(pusher):
    """A cascade's audit lines name rows whose parents go in the same delete: each line is
    written before anything is gone (a grant's name reads its namespace and user)."""
    access_token_create(user=pusher, name="ci", namespace=Namespace.objects.get(name="team"))
    Namespace.objects.get(name="team").delete()
    targets = set(AuditEvent.objects.values_list("target", flat=True))
    assert "Grant pusher: delete on team" in targets and "Namespace team" in targets
    assert any(target.startswith("AccessToken pusher: ci") for target in targets)
    Grant.objects.create(namespace=Namespace.objects.create(name="again"), user=pusher, level="pull")
    pusher.delete()
    assert AuditEvent.objects.filter(target="Grant pusher: pull on again", detail__change="deleted").exists()


def test_a_nul_in_a_name_a_client_made_up_does_not_lose_the_event(pusher):
    """PostgreSQL text refuses NUL; the event is kept with the NUL left out."""
    from registry_api.events.audit import record

    event = record(action="login_failed", actor="mall\x00ory", target="x\x00y", detail={"via": "password"})
    event.refresh_from_db()
    assert (event.actor, event.target) == ("mallory", "xy")
