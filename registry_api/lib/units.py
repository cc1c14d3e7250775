"""Durations and byte counts as operators read and write them: `24h`, `30m`; `1.5 GiB`."""
from __future__ import annotations

import argparse
import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_BYTE_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")


def parse_duration(value: str) -> timedelta:
    """A whole number with an optional unit (seconds when there is none)."""
    match = _DURATION_RE.fullmatch(value.lower())
    if match is None:
        # argparse shows this message when the function is an argument's `type`.
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration like 90s, 30m, 24h or 7d")
    number, unit = match.groups()
    return timedelta(seconds=int(number) * _UNITS[unit or "s"])


def format_bytes(count: int) -> str:
    """Binary units with one decimal, plain spaces (the text goes into JSON and logs)."""
    value, unit = float(count), 0
    while abs(value) >= 1024 and unit < len(_BYTE_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return "1 byte" if count == 1 else f"{count} bytes"
    return f"{value:.1f} {_BYTE_UNITS[unit]}"
