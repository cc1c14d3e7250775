"""What every resource does the same way: unknown fields are refused (a typo must not be
ignored silently), `?sort=` names a field (a leading `-` for descending) and `?q=`
searches, and `ETag`/`If-Match` guard updates where a lost update would hurt."""
from __future__ import annotations

import hashlib
import json

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from .errors import PreconditionFailed, PreconditionRequired


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses fields it does not accept (read-only ones included), and
    anything but a string in a text field."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise ValidationError({name: ["unknown or read-only field"] for name in unknown})
            # DRF would turn 12 into "12": a number where a name goes is a mistake to report.
            loose = sorted(name for name, field in self.fields.items() if isinstance(field, serializers.CharField)
                           and name in data and data[name] is not None and not isinstance(data[name], str))
            if loose:
                raise ValidationError({name: ["expected a string"] for name in loose})
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass


def sort_param(request, allowed: dict[str, tuple[str, ...]], default: str) -> tuple[str, ...]:
    """The ordering for `?sort=`; an unknown value is a 400 naming the allowed ones."""
    value = request.query_params.get("sort", default)
    if value not in allowed:
        raise ValidationError({"sort": [f"sort by one of: {', '.join(sorted(allowed))}"]})
    return allowed[value]


def etag_of(representation: dict) -> str:
    body = json.dumps(representation, sort_keys=True, default=str).encode()
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def require_if_match(request, current: str) -> None:
    """428 without If-Match, 412 when it names another version than `current`."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired()
    offered = {value.strip().removeprefix("W/") for value in header.split(",")}
    if "*" not in offered and current not in offered:
        raise PreconditionFailed()


class ETagOnRead:
    """For retrieve views: the GET answer carries the ETag that updates must send back."""

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        response["ETag"] = etag_of(response.data)
        return response
