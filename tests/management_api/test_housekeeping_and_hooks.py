"""Grants, repository settings, garbage collection, webhooks, proxies and groups through
/api/v1/: the same services as the portal and the admin, with what they answer."""
from __future__ import annotations

from registry_api.models import AuditEvent, Blob, GcRun, Grant, GroupNamespace, ProxyNamespace, Repository, Webhook


def test_repository_grants_set_replace_and_remove(api, world):
    path = "/api/v1/repositories/team/app/-/grants/"
    made = api("POST", path, "repo_admin", json={"user": "other", "level": "pull"})
    assert made.status_code == 200 and made.json()["level"] == "pull"
    again = api("POST", path, "repo_admin", json={"user": "other", "level": "delete"})
    assert again.json()["id"] == made.json()["id"] and again.json()["level"] == "delete"
    listed = {(g["user"], g["level"]) for g in api("GET", path, "repo_admin").json()["results"]}
    assert ("other", "delete") in listed
    assert api("DELETE", f"{path}{made.json()['id']}/", "repo_admin").status_code == 204
    assert not Grant.objects.filter(pk=made.json()["id"]).exists()
    assert api("POST", path, "repo_admin", json={"user": "nobody", "level": "pull"}).status_code == 400
    assert api("POST", path, "repo_admin", json={"user": "other", "group": "g", "level": "pull"}).status_code == 400
    # Another repository's grant is not this one's to remove.
    box = Grant.objects.create(repository=Repository.objects.get(name="other/box"), user=world.users["puller"])
    assert api("DELETE", f"{path}{box.pk}/", "staff").status_code == 404
    assert Grant.objects.filter(pk=box.pk).exists()


def test_repository_settings_with_if_match(api, world):
    read = api("GET", "/api/v1/repositories/team/app/", "repo_admin")
    stale = read.headers["ETag"]
    changed = api("PATCH", "/api/v1/repositories/team/app/", "repo_admin", json={"public": True},
                  headers={"If-Match": stale})
    assert changed.status_code == 200 and changed.json()["public"] is True
    assert Repository.objects.get(name="team/app").public
    lost = api("PATCH", "/api/v1/repositories/team/app/", "repo_admin", json={"public": False},
               headers={"If-Match": stale})
    assert lost.status_code == 412
    assert api("PATCH", "/api/v1/repositories/team/app/", "repo_admin", json={"public": False}).status_code == 428
    assert api("PATCH", "/api/v1/repositories/team/app/", "repo_admin", json={"name": "x"},
               headers={"If-Match": changed.headers["ETag"]}).status_code == 400


def test_gc_runs_exactly_what_it_previewed(api, world, settings):
    settings.REGISTRY_GC_GRACE_PERIOD = 0
    api("DELETE", "/api/v1/repositories/team/tool/")
    preview = api("GET", "/api/v1/gc/preview/").json()
    assert preview["blobs"] > 0 and preview["bytes"] > 0
    assert {item["kind"] for item in preview["items"]} >= {"blob"} and all(i["reason"] for i in preview["items"])
    doomed = {item["digest"] for item in preview["items"] if item["kind"] == "blob"}
    run = api("POST", "/api/v1/gc/runs/", json={"preview": preview["token"]})
    assert run.status_code == 201 and run.json()["blobs_deleted"] == len(doomed)
    assert not Blob.objects.filter(digest__in=doomed).exists()
    assert api("GET", "/api/v1/gc/runs/").json()["results"][0]["blobs_deleted"] == len(doomed)
    assert GcRun.objects.count() == 1
    assert AuditEvent.objects.filter(actor="staff", target="garbage collection").exists()
    refused = api("POST", "/api/v1/gc/runs/", json={"preview": "forged"})
    assert refused.status_code == 409 and refused.json()["code"] == "conflict"
    assert api("POST", "/api/v1/gc/runs/", json={}).status_code == 400


def test_webhooks_keep_their_secret(api, world):
    made = api("POST", "/api/v1/webhooks/", json={"name": "ci", "url": "http://127.0.0.1:9/hook", "namespace": "team"})
    assert made.status_code == 201
    secret = made.json()["secret"]
    assert secret and Webhook.objects.get(name="ci").secret == secret
    read = api("GET", f"/api/v1/webhooks/{made.json()['id']}/").json()
    assert read["signed"] is True and "secret" not in read and secret not in str(read)
    unsigned = api("PATCH", f"/api/v1/webhooks/{made.json()['id']}/", json={"unsigned": True})
    assert unsigned.json()["signed"] is False
    bad = api("POST", "/api/v1/webhooks/", json={"name": "x", "url": "not a url"})
    assert bad.status_code == 400 and "url" in bad.json()["fields"]
    both = api("POST", "/api/v1/webhooks/", json={"name": "x", "url": "http://127.0.0.1:9/", "namespace": "team",
                                                  "repository_name": "team/app"})
    assert both.status_code == 400


