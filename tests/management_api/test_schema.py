"""The OpenAPI document at /api/v1/schema/ is valid OpenAPI 3 and covers every route; the
docs page loads Swagger UI from our own static files, never a CDN."""
from __future__ import annotations

import re

import yaml
from django.test import Client
from openapi_spec_validator import validate


def _schema(client: Client) -> dict:
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_3(client, db):
    document = _schema(client)
    assert document["openapi"].startswith("3.")
    validate(document)
    as_yaml = client.get("/api/v1/schema/")
    assert as_yaml.status_code == 200
    validate(yaml.safe_load(as_yaml.content))


def test_the_schema_describes_every_resource_and_its_authentication(client, db):
    document = _schema(client)
    paths = set(document["paths"])
    for path in ("/api/v1/namespaces/", "/api/v1/namespaces/{name}/usage/", "/api/v1/repositories/",
                 "/api/v1/repositories/{name}/-/tags/", "/api/v1/repositories/{name}/-/manifests/{digest}/",
                 "/api/v1/robots/", "/api/v1/retention-policies/{id}/dry-run/", "/api/v1/audit-events/",
                 "/api/v1/health/", "/api/v1/version/", "/api/v1/summary/", "/api/v1/tokens/",
                 "/api/v1/robots/{name}/tokens/"):
        assert path in paths, path
    # A revoke answers the token as it now is (revoked), not an empty 204.
    for path in ("/api/v1/tokens/{token_id}/", "/api/v1/robots/{name}/tokens/{token_id}/"):
        assert list(document["paths"][path]["delete"]["responses"]) == ["200"], path
    created = document["paths"]["/api/v1/tokens/"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["$ref"].endswith("/TokenCreated")
    schemes = document["components"]["securitySchemes"]
    assert schemes["accessToken"]["scheme"] == "bearer" and schemes["basicAuth"]["scheme"] == "basic"
    parameters = {p["name"] for p in document["paths"]["/api/v1/repositories/"]["get"]["parameters"]}
    assert {"page", "page_size", "sort", "q"} <= parameters


def test_the_docs_page_uses_our_static_files(client, db):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
    assert "jsdelivr" not in html and "unpkg" not in html
    scripts = [s for s in sources if s.endswith(".js")]
    assert scripts
    for source in scripts:
        asset = client.get(source)
        assert asset.status_code == 200, source
