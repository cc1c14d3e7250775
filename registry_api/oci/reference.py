"""The grammar of repository names, tags and digests (OCI distribution spec), without Django.

Everything a client puts in a path or query string passes through here before it is used;
a digest string becomes a file path only after `parse_digest` accepted it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

NAME_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{NAME_COMPONENT}(?:/{NAME_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
# Clients prepend "host:port/" and cap the whole at 255 characters.
NAME_MAX_LENGTH = 255 - len("registry.example.com:5000/")

# Digest algorithms we can verify, with the length of their hex encoding.
ALGORITHMS = {"sha256": 64, "sha512": 128}


class InvalidReference(ValueError):
    """A name, tag or digest that does not follow the grammar; `kind` says which."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.value = value


@dataclass(frozen=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


# Always `fullmatch`: with `match`, `$` also matches before a trailing newline ("latest\n").
def validate_name(name: str) -> str:
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidReference("name", name, f"repository name longer than {NAME_MAX_LENGTH} characters")
    if not NAME_RE.fullmatch(name):
        raise InvalidReference("name", name, "invalid repository name")
    return name


def validate_tag(tag: str) -> str:
    if not TAG_RE.fullmatch(tag):
        raise InvalidReference("tag", tag, "invalid tag")
    return tag


def parse_digest(value: str) -> Digest:
    """Accept only digests of an algorithm we support, in canonical lowercase hex."""
    if not DIGEST_RE.fullmatch(value):
        raise InvalidReference("digest", value, "invalid digest syntax")
    algorithm, _, encoded = value.partition(":")
    length = ALGORITHMS.get(algorithm)
    if length is None:
        raise InvalidReference("digest", value, f"unsupported digest algorithm {algorithm!r}")
    if len(encoded) != length or not re.fullmatch(r"[0-9a-f]+", encoded):
        raise InvalidReference("digest", value, f"invalid {algorithm} digest")
    return Digest(algorithm, encoded)


def is_digest_reference(reference: str) -> bool:
    """A manifest reference is a digest when it has a colon (tags cannot)."""
    return ":" in reference
