"""Tokens, robots and namespaces deleted through the management API as a script does it,
against gunicorn with access control on, with skopeo as the registry client: a token made
over the API pushes, only within its namespace, until it is revoked; a robot's second
token pushes until the robot is deleted; a namespace goes only once its repositories have."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests import builders

from .support import skopeo_push

pytestmark = pytest.mark.e2e


def _push(registry, tmp_path: Path, ref: str, user: str, secret: str) -> None:
    label = ref.rsplit("/", 1)[-1].replace(":", "-")
    layout = builders.image_layout(tmp_path / f"layout-{label}-{len(list(tmp_path.iterdir()))}", "t",
                                   builders.image(label, layer_count=1))
    skopeo_push(f"oci:{layout}:t", f"docker://{registry.host}/{ref}", "--dest-creds", f"{user}:{secret}")


def _refused(registry, tmp_path: Path, ref: str, user: str, secret: str) -> None:
    with pytest.raises(AssertionError) as failed:
        _push(registry, tmp_path, ref, user, secret)
    message = str(failed.value).lower()
    assert any(word in message for word in ("unauthorized", "denied", "forbidden")), message


def test_tokens_robots_and_a_namespace_through_the_api(start_registry, tmp_path):
    with start_registry("api-tokens") as registry:
        api = requests.Session()
        api.auth = registry.credentials  # staff, with the password: HTTP Basic through the throttle
        url = f"{registry.base_url}/api/v1"
        for name in ("ci", "elsewhere"):
            assert api.post(f"{url}/namespaces/", json={"name": name}, timeout=30).status_code == 201

        made = api.post(f"{url}/tokens/", json={"name": "ci-push", "namespace": "ci"}, timeout=30)
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        assert secret not in api.get(f"{url}/tokens/", timeout=30).text
        _push(registry, tmp_path, "ci/app:v1", "admin", secret)
        # A superuser's token limited to ci reaches nothing else.
        _refused(registry, tmp_path, "elsewhere/app:v1", "admin", secret)
        assert api.get(f"{url}/repositories/", params={"namespace": "elsewhere"}, timeout=30).json()["count"] == 0
        revoked = api.delete(f"{url}/tokens/{made.json()['id']}/", timeout=30)
        assert revoked.status_code == 200 and revoked.json()["revoked"] is True
        _refused(registry, tmp_path, "ci/app:v2", "admin", secret)

        robot = api.post(f"{url}/robots/", json={"name": "ci-bot", "namespace": "ci", "level": "push"}, timeout=30)
        assert robot.status_code == 201, robot.text
        second = api.post(f"{url}/robots/ci-bot/tokens/", json={"name": "rotation"}, timeout=30)
        assert second.status_code == 201, second.text
        _push(registry, tmp_path, "ci/bot:v1", "ci-bot", second.json()["secret"])
        assert api.delete(f"{url}/robots/ci-bot/", timeout=30).status_code == 204
        _refused(registry, tmp_path, "ci/bot:v2", "ci-bot", second.json()["secret"])

        kept = api.delete(f"{url}/namespaces/ci/", timeout=30)
        assert kept.status_code == 409 and kept.json()["code"] == "conflict", kept.text
        for name in ("ci/app", "ci/bot"):
            assert api.delete(f"{url}/repositories/{name}/", timeout=30).status_code == 200
        assert api.delete(f"{url}/namespaces/ci/", timeout=30).status_code == 204
        assert api.get(f"{url}/namespaces/ci/", timeout=30).status_code == 404
        changes = api.get(f"{url}/audit-events/", params={"actor": "admin", "action": "permission"},
                          timeout=30).json()["results"]
        targets = {e["target"] for e in changes}
        assert "Namespace ci" in targets and "User ci-bot" in targets
