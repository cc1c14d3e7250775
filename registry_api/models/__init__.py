"""Registry metadata, one module per domain; Django finds every model through this package.

Each module imports only the modules it builds on (proxy on core), never this package, so
no module imports another in a loop (tests/unit/test_layout.py). Callers import the
models from here: `from registry_api.models import Repository`.
"""
from .core import (  # noqa: F401
    DIGEST_REGEX, AccessToken, BackupLease, Blob, GarbageCollection, Grant, LoginThrottle, Manifest,
    ManifestReference, Namespace, NamespaceUsage, Repository, RepositoryBlob, RetentionPolicy, RobotAccount,
    StaleUpload, Tag, Upload, validate_tag_pattern,
)
from .events import AuditEvent, GcRun, Webhook, WebhookDelivery  # noqa: F401
from .proxy import GroupMember, GroupNamespace, PendingBlobReference, ProxyFetch, ProxyNamespace  # noqa: F401
