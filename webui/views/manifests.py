"""One manifest: pretty JSON, layers, index children, image config, referrers."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from registry_api.oci.errors import ManifestUnknown
from registry_api.selectors.manifests import manifest_detail as select_manifest

from ..access import repository_view


@repository_view("pull")
def manifest_detail(request: HttpRequest, repository, digest: str) -> HttpResponse:
    try:
        detail = select_manifest(repository=repository, digest=digest)
    except ManifestUnknown:
        raise Http404("No such manifest in this repository.") from None
    return render(request, "webui/manifest.html", {"repository": repository, "detail": detail})
