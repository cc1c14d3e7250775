"""Routes of /v2/. Names may have several path components, so the patterns are loose and
every parameter is validated by `views.common.endpoint` against `oci/reference.py`. The route
names label request logs and metrics."""
from django.urls import re_path

from .views import base, blobs, discovery, manifests, referrers, uploads

NAME = r"(?P<name>.+?)"

urlpatterns = [
    re_path(r"^$", base.version_check, name="base"),
    re_path(r"^_catalog$", discovery.catalog, name="catalog"),
    re_path(rf"^{NAME}/manifests/(?P<reference>[^/]+)$", manifests.manifest, name="manifest"),
    re_path(rf"^{NAME}/blobs/uploads/?$", uploads.upload_start, name="upload_start"),
    re_path(rf"^{NAME}/blobs/uploads/(?P<upload_id>[^/]+)$", uploads.upload_session, name="upload_session"),
    re_path(rf"^{NAME}/blobs/(?P<digest>[^/]+)$", blobs.blob, name="blob"),
    re_path(rf"^{NAME}/tags/list$", discovery.tags_list, name="tags_list"),
    re_path(rf"^{NAME}/referrers/(?P<digest>[^/]+)$", referrers.referrers, name="referrers"),
    re_path(r"", base.unknown_endpoint, name="unknown"),
]
