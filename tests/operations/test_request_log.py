"""One structured line per request with id, user, repository, route, status, bytes, duration."""
from __future__ import annotations

import json
import logging

import pytest
from django.contrib.auth.models import User

from registry_api.edge.logformat import PlainFormatter
from registry_api.edge.requestlog import JsonFormatter, RequestIdFilter, RequestLogMiddleware
from storage_backends import get_storage
from tests import builders
from tests.api.support import Registry
from tests.auth.conftest import basic

from .test_metrics import scrape, value

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _registry(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.REGISTRY_AUTH_ENABLED = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_storage.cache_clear()
    yield
    get_storage.cache_clear()


def request_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "registry.request"]


def test_each_request_logs_its_fields_and_answers_its_id(client, caplog):
    User.objects.create_superuser("ops", password="ops-pw")
    data = b"some layer"
    import hashlib

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with caplog.at_level(logging.INFO, logger="registry.request"):
        response = client.post(
            f"/v2/team/app/blobs/uploads/?digest={digest}", data, content_type="application/octet-stream",
            HTTP_X_REQUEST_ID="trace-42", **basic("ops", "ops-pw"),
        )
    assert response.status_code == 201 and response["X-Request-ID"] == "trace-42"
    (record,) = request_lines(caplog)
    assert (record.method, record.route, record.repository, record.user, record.status) == (
        "POST", "upload_start", "team/app", "ops", 201,
    )
    assert record.bytes_in == len(data) and record.duration_ms >= 0
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "trace-42" and line["repository"] == "team/app" and line["bytes_in"] == len(data)
    assert "ops-pw" not in json.dumps(line) and "Authorization" not in json.dumps(line)


def test_a_made_up_request_id_is_replaced(client, caplog):
    response = client.get("/v2/", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert response["X-Request-ID"] != "bad id with spaces\n" and len(response["X-Request-ID"]) == 32


def test_other_lines_carry_the_request_id(rf):
    seen = []

    def view(request):
        record = logging.LogRecord("registry_api.x", logging.INFO, __file__, 1, "inside", None, None)
        RequestIdFilter().filter(record)
        seen.append(record.request_id)
        from django.http import HttpResponse

        return HttpResponse("ok")

    RequestLogMiddleware(view)(rf.get("/v2/", HTTP_X_REQUEST_ID="corr-7"))
    outside = logging.LogRecord("registry_api.x", logging.INFO, __file__, 1, "after", None, None)
    RequestIdFilter().filter(outside)
    assert seen == ["corr-7"] and outside.request_id == "-"


def test_tracebacks_stay_out_of_info_lines():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    info = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, exc_info)
    error = logging.LogRecord("x", logging.ERROR, __file__, 1, "hello", None, exc_info)
    assert "exception" not in json.loads(JsonFormatter().format(info))
    assert "ValueError: boom" in json.loads(JsonFormatter().format(error))["exception"]


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for(client, settings):
    settings.REGISTRY_BEHIND_PROXY = True
    settings.REGISTRY_METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    forwarded = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.9")
    assert forwarded.status_code == 403
    settings.REGISTRY_BEHIND_PROXY = False
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 200


def _one_line(client, caplog, method: str, path: str, **extra) -> logging.LogRecord:
    with caplog.at_level(logging.INFO, logger="registry.request"):
        caplog.clear()
        getattr(client, method)(path, **extra)
    (record,) = request_lines(caplog)
    return record


