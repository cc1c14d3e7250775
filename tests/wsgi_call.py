"""One request through the real WSGI application (registry_project/wsgi.py), in process.

Django's test client calls the handler it builds itself, past the path routing and header
splitting that gunicorn goes through; tests of those call this instead.
"""
from __future__ import annotations

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from registry_project.wsgi import application


def call_application(environ: dict, app=application) -> tuple[str, dict, bytes]:
    """(status line, headers, body) of one request (through `app`, the whole application
    unless a test names a part of it)."""
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(response_headers)

    # As django.test.Client does around each request (and it connects them again after
    # its own, so this is done per call): a WSGI request must not close the test's
    # connection, which on PostgreSQL holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = app(environ, start_response)
        try:
            data = b"".join(body)
        finally:
            if hasattr(body, "close"):  # optional in WSGI: a plain list has none
                body.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], data
