"""WSGI entry point used by gunicorn (`registry_project.wsgi:application`)."""
import os

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


application = split_repeated_headers(get_wsgi_application())
