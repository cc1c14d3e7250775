"""Durations on the command line (`--older-than 24h`) and byte counts for people."""
from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from registry_api.lib.units import format_bytes, parse_duration


@pytest.mark.parametrize("text, seconds", [
    ("0", 0), ("90", 90), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("2W", 1209600), (" 1 h ", 3600),
])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "1.5h", "-1h", "1y", "1 h 2", "24hours"])
def test_bad_durations_are_argparse_errors(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


@pytest.mark.parametrize("count, text", [
    (0, "0 bytes"), (1023, "1023 bytes"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB"),
])
def test_format_bytes(count, text):
    assert format_bytes(count) == text
