"""Image configs (OCI and Docker) as people read them, and comparisons of two images; no Django.

An image config is the JSON blob a manifest's `config` descriptor points at: platform,
creation time, the runtime defaults (env, entrypoint, cmd, labels) and one history entry
per build step. Only steps without `empty_layer` produced a layer, in the manifest's order.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
IMAGE_CONFIGS = (OCI_CONFIG, DOCKER_CONFIG)

# Runtime settings compared value by value; env and labels are compared entry by entry.
SCALAR_FIELDS = ("created", "platform", "entrypoint", "cmd", "working_dir", "user")


class InvalidConfig(ValueError):
    pass


# RFC 3339 as image builders write it: Go prints up to nine fractional digits, Python's
# parser takes six, so the rest is cut (nanoseconds are below anything shown).
_TIMESTAMP_RE = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", re.I)


def parse_timestamp(value: Any) -> datetime | None:
    """An image config's `created` (or a history step's) as an aware datetime; None when
    absent, malformed, or Go's zero time (0001-01-01: "not set")."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP_RE.match(value.strip())
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    text = whole + (fraction[:7] if fraction else "") + ("+00:00" if not zone or zone.upper() == "Z" else zone)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.year <= 1:
        return None
    return moment.astimezone(timezone.utc)


@dataclass
class HistoryStep:
    created: str
    created_by: str
    comment: str
    empty_layer: bool
    layer_digest: str = ""
    layer_size: int | None = None


@dataclass
class ImageConfig:
    created: str = ""
    architecture: str = ""
    os: str = ""
    variant: str = ""
    env: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    working_dir: str = ""
    user: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    exposed_ports: list[str] = field(default_factory=list)
    history: list[HistoryStep] = field(default_factory=list)

    @property
    def platform(self) -> str:
        return platform_string({"os": self.os, "architecture": self.architecture, "variant": self.variant})


def platform_string(platform: Any) -> str:
    """`linux/arm64/v8` from an index entry's `platform` object ("" when there is none)."""
    if not isinstance(platform, dict):
        return ""
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    return "/".join(str(p) for p in parts if isinstance(p, str) and p)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def parse_config(data: bytes) -> ImageConfig:
    """Read what the portal shows from a config blob; wrong-typed fields are left empty."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InvalidConfig("image config is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidConfig("image config is not a JSON object")
    runtime = document.get("config") if isinstance(document.get("config"), dict) else {}
    labels = runtime.get("Labels") if isinstance(runtime.get("Labels"), dict) else {}
    ports = runtime.get("ExposedPorts") if isinstance(runtime.get("ExposedPorts"), dict) else {}
    history = document.get("history") if isinstance(document.get("history"), list) else []
    return ImageConfig(
        created=_str(document.get("created")),
        architecture=_str(document.get("architecture")),
        os=_str(document.get("os")),
        variant=_str(document.get("variant")),
        env=_str_list(runtime.get("Env")) or [],
        entrypoint=_str_list(runtime.get("Entrypoint")),
        cmd=_str_list(runtime.get("Cmd")),
        working_dir=_str(runtime.get("WorkingDir")),
        user=_str(runtime.get("User")),
        labels={str(k): str(v) for k, v in labels.items()},
        exposed_ports=sorted(str(p) for p in ports),
        history=[
            HistoryStep(
                created=_str(step.get("created")),
                created_by=_str(step.get("created_by")),
                comment=_str(step.get("comment")),
                empty_layer=step.get("empty_layer") is True,
            )
            for step in history
            if isinstance(step, dict)
        ],
    )


def attach_layers(history: list[HistoryStep], layers: list[tuple[str, int]]) -> list[HistoryStep]:
    """Pair each layer-producing step with its layer (digest, size), in order.

    When the counts disagree (hand-made or squashed images) the steps are left unpaired
    rather than paired wrongly.
    """
    producing = [step for step in history if not step.empty_layer]
    if len(producing) == len(layers):
        for step, (digest, size) in zip(producing, layers):
            step.layer_digest, step.layer_size = digest, size
    return history


@dataclass
class LayerDiff:
    shared: list[str]
    removed: list[str]  # only in the first image
    added: list[str]  # only in the second image


def layer_diff(first: list[str], second: list[str]) -> LayerDiff:
    """Layers of two images by digest, each list in its image's order."""
    first_set, second_set = set(first), set(second)
    return LayerDiff(
        shared=[d for d in first if d in second_set],
        removed=[d for d in first if d not in second_set],
        added=[d for d in second if d not in first_set],
    )


@dataclass
class FieldChange:
    name: str
    first: Any
    second: Any


@dataclass
class ConfigDiff:
    changed: list[FieldChange]  # scalar settings that differ
    env_removed: list[str]
    env_added: list[str]
    labels: list[FieldChange]  # label key with old/new value (None when absent)

    @property
    def identical(self) -> bool:
        return not (self.changed or self.env_removed or self.env_added or self.labels)


def config_diff(first: ImageConfig, second: ImageConfig) -> ConfigDiff:
    changed = [
        FieldChange(name, getattr(first, name), getattr(second, name))
        for name in SCALAR_FIELDS
        if getattr(first, name) != getattr(second, name)
    ]
    keys = sorted(set(first.labels) | set(second.labels))
    labels = [
        FieldChange(k, first.labels.get(k), second.labels.get(k))
        for k in keys
        if first.labels.get(k) != second.labels.get(k)
    ]
    return ConfigDiff(
        changed=changed,
        env_removed=[e for e in first.env if e not in second.env],
        env_added=[e for e in second.env if e not in first.env],
        labels=labels,
    )
