"""`DELETE /api/repositories/<name>`: the repository delete scripts used before /api/v1/,
kept as an alias of `DELETE /api/v1/repositories/<name>/` (same rights, same answer, the
management API's errors)."""
from __future__ import annotations

import base64

import pytest
from django.test import Client

from registry_api.auth.credentials import access_token_create
from registry_api.models import Repository, RepositoryBlob
from storage_backends import get_storage

from .conftest import Content

pytestmark = pytest.mark.django_db


def basic(username: str, password: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def _error_code(response) -> str:
    assert response["Content-Type"].startswith("application/json")
    return response.json()["code"]


def test_a_repository_admin_deletes_with_basic_credentials(client, content: Content):
    response = client.delete("/api/repositories/team/app", **basic("owner", "owner-pw"))
    assert response.status_code == 200
    assert response.json() == {"deleted": "team/app", "tags": 2, "manifests": 2}
    assert not Repository.objects.filter(name="team/app").exists()
    # The blobs stay for garbage collection; the copy in team/copy is untouched.
    assert RepositoryBlob.objects.filter(repository__name="team/copy").count() == len(content.v1.blobs)


@pytest.mark.parametrize("person", ["reader", "pusher", "deleter"])
def test_without_the_admin_level_it_is_denied(client, content: Content, person):
    response = client.delete("/api/repositories/team/app", **basic(person, f"{person}-pw"))
    assert response.status_code == 403 and _error_code(response) == "permission_denied"
    assert Repository.objects.filter(name="team/app").exists()


def test_a_repository_the_caller_may_not_see_is_unknown(client, content: Content):
    for name in ("secret/box", "secret/nothing", "team/nothing"):
        response = client.delete(f"/api/repositories/{name}", **basic("owner", "owner-pw"))
        assert response.status_code == 404 and _error_code(response) == "not_found", name
    assert Repository.objects.filter(name="secret/box").exists()


def test_missing_or_wrong_credentials_are_challenged(client, content: Content):
    for headers in ({}, basic("owner", "wrong"), {"HTTP_AUTHORIZATION": "Bearer nonsense"}):
        response = client.delete("/api/repositories/team/app", **headers)
        assert response.status_code == 401
        assert _error_code(response) in ("not_authenticated", "authentication_failed")
        assert "Basic realm=" in response["WWW-Authenticate"]
    assert Repository.objects.filter(name="team/app").exists()


def test_access_tokens_work_and_read_only_ones_cannot_delete(client, people, content: Content):
    _, read_only = access_token_create(user=people["owner"], name="ro", read_only=True)
    response = client.delete("/api/repositories/team/app", **basic("owner", read_only))
    assert response.status_code == 403
    _, full = access_token_create(user=people["owner"], name="ci")
    assert client.delete("/api/repositories/team/app", **basic("owner", full)).status_code == 200


def test_session_callers_must_send_the_csrf_token(people, content: Content):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    response = client.delete("/api/repositories/team/app")
    assert response.status_code == 403 and "CSRF" in response.json()["message"]
    client.get("/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert client.delete("/api/repositories/team/app", HTTP_X_CSRFTOKEN=token).status_code == 200


def test_only_delete_is_offered(client, content: Content):
    response = client.get("/api/repositories/team/app", **basic("owner", "owner-pw"))
    assert response.status_code == 405 and _error_code(response) == "method_not_allowed"
    assert "DELETE" in response["Allow"] and "GET" not in response["Allow"]


def test_deletes_disabled(client, settings, content: Content):
    settings.REGISTRY_DELETE_ENABLED = False
    response = client.delete("/api/repositories/team/app", **basic("root", "root-pw"))
    assert response.status_code == 403
    assert Repository.objects.filter(name="team/app").exists()


def test_unfinished_uploads_are_cancelled_with_the_repository(client, settings, content: Content):
    from registry_api.services.uploads import upload_start

    upload = upload_start(repository_name="team/app")
    staged = get_storage().upload_size(str(upload.id))
    assert staged == 0
    client.delete("/api/repositories/team/app", **basic("root", "root-pw"))
    from storage_backends.base import UploadNotFound

    with pytest.raises(UploadNotFound):
        get_storage().upload_size(str(upload.id))


def test_the_delete_is_in_the_audit_trail_under_the_callers_name(client, content: Content):
    from registry_api.models import AuditEvent

    client.delete("/api/repositories/team/app", **basic("owner", "owner-pw"))
    event = AuditEvent.objects.filter(action="delete", repository="team/app").get()
    assert event.actor == "owner" and event.detail == {"kind": "repository", "tags": 2, "manifests": 2}
