"""One structured line per request with id, user, repository, route, status, bytes, duration."""
from __future__ import annotations

import json
import logging

import pytest
from django.contrib.auth.models import User

from registry_api.requestlog import JsonFormatter, RequestIdFilter, RequestLogMiddleware
from storage_backends import get_storage
from tests.auth.conftest import basic

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