def test_a_delete_queues_a_delivery_that_can_be_sent_again(api, world, settings,
                                                           django_capture_on_commit_callbacks):
    settings.REGISTRY_WEBHOOK_SEND_IN_BACKGROUND = False
    hook = api("POST", "/api/v1/webhooks/", json={"name": "all", "url": "http://127.0.0.1:9/hook"}).json()
    with django_capture_on_commit_callbacks(execute=True):  # deliveries are queued once the delete commits
        api("DELETE", "/api/v1/repositories/team/app/-/tags/v2/")
    deliveries = api("GET", f"/api/v1/webhooks/{hook['id']}/deliveries/").json()["results"]
    assert [d["event"] for d in deliveries] == ["delete"]
    again = api("POST", f"/api/v1/webhooks/{hook['id']}/deliveries/{deliveries[0]['id']}/redeliver/")
    assert again.status_code == 200
    assert again.json()["attempts"] == deliveries[0]["attempts"] + 1 and again.json()["last_error"]
    assert api("POST", f"/api/v1/webhooks/{hook['id']}/deliveries/999999/redeliver/").status_code == 404


def test_proxies_show_their_counters(api, world):
    ProxyNamespace.objects.create(name="hub", upstream_url="http://127.0.0.1:9", cache_hits=3, cache_misses=1)
    rows = api("GET", "/api/v1/proxies/").json()["results"]
    assert [(r["name"], r["cache_hits"], r["cache_misses"], r["hit_ratio"]) for r in rows] == [("hub", 3, 1, 0.75)]
    assert api("GET", "/api/v1/groups/").json() == {"count": 0, "results": []}


def test_a_proxy_password_is_stored_encrypted_and_never_returned(api, world):
    made = api("POST", "/api/v1/proxies/", json={"name": "hub", "upstream_url": "http://127.0.0.1:9/",
                                                 "username": "u", "password": "s3cret"})
    assert made.status_code == 201 and "s3cret" not in made.content.decode() and "password" not in made.json()
    proxy = ProxyNamespace.objects.get(name="hub")
    assert proxy.password_encrypted and "s3cret" not in proxy.password_encrypted
    assert proxy.upstream_url == "http://127.0.0.1:9"
    cleared = api("PATCH", "/api/v1/proxies/hub/", json={"clear_password": True})
    assert cleared.status_code == 200 and not ProxyNamespace.objects.get(name="hub").password_encrypted
    assert api("PATCH", "/api/v1/proxies/hub/", json={"name": "other"}).status_code == 400
    both = api("POST", "/api/v1/proxies/", json={"name": "x", "upstream_url": "http://127.0.0.1:9",
                                                 "password": "p", "password_env": "P"})
    assert both.status_code == 400
    # A namespace is hosted, a proxy or a group: never two.
    taken = api("POST", "/api/v1/proxies/", json={"name": "team", "upstream_url": "http://127.0.0.1:9"})
    assert taken.status_code == 400 and "name" in taken.json()["fields"]
    assert AuditEvent.objects.filter(actor="staff", target__startswith="ProxyNamespace hub").count() >= 2


def test_group_members_keep_their_order(api, world):
    ProxyNamespace.objects.create(name="hub", upstream_url="http://127.0.0.1:9")
    made = api("POST", "/api/v1/groups/", json={"name": "all", "members": ["team", "hub"]})
    assert made.status_code == 201
    assert made.json()["members"] == [{"namespace": "team", "kind": "hosted"}, {"namespace": "hub", "kind": "proxy"}]
    changed = api("PATCH", "/api/v1/groups/all/", json={"members": ["hub", "team"]})
    assert [m["namespace"] for m in changed.json()["members"]] == ["hub", "team"]
    nested = api("POST", "/api/v1/groups/", json={"name": "outer", "members": ["all"]})
    assert nested.status_code == 400 and "members" in nested.json()["fields"]
    assert not GroupNamespace.objects.filter(name="outer").exists()
    assert api("POST", "/api/v1/groups/", json={"members": ["team"]}).status_code == 400
    assert api("DELETE", "/api/v1/groups/all/").status_code == 204
