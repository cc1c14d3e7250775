"""CORS on /v2/ for browser-based tools: off by default, preflights and exposed headers when on."""
from __future__ import annotations

from django.test import override_settings

ORIGIN = "https://ui.example.com"
EXPOSED = ["Docker-Content-Digest", "Location", "Range", "Link", "WWW-Authenticate"]


def preflight(client, path: str, method: str = "GET", origin: str = ORIGIN):
    return client.options(path, headers={
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    })


def exposed(response) -> set[str]:
    return {h.strip().lower() for h in response["Access-Control-Expose-Headers"].split(",")}


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_preflight_on_v2_is_allowed(client):
    response = preflight(client, "/v2/")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "GET" in response["Access-Control-Allow-Methods"]
    assert "authorization" in response["Access-Control-Allow-Headers"].lower()


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_preflight_for_a_push_method_is_allowed(client):
    response = preflight(client, "/v2/library/app/blobs/uploads/", method="PATCH")
    assert response.status_code == 200
    assert "PATCH" in response["Access-Control-Allow-Methods"]


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_responses_expose_the_registry_headers(client, pushed_image):
    response = client.get("/v2/library/app/manifests/latest", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert {h.lower() for h in EXPOSED} <= exposed(response)


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_error_responses_carry_cors_headers_too(client):
    response = client.get("/v2/library/nowhere/tags/list", headers={"Origin": ORIGIN})
    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == ORIGIN


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_other_origins_are_not_allowed(client):
    response = preflight(client, "/v2/", origin="https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in response
    response = client.get("/v2/", headers={"Origin": "https://evil.example.net"})
    assert "Access-Control-Allow-Origin" not in response


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_cors_is_limited_to_the_api(client):
    response = client.get("/", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response


def test_cors_is_off_by_default(client, settings):
    assert settings.CORS_ALLOWED_ORIGINS == []
    response = preflight(client, "/v2/")
    assert "Access-Control-Allow-Origin" not in response
    response = client.get("/v2/", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Expose-Headers" not in response
