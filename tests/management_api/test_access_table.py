"""Every endpoint of /api/v1/ for each kind of caller, with access control on: anonymous
(401 with the challenge), pull-only, repository admin (team/app), namespace admin (team)
and staff. A repository or namespace the caller may not see is 404, one they see but may
not change is 403 (the rules of registry_api.auth.permissions, as in the portal)."""
from __future__ import annotations

import pytest

from django.utils import timezone

from registry_api.auth.credentials import access_token_create
from registry_api.models import Grant, GroupNamespace, Manifest, Namespace, ProxyNamespace, Repository
from registry_api.models import RetentionPolicy, Webhook, WebhookDelivery
from registry_api.services.gc import gc_plan, gc_plan_token
from registry_api.services.robots import robot_create

from .conftest import ROLES

# role order: anonymous, puller, repo_admin, ns_admin, staff
TABLE = [
    ("health", "GET", "/api/v1/health/", None, (200, 200, 200, 200, 200)),
    ("version", "GET", "/api/v1/version/", None, (200, 200, 200, 200, 200)),
    ("schema", "GET", "/api/v1/schema/", None, (200, 200, 200, 200, 200)),
    # The dashboard's figures: anonymous callers see those of what is public (none here).
    ("summary", "GET", "/api/v1/summary/", None, (200, 200, 200, 200, 200)),
    ("summary write", "POST", "/api/v1/summary/", {}, (401, 405, 405, 405, 405)),
    ("other namespace's tags", "GET", "/api/v1/repositories/other/box/-/tags/", None, (401, 404, 404, 404, 200)),
    ("namespace list", "GET", "/api/v1/namespaces/", None, (401, 200, 200, 200, 200)),
    ("namespace create", "POST", "/api/v1/namespaces/", {"name": "fresh"}, (401, 403, 403, 403, 201)),
    ("namespace read", "GET", "/api/v1/namespaces/team/", None, (401, 404, 404, 200, 200)),
    ("namespace update", "PATCH", "/api/v1/namespaces/team/", {"public": True}, (401, 404, 404, 403, 200)),
    ("namespace usage", "GET", "/api/v1/namespaces/team/usage/", None, (401, 404, 404, 200, 200)),
    ("namespace delete", "DELETE", "/api/v1/namespaces/empty/", None, (401, 404, 404, 404, 204)),
    ("namespace delete, repositories left", "DELETE", "/api/v1/namespaces/team/", None, (401, 404, 404, 403, 409)),
    ("repository list", "GET", "/api/v1/repositories/", None, (401, 200, 200, 200, 200)),
    ("repository read", "GET", "/api/v1/repositories/team/app/", None, (401, 200, 200, 200, 200)),
    ("other namespace's repository", "GET", "/api/v1/repositories/other/box/", None, (401, 404, 404, 404, 200)),
    ("repository delete", "DELETE", "/api/v1/repositories/team/app/", None, (401, 403, 200, 200, 200)),
    ("tag list", "GET", "/api/v1/repositories/team/app/-/tags/", None, (401, 200, 200, 200, 200)),
    ("tag read", "GET", "/api/v1/repositories/team/app/-/tags/v1/", None, (401, 200, 200, 200, 200)),
    ("tag delete", "DELETE", "/api/v1/repositories/team/app/-/tags/v2/", None, (401, 403, 204, 204, 204)),
    ("manifest read", "GET", "/api/v1/repositories/team/app/-/manifests/{digest}/", None,
     (401, 200, 200, 200, 200)),
    ("manifest delete", "DELETE", "/api/v1/repositories/team/app/-/manifests/{digest}/", None,
     (401, 403, 204, 204, 204)),
    ("robot list", "GET", "/api/v1/robots/", None, (401, 403, 403, 403, 200)),
    ("robot create", "POST", "/api/v1/robots/", {"name": "ci-new", "namespace": "team", "level": "push"},
     (401, 403, 403, 403, 201)),
    ("robot read", "GET", "/api/v1/robots/ci-bot/", None, (401, 403, 403, 403, 200)),
    ("robot token revoke", "DELETE", "/api/v1/robots/ci-bot/tokens/{robot_token}/", None, (401, 403, 403, 403, 200)),
    ("robot tokens", "GET", "/api/v1/robots/ci-bot/tokens/", None, (401, 403, 403, 403, 200)),
    ("robot token create", "POST", "/api/v1/robots/ci-bot/tokens/", {"name": "second"}, (401, 403, 403, 403, 201)),
    ("robot delete", "DELETE", "/api/v1/robots/ci-bot/", None, (401, 403, 403, 403, 204)),
    ("own tokens", "GET", "/api/v1/tokens/", None, (401, 200, 200, 200, 200)),
    ("own token create", "POST", "/api/v1/tokens/", {"name": "ci"}, (401, 201, 201, 201, 201)),
    ("own token revoke", "DELETE", "/api/v1/tokens/{spare}/", None, (401, 200, 200, 200, 200)),
    ("another's token revoke", "DELETE", "/api/v1/tokens/{others_token}/", None, (401, 404, 404, 404, 404)),
    ("another's tokens", "GET", "/api/v1/tokens/?user=other", None, (401, 403, 403, 403, 200)),
    ("everyone's tokens", "GET", "/api/v1/tokens/?user=*", None, (401, 403, 403, 403, 200)),
    ("policy list", "GET", "/api/v1/retention-policies/", None, (401, 200, 200, 200, 200)),
    ("namespace policy create", "POST", "/api/v1/retention-policies/", {"namespace": "team", "keep_last": 3},
     (401, 404, 404, 201, 201)),
    ("repository policy create", "POST", "/api/v1/retention-policies/", {"repository": "team/app", "keep_last": 3},
     (401, 403, 201, 201, 201)),
    ("namespace policy read", "GET", "/api/v1/retention-policies/{team_policy}/", None, (401, 404, 404, 200, 200)),
    ("namespace policy update", "PATCH", "/api/v1/retention-policies/{team_policy}/", {"keep_last": 5},
     (401, 404, 404, 200, 200)),
    ("namespace policy dry run", "GET", "/api/v1/retention-policies/{team_policy}/dry-run/", None,
     (401, 404, 404, 200, 200)),
    ("namespace policy delete", "DELETE", "/api/v1/retention-policies/{team_policy}/", None,
     (401, 404, 404, 204, 204)),
    ("repository policy read", "GET", "/api/v1/retention-policies/{app_policy}/", None, (401, 404, 200, 200, 200)),
    ("repository settings", "PATCH", "/api/v1/repositories/team/app/", {"immutable_tags": True},
     (401, 403, 200, 200, 200)),
    ("repository grants", "GET", "/api/v1/repositories/team/app/-/grants/", None, (401, 403, 200, 200, 200)),
    ("repository grant set", "POST", "/api/v1/repositories/team/app/-/grants/", {"user": "other", "level": "pull"},
     (401, 403, 200, 200, 200)),
    ("repository grant remove", "DELETE", "/api/v1/repositories/team/app/-/grants/{app_grant}/", None,
     (401, 403, 204, 204, 204)),
    ("namespace grants", "GET", "/api/v1/namespaces/team/grants/", None, (401, 404, 404, 200, 200)),
    ("namespace grant set", "POST", "/api/v1/namespaces/team/grants/", {"user": "other", "level": "pull"},
     (401, 404, 404, 403, 200)),
    ("namespace grant remove", "DELETE", "/api/v1/namespaces/team/grants/{team_grant}/", None,
     (401, 404, 404, 403, 204)),
    ("gc preview", "GET", "/api/v1/gc/preview/", None, (401, 403, 403, 403, 200)),
    ("gc runs", "GET", "/api/v1/gc/runs/", None, (401, 403, 403, 403, 200)),
    ("gc run", "POST", "/api/v1/gc/runs/", {"preview": "{gc_token}"}, (401, 403, 403, 403, 201)),
    ("webhook list", "GET", "/api/v1/webhooks/", None, (401, 403, 403, 403, 200)),
    ("webhook create", "POST", "/api/v1/webhooks/", {"name": "h", "url": "http://127.0.0.1:9/hook"},
     (401, 403, 403, 403, 201)),
    ("webhook read", "GET", "/api/v1/webhooks/{hook}/", None, (401, 403, 403, 403, 200)),
    ("webhook update", "PATCH", "/api/v1/webhooks/{hook}/", {"active": False}, (401, 403, 403, 403, 200)),
    ("webhook delete", "DELETE", "/api/v1/webhooks/{hook}/", None, (401, 403, 403, 403, 204)),
    ("webhook deliveries", "GET", "/api/v1/webhooks/{hook}/deliveries/", None, (401, 403, 403, 403, 200)),
    ("webhook redeliver", "POST", "/api/v1/webhooks/{hook}/deliveries/{delivery}/redeliver/", None,
     (401, 403, 403, 403, 200)),
    ("proxies", "GET", "/api/v1/proxies/", None, (401, 403, 403, 403, 200)),
    ("proxy create", "POST", "/api/v1/proxies/", {"name": "mirror", "upstream_url": "http://127.0.0.1:9"},
     (401, 403, 403, 403, 201)),
    ("proxy read", "GET", "/api/v1/proxies/hub/", None, (401, 403, 403, 403, 200)),
    ("proxy update", "PATCH", "/api/v1/proxies/hub/", {"manifest_ttl": 60}, (401, 403, 403, 403, 200)),
    ("proxy delete", "DELETE", "/api/v1/proxies/hub/", None, (401, 403, 403, 403, 204)),
    ("groups", "GET", "/api/v1/groups/", None, (401, 403, 403, 403, 200)),
    ("group create", "POST", "/api/v1/groups/", {"name": "all", "members": ["hub"]}, (401, 403, 403, 403, 201)),
    ("group read", "GET", "/api/v1/groups/everything/", None, (401, 403, 403, 403, 200)),
    ("group update", "PATCH", "/api/v1/groups/everything/", {"members": ["team"]}, (401, 403, 403, 403, 200)),
    ("group delete", "DELETE", "/api/v1/groups/everything/", None, (401, 403, 403, 403, 204)),
    ("audit events", "GET", "/api/v1/audit-events/", None, (401, 403, 403, 200, 200)),
    ("audit export", "GET", "/api/v1/audit-events/export.csv", None, (401, 403, 403, 200, 200)),
]


