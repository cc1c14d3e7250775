"""The management API as an automation script uses it, against gunicorn with access control
on: with `requests` and the real docker CLI, create a namespace, a robot with a push grant,
`docker login` with its token and push, set a retention policy and dry-run it, read usage
and the audit trail, revoke the token, and see `docker push` refused."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from tests import builders

from .daemons import Dockerd

pytestmark = pytest.mark.e2e


def _push(dockerd: Dockerd, tmp_path: Path, ref: str, label: str) -> subprocess.CompletedProcess:
    img = builders.image(label, layer_count=1, docker=True)
    archive = builders.docker_archive(tmp_path / f"{label}.tar", img, [ref])
    dockerd("load", "-i", archive)
    return subprocess.run(["docker", "push", ref], env=dockerd.env, capture_output=True, text=True, timeout=120)


def test_a_script_sets_up_a_namespace_and_a_robot_then_revokes_it(dockerd, start_registry, tmp_path):
    with start_registry("management-api") as registry:
        api = requests.Session()
        api.auth = registry.credentials  # staff, with the password: HTTP Basic through the throttle
        url = f"{registry.base_url}/api/v1"

        assert requests.get(f"{url}/namespaces/", timeout=30).status_code == 401
        assert api.post(f"{url}/namespaces/", json={"name": "automation"}, timeout=30).status_code == 201
        robot = api.post(f"{url}/robots/", json={"name": "ci-automation", "namespace": "automation",
                                                 "level": "push"}, timeout=30)
        assert robot.status_code == 201, robot.text
        secret = robot.json()["token"]
        token_id = robot.json()["robot"]["tokens"][0]["id"]

        login = subprocess.run(["docker", "login", registry.host, "-u", "ci-automation", "--password-stdin"],
                               input=secret, env=dockerd.env, capture_output=True, text=True, timeout=60)
        assert login.returncode == 0, login.stderr
        for tag in ("v1", "v2"):
            pushed = _push(dockerd, tmp_path, f"{registry.host}/automation/app:{tag}", f"automation-{tag}")
            assert pushed.returncode == 0, pushed.stderr

        policy = api.post(f"{url}/retention-policies/", json={"namespace": "automation", "keep_last": 1}, timeout=30)
        assert policy.status_code == 201, policy.text
        dry_run = api.get(f"{url}/retention-policies/{policy.json()['id']}/dry-run/", timeout=30).json()
        assert [(d["repository"], d["tag"]) for d in dry_run["results"]] == [("automation/app", "v1")]
        assert dry_run["results"][0]["rule"]
        tags = api.get(f"{url}/repositories/automation/app/-/tags/", timeout=30).json()["results"]
        assert [t["name"] for t in tags] == ["v1", "v2"]  # a dry run deletes nothing

        usage = api.get(f"{url}/namespaces/automation/usage/", timeout=30).json()
        assert usage["repositories"] == 1 and usage["used_bytes"] > 0
        pushes = api.get(f"{url}/audit-events/", params={"repository": "automation/app", "action": "push"},
                         timeout=30).json()["results"]
        assert pushes and {e["actor"] for e in pushes} == {"ci-automation"}
        changes = api.get(f"{url}/audit-events/", params={"actor": "admin", "action": "permission"},
                          timeout=30).json()["results"]
        assert any(e["target"] == "Namespace automation" for e in changes)

        revoked = api.delete(f"{url}/robots/ci-automation/tokens/{token_id}/", timeout=30)
        assert revoked.status_code == 200 and revoked.json()["revoked"] is True
        refused = _push(dockerd, tmp_path, f"{registry.host}/automation/app:v3", "automation-v3")
        assert refused.returncode != 0
        assert "unauthorized" in refused.stderr.lower() or "denied" in refused.stderr.lower(), refused.stderr
        assert requests.get(f"{url}/repositories/", headers={"Authorization": f"Bearer {secret}"},
                            timeout=30).status_code == 401
