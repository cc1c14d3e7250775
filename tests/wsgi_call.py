"""One request through the real WSGI application (registry_project/wsgi.py), in process.

Django's test client calls the handler it builds itself, past the path routing and header
splitting that gunicorn goes through; tests of those call this instead.
"""
from __future__ import annotations

import contextlib

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from registry_project.wsgi import application


@contextlib.contextmanager
def connections_kept():
    """As django.test.Client does around each request (and it connects them again after its
    own, so this is done per call): a request in a test must not close the test's
    connection, which on PostgreSQL holds the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def call_application(environ: dict, app=application) -> tuple[str, dict, bytes]:
    """(status line, headers, body) of one request (through `app`, the whole application
    unless a test names a part of it)."""
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(response_headers)

    with connections_kept():
        body = app(environ, start_response)
        try:
            data = b"".join(body)
        finally:
            if hasattr(body, "close"):  # optional in WSGI: a plain list has none
                body.close()
    return answer["status"], answer["headers"], data


def fast_path_answer(environ: dict):
    """registry_api/edge/fastpath.py's answer to one request, called directly (None: it left the
    request to Django)."""
    from registry_api.edge import fastpath

    with connections_kept():
        return fastpath.plain_read(environ)