@pytest.fixture
def ids(world) -> dict[str, object]:
    team = Namespace.objects.get(name="team")
    robot = robot_create(username="ci-bot", namespace=team, level="push")
    app = Repository.objects.get(name="team/app")
    hook = Webhook.objects.create(name="hook", url="http://127.0.0.1:9/hook")
    ProxyNamespace.objects.create(name="hub", upstream_url="http://127.0.0.1:9")
    GroupNamespace.objects.create(name="everything")
    Namespace.objects.create(name="empty")
    spares = {f"spare_{role}": access_token_create(user=user, name="spare")[0].pk for role, user in world.users.items()}
    return {
        **spares,
        "others_token": access_token_create(user=world.users["other"], name="theirs")[0].pk,
        "app_grant": Grant.objects.create(repository=app, user=world.users["other"], level="push").pk,
        "team_grant": Grant.objects.create(namespace=team, user=world.users["other"], level="pull").pk,
        "gc_token": gc_plan_token(gc_plan()),
        "hook": hook.pk,
        "delivery": WebhookDelivery.objects.create(webhook=hook, event="push", payload={},
                                                   next_attempt_at=timezone.now()).pk,
        "digest": Manifest.objects.get(repository__name="team/app", tags__name="v1").digest,
        "robot_token": robot.token.pk,
        "team_policy": RetentionPolicy.objects.create(namespace=team, keep_last=1).pk,
        "app_policy": RetentionPolicy.objects.create(repository=Repository.objects.get(name="team/app"), keep_last=1).pk,
    }


