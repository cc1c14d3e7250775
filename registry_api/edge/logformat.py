"""Log line formats: one JSON object per line, or plain text with the same fields as key=value.

No Django here: deploy/gunicorn.conf.py uses these formatters for gunicorn's own lines in
its master process, before (and without) loading the application, so that one stream
never mixes two formats.
"""
from __future__ import annotations

import json
import logging
import re
import time

# The request line's fields (registry_api.edge.requestlog), in the order they are written.
FIELDS = (
    "action", "method", "path", "route", "repository", "user", "status",
    "bytes_in", "bytes_out", "duration_ms",
)
# A plain value that would be ambiguous unquoted (empty, spaces, quotes, "=").
_NEEDS_QUOTES = re.compile(r'^$|[\s"=]')


def _timestamp(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    return formatter.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """A JSON object per line; the fields of the request line are top-level keys."""

    converter = time.gmtime  # the "Z" suffix promises UTC

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _timestamp(self, record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key in FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info and record.levelno >= logging.ERROR:
            # Tracebacks only at ERROR, and only in the log, never in a response.
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _plain_value(value) -> str:
    text = str(value)
    return json.dumps(text) if _NEEDS_QUOTES.search(text) else text


class PlainFormatter(logging.Formatter):
    """`time LEVEL logger [request id] message key=value …`: the JSON line's fields, for people."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_timestamp(self, record)} {record.levelname} {record.name} "
            f"[{getattr(record, 'request_id', '-')}] {record.getMessage()}"
        )
        pairs = [f"{key}={_plain_value(getattr(record, key))}" for key in FIELDS if hasattr(record, key)]
        if pairs:
            line += " " + " ".join(pairs)
        if record.exc_info and record.levelno >= logging.ERROR:
            line += "\n" + self.formatException(record.exc_info)
        return line
