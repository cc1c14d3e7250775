"""Path converters for portal URLs, backed by the grammar in `registry_api.oci.reference`.

Repository names have slashes, so portal routes put their own words after a `-` segment
(`/repositories/<name>/-/compare/`): no name component can be `-`, so no name is ever
mistaken for a route. Manifest pages need no such marker: a digest has a colon, which
names never do. A value the grammar refuses is no match, so the answer is a 404.
"""
from __future__ import annotations

from registry_api.oci.reference import NAME_COMPONENT, parse_digest, validate_name, validate_tag


class RepositoryNameConverter:
    regex = rf"{NAME_COMPONENT}(?:/{NAME_COMPONENT})*"

    def to_python(self, value: str) -> str:
        return validate_name(value)  # InvalidReference is a ValueError: no match

    def to_url(self, value: str) -> str:
        return value


class DigestConverter:
    regex = r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"

    def to_python(self, value: str) -> str:
        return str(parse_digest(value))

    def to_url(self, value: str) -> str:
        return value


class TagConverter:
    regex = r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"

    def to_python(self, value: str) -> str:
        return validate_tag(value)

    def to_url(self, value: str) -> str:
        return value
