"""GET /v2/<name>/referrers/<digest>: the OCI 1.1 Referrers API."""
from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse

from .. import mediatypes
from ..proxy.pull import referrers_for_pull
from .common import endpoint, requires


@requires("pull")
def _get(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    """200 with an image index of the manifests whose subject is `digest` (empty when none,
    never 404); `OCI-Filters-Applied: artifactType` when filtered; 400 DIGEST_INVALID."""
    artifact_type = request.GET.get("artifactType") or None
    index = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": referrers_for_pull(route=request.registry_route, digest=digest, artifact_type=artifact_type),
    }
    response = HttpResponse(json.dumps(index), content_type=mediatypes.OCI_INDEX)
    if artifact_type:
        response["OCI-Filters-Applied"] = "artifactType"
    return response


referrers = endpoint(GET=_get, HEAD=_get)
