"""What the resources answer: usage as the quota counts it, robots with their secret shown
once, retention dry runs that say what would go and why, manifests with config, layers and
platforms, deletes, and the audit trail's filters and exports."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from urllib.parse import urlencode

from django.utils import timezone

from registry_api.models import AccessToken, AuditEvent, Manifest, Repository, RetentionPolicy, Tag
from registry_api.services.quotas import namespace_usage


def test_namespace_create_update_and_usage(api, world):
    made = api("POST", "/api/v1/namespaces/", json={"name": "fresh", "description": "d", "quota_bytes": 10})
    assert made.status_code == 201 and made.json()["quota_bytes"] == 10
    usage = api("GET", "/api/v1/namespaces/team/usage/").json()
    assert usage == {"namespace": "team", "used_bytes": namespace_usage(namespace="team"), "quota_bytes": None,
                     "repositories": 2}
    assert usage["used_bytes"] > 0


def test_a_robot_secret_is_shown_once_and_works(api, world, client):
    made = api("POST", "/api/v1/robots/", json={"name": "ci-push", "namespace": "team", "level": "push",
                                                "description": "CI"})
    assert made.status_code == 201
    body = made.json()
    secret = body["token"]
    assert secret.startswith("drm_")
    assert body["robot"]["grants"] == [{"namespace": "team", "repository": None, "level": "push"}]
    assert body["robot"]["created_by"] == "staff"
    listed = api("GET", "/api/v1/robots/").json()["results"]
    assert secret not in json.dumps(listed) and listed[0]["tokens"][0]["prefix"] == secret[:10]
    # The robot's token opens /api/v1/ as the robot: it may pull team, so it sees team's repositories.
    own = client.get("/api/v1/repositories/", headers={"Authorization": f"Bearer {secret}"})
    assert [r["name"] for r in own.json()["results"]] == ["team/app", "team/tool"]
    token_id = listed[0]["tokens"][0]["id"]
    revoked = api("DELETE", f"/api/v1/robots/ci-push/tokens/{token_id}/")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert client.get("/api/v1/repositories/", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert api("DELETE", "/api/v1/robots/ci-push/tokens/999999/").status_code == 404


def test_retention_dry_run_says_what_would_go_and_why(api, world):
    long_ago = timezone.now() - timedelta(days=3)
    Tag.objects.filter(repository__name="team/app", name="v1").update(updated_at=long_ago)
    Manifest.objects.filter(repository__name="team/app").update(created_at=long_ago)  # past the grace period
    made = api("POST", "/api/v1/retention-policies/", "ns_admin", json={"namespace": "team", "keep_last": 1})
    assert made.status_code == 201
    run = api("GET", f"/api/v1/retention-policies/{made.json()['id']}/dry-run/", "ns_admin")
    assert run.status_code == 200
    decisions = run.json()["results"]
    assert [(d["repository"], d["tag"]) for d in decisions] == [("team/app", "v1")]
    assert decisions[0]["rule"]
    assert decisions[0]["manifests"] == [Manifest.objects.get(repository__name="team/app", tags__name="v1").digest]
    assert Tag.objects.filter(repository__name="team/app", name="v1").exists()  # nothing deleted


def test_retention_policy_update_and_delete(api, world):
    made = api("POST", "/api/v1/retention-policies/", "repo_admin", json={"repository": "team/app", "keep_last": 2})
    path = f"/api/v1/retention-policies/{made.json()['id']}/"
    etag = api("GET", path, "repo_admin").headers["ETag"]
    changed = api("PATCH", path, "repo_admin", json={"keep_last": 4, "tag_pattern": "v.*"}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.json()["keep_last"] == 4
    assert changed.json()["repository"] == "team/app" and changed.json()["namespace"] is None
    assert api("DELETE", path, "repo_admin").status_code == 204
    assert not RetentionPolicy.objects.exists()


def test_manifest_detail_has_config_layers_and_tags(api, world):
    digest = Manifest.objects.get(repository__name="team/app", tags__name="v1").digest
    body = api("GET", f"/api/v1/repositories/team/app/-/manifests/{digest}/").json()
    assert body["digest"] == digest and body["tags"] == ["v1"] and body["is_index"] is False
    assert [layer["digest"] for layer in body["layers"]] == [b.digest for b in world.v1.layers]
    assert body["config"]["digest"] == world.v1.config.digest
    assert body["image"]["platform"]
    assert body["platforms"] == [] and body["referrers"] == []
    missing = api("GET", "/api/v1/repositories/team/app/-/manifests/sha256:" + "0" * 64 + "/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_deletes(api, world):
    assert api("DELETE", "/api/v1/repositories/team/app/-/tags/v2/").status_code == 204
    assert list(Tag.objects.filter(repository__name="team/app").values_list("name", flat=True)) == ["v1"]
    digest = Manifest.objects.get(repository__name="team/app", tags__name="v1").digest
    assert api("DELETE", f"/api/v1/repositories/team/app/-/manifests/{digest}/").status_code == 204
    assert not Manifest.objects.filter(digest=digest, repository__name="team/app").exists()
    gone = api("DELETE", "/api/v1/repositories/team/tool/")
    assert gone.json() == {"deleted": "team/tool", "tags": 1, "manifests": 1}
    assert not Repository.objects.filter(name="team/tool").exists()
    assert api("DELETE", "/api/v1/repositories/team/app/-/tags/v2/").status_code == 404


def test_immutable_tags_stay_unless_a_repository_admin_deletes(api, world, settings):
    Repository.objects.filter(name="team/app").update(immutable_tags=True)
    from registry_api.models import Grant

    Grant.objects.create(repository=Repository.objects.get(name="team/app"), user=world.users["puller"],
                         level="delete")
    refused = api("DELETE", "/api/v1/repositories/team/app/-/tags/v2/", "puller")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert api("DELETE", "/api/v1/repositories/team/app/-/tags/v2/", "repo_admin").status_code == 204


def test_audit_filters_and_exports(api, world):
    api("DELETE", "/api/v1/repositories/team/app/-/tags/v2/")
    since = (timezone.now() - timedelta(minutes=5)).isoformat()
    query = urlencode({"action": "delete", "actor": "staff", "repository": "team/app", "since": since})
    events = api("GET", f"/api/v1/audit-events/?{query}")
    rows = events.json()["results"]
    assert [(e["action"], e["target"]) for e in rows] == [("delete", "v2")]
    future = (timezone.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert api("GET", f"/api/v1/audit-events/?since={future}").json()["count"] == 0
    lines = b"".join(api("GET", "/api/v1/audit-events/export.jsonl?action=delete").streaming_content).splitlines()
    assert [json.loads(line)["target"] for line in lines] == ["v2"]
    exported = api("GET", "/api/v1/audit-events/export.csv")
    assert exported["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert len(table) == AuditEvent.objects.count()
    assert {"delete", "push"} <= {row["action"] for row in table}


def test_token_use_is_recorded(api, world):
    api("GET", "/api/v1/namespaces/")
    assert AccessToken.objects.get(user=world.users["staff"]).last_used_at is not None