def _if_match(api, method: str, path: str) -> dict:
    """Updates need the ETag as read (by staff, who may read everything here)."""
    if method not in ("PATCH", "PUT"):
        return {}
    return {"If-Match": api("GET", path, "staff").headers.get("ETag", '"none"')}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("label", "method", "path", "body", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_who_may_do_what(api, ids, role, label, method, path, body, expected):
    path = path.format(spare=ids.get(f"spare_{role}", 0), **ids)  # {spare}: a second token of the caller's
    if body is not None:
        body = {key: value.format(**ids) if isinstance(value, str) else value for key, value in body.items()}
    response = api(method, path, role, json=body, headers=_if_match(api, method, path))
    want = expected[ROLES.index(role)]
    assert response.status_code == want, (role, label, getattr(response, "content", b"")[:300])
    if want == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    if want >= 400:
        body = response.json()
        assert set(body) >= {"code", "message"} and body["message"]


@pytest.mark.parametrize(("role", "names"), [
    ("puller", ["team/app", "team/tool"]),
    ("repo_admin", ["team/app"]),
    ("ns_admin", ["team/app", "team/tool"]),
    ("staff", ["other/box", "team/app", "team/tool"]),
])
def test_lists_hold_only_what_the_caller_may_see(api, world, role, names):
    listed = [r["name"] for r in api("GET", "/api/v1/repositories/", role).json()["results"]]
    assert listed == names


@pytest.mark.parametrize(("role", "namespaces"), [
    ("puller", []), ("repo_admin", []), ("ns_admin", ["team"]), ("staff", ["other", "team"]),
])
def test_namespace_list_holds_what_the_caller_administers(api, world, role, namespaces):
    assert [n["name"] for n in api("GET", "/api/v1/namespaces/", role).json()["results"]] == namespaces


def test_namespace_admins_read_only_their_namespaces_audit_events(api, world):
    api("DELETE", "/api/v1/repositories/other/box/-/tags/1/", "staff")
    api("DELETE", "/api/v1/repositories/team/tool/-/tags/1/", "staff")
    seen = {e["repository"] for e in api("GET", "/api/v1/audit-events/?action=delete", "ns_admin").json()["results"]}
    assert seen == {"team/tool"}


def test_a_read_only_token_may_read_but_not_write(api, world, client):
    from registry_api.auth.credentials import access_token_create

    secret = access_token_create(user=world.users["staff"], name="ro", read_only=True)[1]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/namespaces/", headers=headers).status_code == 200
    refused = client.post("/api/v1/namespaces/", {"name": "x"}, content_type="application/json", headers=headers)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
