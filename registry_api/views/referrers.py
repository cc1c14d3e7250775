"""GET /v2/<name>/referrers/<digest>: the OCI 1.1 Referrers API."""
from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from ..edge.http import next_link
from ..oci import mediatypes
from ..services.pull import referrers_for_pull
from .common import endpoint, page_size, requires, validate_digest


@requires("pull")
def _get(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    """200 with an image index of the manifests whose subject is `digest` (empty when none,
    never 404), at most REGISTRY_REFERRERS_PAGE_MAX (or `n`) by digest with `Link: rel="next"`
    when more remain; `OCI-Filters-Applied: artifactType` when filtered; 400 DIGEST_INVALID
    or UNSUPPORTED (`n`)."""
    artifact_type = request.GET.get("artifactType") or None
    last = request.GET.get("last") or None
    n = page_size(request, settings.REGISTRY_REFERRERS_PAGE_MAX)
    page = referrers_for_pull(
        route=request.registry_route, digest=digest, artifact_type=artifact_type, n=n,
        last=validate_digest(last) if last else None,
    )
    index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": page.descriptors}
    response = HttpResponse(json.dumps(index), content_type=mediatypes.OCI_INDEX)
    if artifact_type:
        response["OCI-Filters-Applied"] = "artifactType"
    if page.has_more and page.descriptors:
        extra = {"artifactType": artifact_type} if artifact_type else {}
        response["Link"] = next_link(request.path, n, page.descriptors[-1]["digest"], **extra)
    return response


referrers = endpoint(GET=_get, HEAD=_get)
