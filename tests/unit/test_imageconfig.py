"""Image configs read for people, and comparisons of two images (no Django)."""
from __future__ import annotations

import json

import pytest

from registry_api.oci.imageconfig import (
    HistoryStep, ImageConfig, InvalidConfig, attach_layers, config_diff, layer_diff, parse_config, platform_string,
)


@pytest.mark.parametrize("platform, expected", [
    ({"os": "linux", "architecture": "amd64"}, "linux/amd64"),
    ({"os": "linux", "architecture": "arm64", "variant": "v8"}, "linux/arm64/v8"),
    ({"architecture": "unknown", "os": "unknown"}, "unknown/unknown"),
    ({}, ""),
    (None, ""),
    ({"os": 3, "architecture": "amd64"}, "amd64"),
])
def test_platform_string(platform, expected):
    assert platform_string(platform) == expected


def test_parse_config_reads_runtime_settings_and_history():
    config = parse_config(json.dumps({
        "created": "2026-01-02T03:04:05Z", "architecture": "arm64", "os": "linux", "variant": "v8",
        "config": {
            "Env": ["PATH=/usr/bin", "A=1"], "Entrypoint": ["/entry"], "Cmd": ["run", "--fast"],
            "WorkingDir": "/app", "User": "1000", "Labels": {"org.example": "x"}, "ExposedPorts": {"80/tcp": {}},
        },
        "history": [{"created_by": "ADD x", "created": "t1"}, {"created_by": "ENV A=1", "empty_layer": True}, "junk"],
    }).encode())
    assert config.platform == "linux/arm64/v8"
    assert config.env == ["PATH=/usr/bin", "A=1"] and config.entrypoint == ["/entry"] and config.cmd == ["run", "--fast"]
    assert (config.working_dir, config.user, config.exposed_ports) == ("/app", "1000", ["80/tcp"])
    assert config.labels == {"org.example": "x"}
    assert [(s.created_by, s.empty_layer) for s in config.history] == [("ADD x", False), ("ENV A=1", True)]


@pytest.mark.parametrize("data", [b"not json", b"[]", b"\xff"])
def test_parse_config_refuses_what_is_not_a_json_object(data):
    with pytest.raises(InvalidConfig):
        parse_config(data)


def test_parse_config_ignores_wrongly_typed_fields():
    config = parse_config(json.dumps({"config": {"Env": "PATH=x", "Cmd": [1], "Labels": []}, "history": {}}).encode())
    assert config.env == [] and config.cmd is None and config.labels == {} and config.history == []


def _steps(*empty: bool) -> list[HistoryStep]:
    return [HistoryStep("", f"step {i}", "", e) for i, e in enumerate(empty)]


@pytest.mark.parametrize("empty, layers, paired", [
    ((False, True, False), [("d1", 1), ("d2", 2)], ["d1", "", "d2"]),
    ((False,), [("d1", 1), ("d2", 2)], [""]),  # counts disagree: leave unpaired
    ((), [], []),
])
def test_attach_layers(empty, layers, paired):
    assert [s.layer_digest for s in attach_layers(_steps(*empty), layers)] == paired


@pytest.mark.parametrize("first, second, shared, removed, added", [
    (["a", "b"], ["a", "b"], ["a", "b"], [], []),
    (["a", "b"], ["a", "c", "d"], ["a"], ["b"], ["c", "d"]),
    ([], ["x"], [], [], ["x"]),
])
def test_layer_diff(first, second, shared, removed, added):
    diff = layer_diff(first, second)
    assert (diff.shared, diff.removed, diff.added) == (shared, removed, added)


def test_config_diff():
    a = ImageConfig(architecture="amd64", os="linux", env=["A=1", "B=2"], cmd=["x"], labels={"k": "1", "gone": "y"})
    b = ImageConfig(architecture="arm64", os="linux", env=["B=2", "C=3"], cmd=["x"], labels={"k": "2", "new": "z"})
    diff = config_diff(a, b)
    assert [(c.name, c.first, c.second) for c in diff.changed] == [("platform", "linux/amd64", "linux/arm64")]
    assert (diff.env_removed, diff.env_added) == (["A=1"], ["C=3"])
    assert [(c.name, c.first, c.second) for c in diff.labels] == [("gone", "y", None), ("k", "1", "2"), ("new", None, "z")]
    assert not diff.identical and config_diff(a, a).identical
