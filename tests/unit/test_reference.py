"""The name / tag / digest grammar of registry_api.oci.reference, table-driven."""
from __future__ import annotations

import pytest

from registry_api.oci.reference import (
    NAME_MAX_LENGTH,
    Digest,
    InvalidReference,
    is_digest_reference,
    parse_digest,
    validate_name,
    validate_tag,
)

HEX64 = "0123456789abcdef" * 4
HEX128 = HEX64 * 2

VALID_NAMES = [
    "a", "app", "library/app", "team/app/api", "a0/b1/c2", "my.app", "my_app", "my__app",
    "my-app", "my---app", "a.b_c__d-e", "0", "123/456", "a" * NAME_MAX_LENGTH,
]
INVALID_NAMES = [
    "", "App", "library/App", "APP", "-app", "app-", ".app", "app.", "_app", "app_",
    "a___b", "a..b", "a.-b", "a_.b", "a/", "/a", "a//b", "a b", "a:b", "a@b", "a\nb",
    "ä", "a" * (NAME_MAX_LENGTH + 1), "../etc", "a/../b", "app\n", "library/app\n",
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_names_are_returned_unchanged(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_names_raise_with_kind_name(name):
    with pytest.raises(InvalidReference) as info:
        validate_name(name)
    assert info.value.kind == "name"
    assert info.value.value == name


def test_name_limit_leaves_room_for_a_host_prefix():
    assert NAME_MAX_LENGTH + len("registry.example.com:5000/") <= 255


VALID_TAGS = ["latest", "v1", "V1.0.0", "_", "9", "a" * 128, "1.0-rc.1_build-2", "A-_.z"]
INVALID_TAGS = ["", ".a", "-a", "a" * 129, "a/b", "a:b", "a@b", "a b", "ä", "a+b", "a\n"]


@pytest.mark.parametrize("tag", VALID_TAGS)
def test_valid_tags(tag):
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", INVALID_TAGS)
def test_invalid_tags(tag):
    with pytest.raises(InvalidReference) as info:
        validate_tag(tag)
    assert info.value.kind == "tag"


@pytest.mark.parametrize(
    "value, algorithm, hexpart",
    [(f"sha256:{HEX64}", "sha256", HEX64), (f"sha512:{HEX128}", "sha512", HEX128)],
)
def test_supported_digests_parse(value, algorithm, hexpart):
    digest = parse_digest(value)
    assert digest == Digest(algorithm, hexpart)
    assert str(digest) == value


@pytest.mark.parametrize(
    "value, reason",
    [
        ("", "syntax"),
        ("sha256", "syntax"),
        (HEX64, "syntax"),
        ("sha256:", "syntax"),
        (":" + HEX64, "syntax"),
        (f"SHA256:{HEX64}", "syntax"),
        (f"sha256:{HEX64.upper()}", "sha256"),
        (f"sha256:{HEX64[:-1]}", "sha256"),
        (f"sha256:{HEX64}0", "sha256"),
        (f"sha256:{'g' * 64}", "sha256"),
        (f"sha512:{HEX64}", "sha512"),
        (f"md5:{'a' * 32}", "unsupported"),
        (f"sha384:{'a' * 96}", "unsupported"),
        (f"multihash+base58:{'a' * 46}", "unsupported"),
        (f"sha256:{HEX64}/../x", "syntax"),
        (f"sha256:{HEX64}\n", "syntax"),
    ],
)
def test_invalid_or_unsupported_digests_raise(value, reason):
    with pytest.raises(InvalidReference) as info:
        parse_digest(value)
    assert info.value.kind == "digest"
    assert reason in str(info.value)


@pytest.mark.parametrize(
    "reference, expected",
    [(f"sha256:{HEX64}", True), ("md5:x", True), ("latest", False), (f"sha256-{HEX64}", False)],
)
def test_a_reference_with_a_colon_is_a_digest(reference, expected):
    assert is_digest_reference(reference) is expected
