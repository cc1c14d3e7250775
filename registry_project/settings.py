"""Settings, all read from the environment (or a `.env` file) through one django-environ `Env`.

Every variable is listed with its default in docs/configuration.md and `.env.example`. The defaults run
out of the box: SQLite and blobs under `./data`, DEBUG off.
"""
from __future__ import annotations

import os
from pathlib import Path

import environ

from registry_api.lib.files import create_private, write_once
from storage_backends.offload import under_gevent

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Where the SQLite file, the blobs and the upload staging area live.
DATA_DIR = Path(env.str("REGISTRY_DATA_DIR", default=str(BASE_DIR / "data"))).resolve()
# SQLite cannot create its file in a missing directory; a fresh checkout has none. Made
# 0700: it holds private images, password hashes and keys (an installed data directory
# keeps the mode its installer gave it, see docs/operations.md "Deployment").
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)

# Development only: tracebacks in HTML pages (never on /v2/, which always answers JSON).
DEBUG = env.bool("REGISTRY_DEBUG", default=False)


def secret(name: str) -> str:
    """A secret from NAME, or from the file named by NAME_FILE (systemd credentials, k8s)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default="")


def generated_secret(path: Path) -> str:
    """A random secret kept in the data directory (mode 0600), made on first start."""
    import secrets

    return write_once(path, lambda: secrets.token_urlsafe(50).encode()).decode().strip()


# Signs portal sessions and CSRF tokens; generated into <data dir>/secret_key when unset.
SECRET_KEY = secret("REGISTRY_SECRET_KEY") or generated_secret(DATA_DIR / "secret_key")
# Host names this server answers to (comma separated).
ALLOWED_HOSTS = env.list("REGISTRY_ALLOWED_HOSTS", default=["*"])

INSTALLED_APPS = [
    "registry_api.admin_apps.RegistryAdminConfig",  # django.contrib.admin, password change throttled
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "storage_backends",
    "registry_api",
    "replication",
    "webui",
    # The management API under /api/v1/ (docs/management-api.md).
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by whitenoise: no CDN
    "management_api",
]

MIDDLEWARE = [
    "registry_api.edge.middleware.ForwardedClientMiddleware",
    "registry_api.edge.requestlog.RequestLogMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "registry_api.edge.middleware.RegistryErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "registry_api.events.context.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The registry's own paths (/v2/, the token endpoint, health and metrics) go through this
# shorter stack (registry_project/wsgi.py): no sessions, CSRF, messages, static files or
# portal authentication, which a `docker pull` never uses and which cost every request.
API_MIDDLEWARE = [
    "registry_api.edge.middleware.ForwardedClientMiddleware",
    "registry_api.edge.requestlog.RequestLogMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "registry_api.edge.middleware.RegistryErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "registry_api.events.context.ActorMiddleware",
]
API_PATH_PREFIXES = ("/v2", "/auth/token", "/healthz", "/readyz", "/metrics")

# Behind a TLS-terminating reverse proxy (deploy/nginx.conf): trust its X-Forwarded-Proto (so
# Location headers and the token realm say https) and X-Forwarded-For (client addresses).
REGISTRY_BEHIND_PROXY = env.bool("REGISTRY_BEHIND_PROXY", default=False)
if REGISTRY_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Session and CSRF cookies marked Secure (sent over https only): on by default behind the
# TLS proxy; a browser would not keep them from a plain-http site.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("REGISTRY_SECURE_COOKIES", default=REGISTRY_BEHIND_PROXY)
# Seconds a browser keeps to https for this host (Strict-Transport-Security; 0 = not sent).
# Only https answers carry it, so it takes effect behind the TLS proxy alone.
SECURE_HSTS_SECONDS = env.int("REGISTRY_HSTS_SECONDS", default=365 * 24 * 3600)
SILENCED_SYSTEM_CHECKS = [
    # SECURE_SSL_REDIRECT: nginx redirects http to https (deploy/nginx.conf, its port-80
    # server); the app itself only ever speaks plain HTTP, to nginx.
    "security.W008",
    # HSTS includeSubDomains and preload bind every subdomain of the host (with preload,
    # through the browsers' built-in list) for the header's whole age: the domain owner's
    # decision, not the registry's (REGISTRY_HSTS_SECONDS=0 leaves the header to nginx).
    "security.W005",
    "security.W021",
]

# /v2/ paths are not redirected to a trailing slash: clients use them exactly as sent.
APPEND_SLASH = False

ROOT_URLCONF = "registry_project.urls"
WSGI_APPLICATION = "registry_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Metadata database; SQLite in the data directory unless DATABASE_URL says otherwise.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'registry.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if str(DATABASES["default"]["NAME"]) not in ("", ":memory:"):
        create_private(Path(DATABASES["default"]["NAME"]))  # password hashes: 0600
    # Several gunicorn workers write at once: WAL lets readers run beside the writer,
    # IMMEDIATE takes the write lock up front (no lock-upgrade deadlocks), and the
    # timeout makes a busy writer wait instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
# Keep database connections between requests (seconds).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("REGISTRY_DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True


# Under the gevent worker a connection is per greenlet, handed back whenever its client is
# waited on: pooled per worker, so that a hand-back and the next query cost no real close
# and open (registry_project/sqlite_pool/base.py; Django's psycopg_pool for PostgreSQL).
if under_gevent():
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["ENGINE"] = "registry_project.sqlite_pool"
    elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            # Connections a worker holds at most; a request waits for one beyond that.
            "max_size": env.int("REGISTRY_DB_POOL_SIZE", default=20),
            "timeout": 30,
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them instead

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every authenticate() call, whoever makes it, counts against the failed-login throttle.
AUTHENTICATION_BACKENDS = ["registry_api.auth.backends.ThrottledModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Only `collectstatic` writes here (optional: whitenoise serves from the app directories);
# whitenoise warns at every start when it is missing.
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve static files straight from the app directories, so no collectstatic is needed.
WHITENOISE_USE_FINDERS = True

# Django's cache, in each process's memory: the portal keeps its dashboard figures here
# for a few seconds (registry_api/selectors/dashboard.py), so no shared cache server is needed.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "registry"}}
# Seconds the dashboard's figures are reused before being computed again (0 = never
# cached); per process, so also the most they can lag behind a push.
REGISTRY_DASHBOARD_CACHE_SECONDS = env.int("REGISTRY_DASHBOARD_CACHE_SECONDS", default=5)

# The portal signs people in with Django auth (webui/views/auth.py).
LOGIN_URL = "webui:login"
LOGIN_REDIRECT_URL = "webui:home"
LOGOUT_REDIRECT_URL = "webui:home"

# --- Registry ---------------------------------------------------------------------------
# Dotted path of the blob storage backend class.
REGISTRY_STORAGE_BACKEND = env.str(
    "REGISTRY_STORAGE_BACKEND", default="storage_backends.filesystem.FilesystemStorage"
)
# --- S3-compatible blob storage (REGISTRY_STORAGE_BACKEND=storage_backends.s3.S3Storage) ---
# Bucket holding blobs and upload staging (must exist).
REGISTRY_S3_BUCKET = env.str("REGISTRY_S3_BUCKET", default="")
# Endpoint of an S3-compatible server (MinIO, Ceph, …); empty = AWS. Set = path-style URLs.
REGISTRY_S3_ENDPOINT_URL = env.str("REGISTRY_S3_ENDPOINT_URL", default="")
REGISTRY_S3_REGION = env.str("REGISTRY_S3_REGION", default="us-east-1")
# Static credentials; both empty = boto3's own chain (AWS_* variables, instance role, …).
REGISTRY_S3_ACCESS_KEY_ID = secret("REGISTRY_S3_ACCESS_KEY_ID")
REGISTRY_S3_SECRET_ACCESS_KEY = secret("REGISTRY_S3_SECRET_ACCESS_KEY")
# Key prefix, e.g. "registry/" to share a bucket; empty = the bucket's root.
REGISTRY_S3_PREFIX = env.str("REGISTRY_S3_PREFIX", default="")
# Answer blob GETs with 307 to a presigned URL, so bytes go from S3 to the client directly.
REGISTRY_S3_REDIRECT = env.bool("REGISTRY_S3_REDIRECT", default=False)
# Multipart part size (>= 5 MiB); parts are buffered on local disk under <data dir>/tmp.
REGISTRY_S3_PART_SIZE = env.int("REGISTRY_S3_PART_SIZE", default=8 * 1024 * 1024)
# --- Azure Blob Storage (REGISTRY_STORAGE_BACKEND=storage_backends.azure.AzureStorage) ---
# The account's blob endpoint, e.g. https://myaccount.blob.core.windows.net (Azurite:
# http://127.0.0.1:10000/devstoreaccount1); or instead a connection string, which carries
# the endpoint and its credentials.
REGISTRY_AZURE_ACCOUNT_URL = env.str("REGISTRY_AZURE_ACCOUNT_URL", default="")
REGISTRY_AZURE_CONNECTION_STRING = secret("REGISTRY_AZURE_CONNECTION_STRING")
# Container holding blobs and upload sessions (must exist).
REGISTRY_AZURE_CONTAINER = env.str("REGISTRY_AZURE_CONTAINER", default="")
# The account key, or a SAS token; neither (and no connection string) = DefaultAzureCredential
# (managed identity, workload identity, AZURE_* variables, Azure CLI login).
REGISTRY_AZURE_ACCOUNT_KEY = secret("REGISTRY_AZURE_ACCOUNT_KEY")
REGISTRY_AZURE_SAS_TOKEN = secret("REGISTRY_AZURE_SAS_TOKEN")
# Blob name prefix, e.g. "registry/" to share a container; empty = the container's root.
REGISTRY_AZURE_PREFIX = env.str("REGISTRY_AZURE_PREFIX", default="")
# Answer blob GETs with 307 to a read-only SAS URL (20 minutes), so bytes go from Azure to
# the client directly; needs the account key or an Azure AD identity to sign it.
REGISTRY_AZURE_REDIRECT = env.bool("REGISTRY_AZURE_REDIRECT", default=False)
# Size of the blocks uploads are staged in (1-4000 MiB), buffered on local disk under <data dir>/tmp.
REGISTRY_AZURE_BLOCK_SIZE = env.int("REGISTRY_AZURE_BLOCK_SIZE", default=8 * 1024 * 1024)
# Largest manifest accepted, in bytes; larger PUTs get 413.
REGISTRY_MANIFEST_MAX_BYTES = env.int("REGISTRY_MANIFEST_MAX_BYTES", default=4 * 1024 * 1024)
# Chunk size advertised to clients in OCI-Chunk-Min-Length.
REGISTRY_CHUNK_MIN_LENGTH = env.int("REGISTRY_CHUNK_MIN_LENGTH", default=1024 * 1024)
# Whether deletes are allowed: /v2/ DELETE (405 UNSUPPORTED otherwise), portal and /api/ (403).
REGISTRY_DELETE_ENABLED = env.bool("REGISTRY_DELETE_ENABLED", default=True)
# Behind nginx: the internal location (e.g. /_blobs/) aliased to <data dir>/blobs/, so blob
# GETs are answered with X-Accel-Redirect and nginx sends the file. Empty = we send it.
REGISTRY_X_ACCEL_REDIRECT = env.str("REGISTRY_X_ACCEL_REDIRECT", default="")
# Most entries one tags/list or _catalog page returns; a larger `n` is capped to it (the
# page's Link leads on).
REGISTRY_PAGE_MAX = env.int("REGISTRY_PAGE_MAX", default=1000)
# Most descriptors one referrers response lists; more are paged with `Link: rel="next"`
# (a signed, attested image can gather thousands of referrers over time).
REGISTRY_REFERRERS_PAGE_MAX = env.int("REGISTRY_REFERRERS_PAGE_MAX", default=1000)

# --- Housekeeping (garbage collection, upload purge, retention) --------------------------------
# Seconds a manifest, a repository link or a blob is left alone by garbage collection after
# it was pushed or mounted: the time a client may take between pushing layers and the
# manifest naming them (services/gc/).
REGISTRY_GC_GRACE_PERIOD = env.int("REGISTRY_GC_GRACE_PERIOD", default=3600)
# Seconds without a written byte after which `purge_uploads` drops an upload session.
REGISTRY_UPLOAD_PURGE_AGE = env.int("REGISTRY_UPLOAD_PURGE_AGE", default=24 * 3600)

# --- Proxy, mirror and group repositories (registry_api/services/routing.py, proxy/) --------
# The proxy namespace (admin: Proxy repositories) that answers the docker daemon's
# `registry-mirrors` requests, which name `library/<image>` with no prefix; empty = off.
REGISTRY_MIRROR_PROXY = env.str("REGISTRY_MIRROR_PROXY", default="")
# Also send pulls of names whose namespace is not hosted here to REGISTRY_MIRROR_PROXY.
REGISTRY_MIRROR_UNHOSTED = env.bool("REGISTRY_MIRROR_UNHOSTED", default=False)
# `?ns=<host>` values honoured, and the proxy each goes to (e.g. docker.io=hub,ghcr.io=ghcr);
# docker.io goes to REGISTRY_MIRROR_PROXY unless listed.
REGISTRY_MIRROR_NS = env.dict("REGISTRY_MIRROR_NS", default={})
# Seconds to connect to an upstream registry, and to wait for each read from it.
REGISTRY_PROXY_TIMEOUT = env.float("REGISTRY_PROXY_TIMEOUT", default=30)
# Largest blob a proxy fetches from upstream, in bytes (0 = no limit).
REGISTRY_PROXY_BLOB_MAX_BYTES = env.int("REGISTRY_PROXY_BLOB_MAX_BYTES", default=20 * 1024**3)
# Seconds without progress after which another request takes over a blob fetch (>= 15).
REGISTRY_PROXY_FETCH_STALE = env.int("REGISTRY_PROXY_FETCH_STALE", default=60)
# Seconds each process keeps the proxy and group configuration before reading it again.
REGISTRY_PROXY_CONFIG_TTL = env.float("REGISTRY_PROXY_CONFIG_TTL", default=5)

# --- Replication (replication/, docs/replication.md) -------------------------------------
# Seconds to connect to a remote registry, and to wait for each read from it.
REGISTRY_REPLICATION_TIMEOUT = env.float("REGISTRY_REPLICATION_TIMEOUT", default=60)
# Bytes sent per PATCH when pushing a blob to a remote; smaller blobs go in one request.
REGISTRY_REPLICATION_CHUNK_SIZE = env.int("REGISTRY_REPLICATION_CHUNK_SIZE", default=16 * 1024 * 1024)
# Attempts at a job before it is marked failed; retries wait BACKOFF * 2**(attempt-1) seconds.
REGISTRY_REPLICATION_MAX_ATTEMPTS = env.int("REGISTRY_REPLICATION_MAX_ATTEMPTS", default=8)
REGISTRY_REPLICATION_BACKOFF_SECONDS = env.float("REGISTRY_REPLICATION_BACKOFF_SECONDS", default=30)
# Seconds a worker's claim on a job lasts (renewed with each artifact); then another worker takes it.
REGISTRY_REPLICATION_CLAIM_SECONDS = env.int("REGISTRY_REPLICATION_CLAIM_SECONDS", default=600)

# --- Access control (Docker token auth) ------------------------------------------------
# Off = an open registry where anyone may push and delete: for a throw-away dev box only.
REGISTRY_AUTH_ENABLED = env.bool("REGISTRY_AUTH_ENABLED", default=True)
# Let everyone, signed in or not, pull every repository.
REGISTRY_ANONYMOUS_PULL = env.bool("REGISTRY_ANONYMOUS_PULL", default=False)
# Accept HTTP Basic credentials directly on /v2/ (scripts, CI) besides Bearer tokens.
REGISTRY_AUTH_BASIC = env.bool("REGISTRY_AUTH_BASIC", default=True)
# Token realm URL in the challenge; empty = this server's /auth/token as the client reached it.
REGISTRY_AUTH_REALM = env.str("REGISTRY_AUTH_REALM", default="")
# The `service` (JWT audience) and issuer of the tokens.
REGISTRY_TOKEN_SERVICE = env.str("REGISTRY_TOKEN_SERVICE", default="docker-registry-manager")
REGISTRY_TOKEN_ISSUER = env.str("REGISTRY_TOKEN_ISSUER", default="docker-registry-manager")
# EC P-256 private key (PEM) signing tokens; generated into <data dir>/token_key.pem when unset.
REGISTRY_TOKEN_KEY = secret("REGISTRY_TOKEN_KEY")
# Lifetime of access tokens and of refresh tokens (docker login's stored identity), seconds.
REGISTRY_TOKEN_TTL = env.int("REGISTRY_TOKEN_TTL", default=300)
REGISTRY_REFRESH_TOKEN_TTL = env.int("REGISTRY_REFRESH_TOKEN_TTL", default=30 * 24 * 3600)
# Failed password logins allowed within the window (seconds): per user from one client
# address, per client address over all users, and per user from everywhere (much higher:
# it only slows guessing one account; access tokens are never throttled). auth/throttle.py.
REGISTRY_LOGIN_MAX_FAILURES = env.int("REGISTRY_LOGIN_MAX_FAILURES", default=10)
REGISTRY_LOGIN_MAX_FAILURES_PER_ADDRESS = env.int("REGISTRY_LOGIN_MAX_FAILURES_PER_ADDRESS", default=30)
REGISTRY_LOGIN_MAX_FAILURES_PER_USER = env.int("REGISTRY_LOGIN_MAX_FAILURES_PER_USER", default=100)
REGISTRY_LOGIN_WINDOW = env.int("REGISTRY_LOGIN_WINDOW", default=300)
# Password of the `admin` superuser created on first start; random (in <data dir>/admin.password) if unset.
REGISTRY_ADMIN_PASSWORD = secret("REGISTRY_ADMIN_PASSWORD")

# --- Directory sign-in (LDAP / Active Directory; docs/directory.md) -------------------------
# Off while the URI is empty. Space-separated URIs are tried in turn (ldap:// or ldaps://).
REGISTRY_LDAP_URI = env.str("REGISTRY_LDAP_URI", default="")
REGISTRY_LDAP_START_TLS = env.bool("REGISTRY_LDAP_START_TLS", default=False)
# CA certificate(s) (PEM) the server's certificate must chain to; empty = the system's.
REGISTRY_LDAP_CA_FILE = env.str("REGISTRY_LDAP_CA_FILE", default="")
# The service account that searches for users and groups; empty = anonymous search.
REGISTRY_LDAP_BIND_DN = env.str("REGISTRY_LDAP_BIND_DN", default="")
REGISTRY_LDAP_BIND_PASSWORD = secret("REGISTRY_LDAP_BIND_PASSWORD")
REGISTRY_LDAP_USER_BASE = env.str("REGISTRY_LDAP_USER_BASE", default="")
REGISTRY_LDAP_USER_FILTER = env.str("REGISTRY_LDAP_USER_FILTER", default="(uid=%(user)s)")
REGISTRY_LDAP_USER_SCOPE = env.str("REGISTRY_LDAP_USER_SCOPE", default="subtree")
REGISTRY_LDAP_EMAIL_ATTR = env.str("REGISTRY_LDAP_EMAIL_ATTR", default="mail")
REGISTRY_LDAP_FIRST_NAME_ATTR = env.str("REGISTRY_LDAP_FIRST_NAME_ATTR", default="givenName")
REGISTRY_LDAP_LAST_NAME_ATTR = env.str("REGISTRY_LDAP_LAST_NAME_ATTR", default="sn")
# Groups, mirrored to Django groups at each sign-in: where, which kind, which entries
# (empty filter = the object class of the type: groupOfNames, posixGroup, group, …).
REGISTRY_LDAP_GROUP_BASE = env.str("REGISTRY_LDAP_GROUP_BASE", default="")
REGISTRY_LDAP_GROUP_TYPE = env.str("REGISTRY_LDAP_GROUP_TYPE", default="groupOfNames")
REGISTRY_LDAP_GROUP_FILTER = env.str("REGISTRY_LDAP_GROUP_FILTER", default="")
# Group DNs: membership required to sign in; membership makes staff; makes superuser.
REGISTRY_LDAP_REQUIRE_GROUP = env.str("REGISTRY_LDAP_REQUIRE_GROUP", default="")
REGISTRY_LDAP_STAFF_GROUP = env.str("REGISTRY_LDAP_STAFF_GROUP", default="")
REGISTRY_LDAP_SUPERUSER_GROUP = env.str("REGISTRY_LDAP_SUPERUSER_GROUP", default="")
# Seconds a verified directory password is trusted without asking the directory again.
REGISTRY_LDAP_CACHE_SECONDS = env.int("REGISTRY_LDAP_CACHE_SECONDS", default=60)
# Seconds to wait for the directory before answering "directory unavailable".
REGISTRY_LDAP_TIMEOUT = env.int("REGISTRY_LDAP_TIMEOUT", default=5)
# Wrong passwords sent to the directory per user within the window (seconds), from all
# addresses together: keep it below the directory's lockout threshold (auth/throttle.py).
REGISTRY_LDAP_MAX_FAILED_BINDS = env.int("REGISTRY_LDAP_MAX_FAILED_BINDS", default=4)
REGISTRY_LDAP_FAILED_BINDS_WINDOW = env.int("REGISTRY_LDAP_FAILED_BINDS_WINDOW", default=1800)

# --- OpenID Connect sign-in for the portal and the admin (registry_api/auth/oidc.py) ----------
# The provider's issuer URL (its /.well-known/openid-configuration is read); empty = off.
REGISTRY_OIDC_ISSUER = env.str("REGISTRY_OIDC_ISSUER", default="")
REGISTRY_OIDC_CLIENT_ID = env.str("REGISTRY_OIDC_CLIENT_ID", default="")
REGISTRY_OIDC_CLIENT_SECRET = secret("REGISTRY_OIDC_CLIENT_SECRET")
REGISTRY_OIDC_SCOPES = env.str("REGISTRY_OIDC_SCOPES", default="openid profile email")
# The claim naming the user (their user name here), and the one listing their groups
# (empty = groups are not mirrored).
REGISTRY_OIDC_USERNAME_CLAIM = env.str("REGISTRY_OIDC_USERNAME_CLAIM", default="preferred_username")
REGISTRY_OIDC_GROUPS_CLAIM = env.str("REGISTRY_OIDC_GROUPS_CLAIM", default="groups")
# Provider groups (comma separated) that make a user staff, or superuser; empty = not set by sign-in.
REGISTRY_OIDC_STAFF_GROUPS = env.list("REGISTRY_OIDC_STAFF_GROUPS", default=[])
REGISTRY_OIDC_SUPERUSER_GROUPS = env.list("REGISTRY_OIDC_SUPERUSER_GROUPS", default=[])
# Create a user at their first sign-in; off = only users who already exist here may sign in.
REGISTRY_OIDC_CREATE_USERS = env.bool("REGISTRY_OIDC_CREATE_USERS", default=True)
# The provider's name on the sign-in button: "Sign in with <name>".
REGISTRY_OIDC_PROVIDER_NAME = env.str("REGISTRY_OIDC_PROVIDER_NAME", default="single sign-on")

# --- CORS (browser-based tools on /v2/) ----------------------------------------------------
# Origins allowed to call /v2/ from a browser (comma separated); empty = CORS off.
CORS_ALLOWED_ORIGINS = env.list("REGISTRY_CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/v2/.*$"
CORS_ALLOW_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "content-length",
    "content-range",
    "range",
    "if-none-match",
    "docker-content-digest",
]
CORS_EXPOSE_HEADERS = [
    "Docker-Content-Digest",
    "Docker-Distribution-API-Version",
    "Docker-Upload-UUID",
    "Location",
    "Range",
    "Content-Range",
    "Link",
    "WWW-Authenticate",
    "OCI-Subject",
    "OCI-Tag",
    "OCI-Filters-Applied",
    "OCI-Chunk-Min-Length",
    "OCI-Namespace",
]

# --- Logging ---------------------------------------------------------------------------------
LOG_LEVEL = env.str("REGISTRY_LOG_LEVEL", default="INFO").upper()
# "json" (one object per line, for log shippers) or "plain".
LOG_FORMAT = env.str("REGISTRY_LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "registry_api.edge.requestlog.RequestIdFilter"}},
    "formatters": {
        "plain": {"()": "registry_api.edge.logformat.PlainFormatter"},
        "json": {"()": "registry_api.edge.logformat.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # 404s are the normal answer to a client's "do you have this blob?"; logging each
        # as a warning would drown the push/pull lines. 5xx are still logged.
        "django.request": {"level": "ERROR"},
        # The Azure SDK logs every HTTP request and response at INFO; its retries and
        # failures are warnings, and still logged.
        "azure": {"level": "WARNING"},
    },
}

# --- Webhooks ---------------------------------------------------------------------------------
# Send deliveries from a background thread of the serving process (else only the
# `deliver_webhooks` command sends them).
REGISTRY_WEBHOOK_SEND_IN_BACKGROUND = env.bool("REGISTRY_WEBHOOK_SEND_IN_BACKGROUND", default=True)
# Attempts per delivery, the first retry's delay (doubling after each failure), and the
# time one attempt may take, in seconds.
REGISTRY_WEBHOOK_MAX_ATTEMPTS = env.int("REGISTRY_WEBHOOK_MAX_ATTEMPTS", default=6)
REGISTRY_WEBHOOK_BACKOFF_SECONDS = env.float("REGISTRY_WEBHOOK_BACKOFF_SECONDS", default=10)
REGISTRY_WEBHOOK_TIMEOUT = env.float("REGISTRY_WEBHOOK_TIMEOUT", default=10)

# --- Operations endpoints ------------------------------------------------------------------
# Serve /metrics (Prometheus text format).
REGISTRY_METRICS_ENABLED = env.bool("REGISTRY_METRICS_ENABLED", default=True)
# Client networks allowed to scrape /metrics without a token (comma separated CIDRs).
REGISTRY_METRICS_ALLOWED_NETWORKS = env.list("REGISTRY_METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
# When set, /metrics requires `Authorization: Bearer <token>` instead of an allowed address.
REGISTRY_METRICS_TOKEN = secret("REGISTRY_METRICS_TOKEN")

# --- Management API (/api/v1/, docs/management-api.md) ------------------------------------
# Fixed here rather than read from the environment: they are the API's contract, not a
# deployment choice. Errors, pagination and authentication are the API's own modules.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "management_api.authentication.AccessTokenAuthentication",
        "management_api.authentication.BasicAuthentication",
        "management_api.authentication.PortalSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["management_api.permissions.SignedIn"],
    "DEFAULT_PAGINATION_CLASS": "management_api.pagination.PageNumberLinkPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "management_api.errors.exception_handler",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Docker Registry Manager management API",
    "DESCRIPTION": "Namespaces, repositories, tags, robots, retention and the audit trail, "
                   "with the same rules of who may do what as the portal and /v2/.",
    "VERSION": "1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
