"""Image config blobs read from storage, always capped: the manifest page parses them whole,
and a push reads the image's build time from them once (`Manifest.image_created`).

Shared by the selectors, `manifest_put` and the backfill migration; the storage protocol is
the only way to the bytes, so any backend works.
"""
from __future__ import annotations

import logging
from datetime import datetime

from storage_backends import get_storage
from storage_backends.base import BlobNotFound

from ..oci.imageconfig import IMAGE_CONFIGS, ImageConfig, InvalidConfig, parse_config, parse_timestamp

logger = logging.getLogger(__name__)

# Image configs are small JSON documents; a "config" larger than this is not read whole.
CONFIG_MAX_BYTES = 4 * 1024 * 1024
# A push reads its config only up to this size for the build time: typical configs are a
# few KiB, and a push must not wait on a big read (the page still shows larger ones).
CREATED_CONFIG_MAX_BYTES = 256 * 1024


def _read_at_most(stream, limit: int) -> bytes:
    # A stream (a socket-backed one in other backends) may return less than asked per read.
    parts, remaining = [], limit
    while remaining > 0:
        chunk = stream.read(min(remaining, 1024 * 1024))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _parse(digest: str, limit: int, storage) -> ImageConfig:
    """BlobNotFound when absent, InvalidConfig when too large or not a config."""
    with (storage or get_storage()).open(digest) as stream:
        data = _read_at_most(stream, limit + 1)
    if len(data) > limit:
        raise InvalidConfig(f"the config is larger than {limit} bytes")
    return parse_config(data)


def read_image_config(digest: str, limit: int = CONFIG_MAX_BYTES) -> ImageConfig:
    """The config blob `digest` of a stored manifest, read (capped) and parsed."""
    try:
        return _parse(digest, limit, None)
    except BlobNotFound:
        logger.error("config blob %s is recorded but missing from storage", digest)
        raise InvalidConfig("the config blob is missing from storage") from None


def image_created(config_digest: str, media_type: str, size: int, storage=None) -> datetime | None:
    """The build time in a small image config; None for artifacts, big or unreadable configs
    (best effort: a push never fails because its config could not be read for this)."""
    if media_type not in IMAGE_CONFIGS or size > CREATED_CONFIG_MAX_BYTES:
        return None
    try:
        return parse_timestamp(_parse(config_digest, CREATED_CONFIG_MAX_BYTES, storage).created)
    except (BlobNotFound, InvalidConfig):  # not pushed yet: the manifest will be refused anyway
        return None
    except Exception:  # a storage backend's own error (network, permissions)
        logger.warning("could not read config %s for its build time", config_digest, exc_info=True)
        return None