def test_each_line_says_what_the_request_did(client, settings, caplog):
    settings.REGISTRY_AUTH_ENABLED = False

    image = builders.image("actions", layer_count=1)
    Registry(client).push_image("team/app", "v1", image)
    layer = image.layers[0].digest
    cases = [
        ("get", "/v2/team/app/manifests/v1", "pull"),
        ("head", "/v2/team/app/manifests/v1", "check"),
        ("get", f"/v2/team/app/blobs/{layer}", "pull"),
        ("post", f"/v2/team/other/blobs/uploads/?mount={layer}&from=team/app", "mount"),
        ("post", "/v2/team/app/blobs/uploads/", "upload"),
        ("get", "/v2/_catalog", "catalog"),
        ("get", "/v2/team/app/tags/list", "tags"),
        ("delete", "/v2/team/app/manifests/v1", "delete"),
        ("get", "/auth/token?service=x", "login"),
        ("get", "/admin/", "admin"),
        ("get", "/repositories/", "portal"),
    ]
    for method, path, action in cases:
        assert _one_line(client, caplog, method, path).action == action, path
    with caplog.at_level(logging.INFO, logger="registry.request"):
        caplog.clear()
        Registry(client).push_image("team/app", "v2", builders.image("actions-2", layer_count=1))
    actions = [r.action for r in request_lines(caplog)]
    assert actions == ["upload", "upload", "upload", "upload", "push"]  # 2 blobs: POST + PUT each


def test_bytes_out_counts_the_body_sent(client, settings, caplog):
    settings.REGISTRY_AUTH_ENABLED = False

    image = builders.image("bytes-out", layer_count=1)
    Registry(client).push_image("team/app", "v1", image)
    layer = image.layers[0]
    path = f"/v2/team/app/blobs/{layer.digest}"
    assert _one_line(client, caplog, "get", path).bytes_out == len(layer.data)
    assert _one_line(client, caplog, "get", path, HTTP_RANGE="bytes=2-5").bytes_out == 4
    assert _one_line(client, caplog, "head", path).bytes_out == 0
    manifest = _one_line(client, caplog, "get", "/v2/team/app/manifests/v1")
    assert manifest.bytes_out == len(image.manifest.data)


def test_behind_nginx_bytes_out_counts_what_nginx_sends(client, settings, caplog):
    """X-Accel-Redirect answers have no body of ours; nginx sends the blob (or the range)."""
    settings.REGISTRY_AUTH_ENABLED = False
    settings.REGISTRY_X_ACCEL_REDIRECT = "/_blobs/"

    image = builders.image("x-accel", layer_count=1)
    Registry(client).push_image("team/app", "v1", image)
    layer = image.layers[0]
    path = f"/v2/team/app/blobs/{layer.digest}"
    before = value(scrape(client), "registry_http_sent_bytes_total", 'route="blob"')
    whole = _one_line(client, caplog, "get", path)
    ranged = _one_line(client, caplog, "get", path, HTTP_RANGE="bytes=1-3")
    assert (whole.status, whole.bytes_out) == (200, len(layer.data))
    assert (ranged.status, ranged.bytes_out) == (200, 3)  # nginx answers the 206 itself
    sent = value(scrape(client), "registry_http_sent_bytes_total", 'route="blob"') - before
    assert sent == len(layer.data) + 3
    response = client.get(path, HTTP_RANGE="bytes=1-3")
    assert response["X-Accel-Redirect"].startswith("/_blobs/sha256/") and response.content == b""
    assert "Content-Range" not in response and response.get("Content-Length", "0") == "0"
    assert client.get(path, HTTP_RANGE=f"bytes={len(layer.data)}-").status_code == 416


def test_plain_format_carries_the_same_fields():
    record = logging.LogRecord("registry.request", logging.INFO, __file__, 1, "GET /v2/ 200", None, None)
    fields = {"action": "pull", "method": "GET", "path": "/v2/a b/", "route": "blob", "repository": "",
              "user": "-", "status": 200, "bytes_in": 0, "bytes_out": 1234, "duration_ms": 1.5}
    for key, value in fields.items():
        setattr(record, key, value)
    record.request_id = "corr-9"
    line = PlainFormatter().format(record)
    assert "[corr-9] GET /v2/ 200 action=pull method=GET " in line
    assert 'path="/v2/a b/"' in line and 'repository=""' in line
    assert "status=200 bytes_in=0 bytes_out=1234 duration_ms=1.5" in line
    json_line = json.loads(JsonFormatter().format(record))
    assert {k: json_line[k] for k in fields} == fields

