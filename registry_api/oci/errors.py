"""The OCI error codes, registered once with their message and HTTP status, and the envelope.

Services raise `RegistryError` subclasses; `edge.middleware.RegistryErrorMiddleware` is the
one place that turns them (and anything unexpected) into `{"errors": [...]}` responses,
through `edge.http.error_response`. No Django here: `envelope` writes the body, and the
HTTP response is built at the edge.

The OCI distribution spec (v1.1, "Error Codes") says the code of a 4xx JSON body MUST be one
of its fourteen, so those are the only ones registered: Docker's legacy TAG_INVALID,
PAGINATION_NUMBER_INVALID and RANGE_INVALID are answered with the nearest spec code and the
status they had (docs/api.md). UNKNOWN only ever goes with a 500.
"""
from __future__ import annotations

import json
from typing import Any

# code -> (message, HTTP status)
CODES: dict[str, tuple[str, int]] = {
    "BLOB_UNKNOWN": ("blob unknown to registry", 404),
    "BLOB_UPLOAD_INVALID": ("blob upload invalid", 400),
    "BLOB_UPLOAD_UNKNOWN": ("blob upload unknown to registry", 404),
    "DIGEST_INVALID": ("provided digest did not match uploaded content", 400),
    "MANIFEST_BLOB_UNKNOWN": ("manifest references a manifest or blob unknown to registry", 400),
    "MANIFEST_INVALID": ("manifest invalid", 400),
    "MANIFEST_UNKNOWN": ("manifest unknown to registry", 404),
    "NAME_INVALID": ("invalid repository name", 400),
    "NAME_UNKNOWN": ("repository name not known to registry", 404),
    "SIZE_INVALID": ("provided length did not match content length", 400),
    "UNAUTHORIZED": ("authentication required", 401),
    "DENIED": ("requested access to the resource is denied", 403),
    "UNSUPPORTED": ("the operation is unsupported", 405),
    "TOOMANYREQUESTS": ("too many requests", 429),
    # Distribution's code for a dependency that cannot be reached (the sign-in directory).
    "UNAVAILABLE": ("service unavailable", 503),
    "UNKNOWN": ("unknown error", 500),
}


class RegistryError(Exception):
    """An error the client sees as one entry of the OCI envelope.

    `status` overrides the code's status where the spec pairs one code with several
    (e.g. an oversized manifest is 413, a disabled delete 405).
    """

    code = "UNKNOWN"
    status: int | None = None
    # A subclass's own default message, where its code is shared with other conditions.
    default_message: str | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: Any = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        if self.code not in CODES:
            raise ValueError(f"unregistered error code {self.code}")
        default_message, default_status = CODES[self.code]
        self.message = message or self.default_message or default_message
        self.detail = detail
        self.status = status or self.status or default_status
        self.headers = headers or {}
        super().__init__(self.message)


class BlobUnknown(RegistryError):
    code = "BLOB_UNKNOWN"


class BlobUploadInvalid(RegistryError):
    code = "BLOB_UPLOAD_INVALID"


class BlobUploadUnknown(RegistryError):
    code = "BLOB_UPLOAD_UNKNOWN"


class DigestInvalid(RegistryError):
    code = "DIGEST_INVALID"


class ManifestBlobUnknown(RegistryError):
    code = "MANIFEST_BLOB_UNKNOWN"


class ManifestInvalid(RegistryError):
    code = "MANIFEST_INVALID"


class ManifestTooLarge(RegistryError):
    code = "MANIFEST_INVALID"
    status = 413


class ManifestUnknown(RegistryError):
    code = "MANIFEST_UNKNOWN"


class NameInvalid(RegistryError):
    code = "NAME_INVALID"


class NameUnknown(RegistryError):
    code = "NAME_UNKNOWN"


class SizeInvalid(RegistryError):
    code = "SIZE_INVALID"


class TagInvalid(RegistryError):
    """A tag outside the grammar in a manifest PUT (a read of one is MANIFEST_UNKNOWN)."""

    code = "MANIFEST_INVALID"
    default_message = "invalid tag"


class Unsupported(RegistryError):
    code = "UNSUPPORTED"


class PaginationNumberInvalid(RegistryError):
    """An `n` that is not a non-negative integer (one above the page maximum is capped)."""

    code = "UNSUPPORTED"
    status = 400
    default_message = "n must be a non-negative integer"


class ChunkOutOfOrder(RegistryError):
    """A chunk that does not start where the upload ends (416)."""

    code = "BLOB_UPLOAD_INVALID"
    status = 416


class RangeNotSatisfiable(RegistryError):
    """A blob read `Range` outside the blob (416, with `Content-Range: bytes */size`): the
    range's length does not fit the content's, the nearest of the spec's codes."""

    code = "SIZE_INVALID"
    status = 416
    default_message = "requested range not satisfiable"


def envelope(errors: list[RegistryError]) -> str:
    """The JSON body; the first error's status and headers go with it (edge/http.py)."""
    body = {
        "errors": [
            {"code": e.code, "message": e.message, "detail": e.detail if e.detail is not None else {}}
            for e in errors
        ]
    }
    return json.dumps(body)
