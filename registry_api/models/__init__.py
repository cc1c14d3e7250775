"""Registry metadata, one module per domain; Django finds every model through this package.

core: repositories, blobs, manifests, tags, uploads. access: namespaces, grants, tokens,
robots, the login throttle. housekeeping: retention, backup leases, the admin's table-less
pages. events: audit trail, webhooks, garbage-collection runs. proxy: proxy and group
namespaces, the proxy cache's bookkeeping.

Each module imports only the modules it builds on, never this package, so no module
imports another in a loop (tests/unit/test_layout.py). Callers import the models from
here: `from registry_api.models import Repository`.
"""
from .core import DIGEST_REGEX, Blob, Manifest, ManifestReference, Repository, RepositoryBlob, Tag, Upload  # noqa: F401
from .access import AccessToken, Grant, LoginThrottle, Namespace, RobotAccount  # noqa: F401
from .housekeeping import (  # noqa: F401
    BackupLease, GarbageCollection, NamespaceUsage, RetentionPolicy, StaleUpload, validate_tag_pattern,
)
from .events import AuditEvent, GcRun, Webhook, WebhookDelivery  # noqa: F401
from .proxy import GroupMember, GroupNamespace, PendingBlobReference, ProxyFetch, ProxyNamespace  # noqa: F401
