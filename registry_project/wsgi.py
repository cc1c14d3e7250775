"""WSGI entry point used by gunicorn (`registry_project.wsgi:application`).

Two Django handlers over the same URLs: the registry's own paths (settings.API_PATH_PREFIXES)
get the short API_MIDDLEWARE stack, everything else (portal, admin) the full MIDDLEWARE;
plain manifest GETs and HEADs are answered before either (registry_api/edge/fastpath.py).
"""
import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")

# Headers the spec wants once per value; Django keeps one value per name, so views join
# them with ", " and this splits them back (tags cannot contain commas or spaces).
REPEATED_HEADERS = {"oci-tag"}


def split_repeated_headers(app):
    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            split = []
            for name, value in headers:
                if name.lower() in REPEATED_HEADERS:
                    split.extend((name, part) for part in value.split(", "))
                else:
                    split.append((name, value))
            return start_response(status, split, exc_info)

        return app(environ, start)

    return wrapped


class ApiHandler(WSGIHandler):
    """Django's handler with settings.API_MIDDLEWARE instead of MIDDLEWARE.

    Django reads the list from settings while it builds the chain, once, at start-up in
    one thread; it is swapped in for that moment only.
    """

    def load_middleware(self, is_async=False):
        from django.conf import settings

        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


def by_path(api, portal, prefixes):
    """Route each request by its path: a prefix matches itself or itself followed by "/"."""
    def route(environ, start_response):
        path = environ.get("PATH_INFO", "")
        for prefix in prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return api(environ, start_response)
        return portal(environ, start_response)

    return route


def build_application():
    portal = get_wsgi_application()  # sets Django up
    from django.conf import settings

    from registry_api.edge import fastpath

    api = fastpath.application(ApiHandler())  # plain manifest GETs and HEADs below Django (fastpath.py)
    return split_repeated_headers(by_path(api, portal, settings.API_PATH_PREFIXES))


application = build_application()
