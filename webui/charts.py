"""Geometry of the dashboard's two charts, drawn as server-side SVG (no chart library, no
CDN: the page works offline and without JavaScript). Pure functions: every coordinate is
computed here, rounded, so the templates only print them."""
from __future__ import annotations

from dataclasses import dataclass

# SVG user units; the SVG scales to its container.
WIDTH = 600
ROW_HEIGHT = 26
LABEL_WIDTH = 150
VALUE_WIDTH = 90
COLUMNS_HEIGHT = 180
AXIS_HEIGHT = 22


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str  # shown beside the bar and in its tooltip
    label_x: float
    label_y: float
    value_x: float
    value_y: float


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar]
    axis_y: float = 0


def _r(value: float) -> float:
    return round(value, 1)


def horizontal_bars(items: list[tuple[str, float, str]]) -> Chart:
    """One row per (label, value, value text); the longest bar is the largest value."""
    largest = max((value for _, value, _ in items), default=0) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = []
    for i, (label, value, text) in enumerate(items):
        width = max(span * value / largest, 1 if value else 0)
        y, middle = i * ROW_HEIGHT + 4, i * ROW_HEIGHT + ROW_HEIGHT / 2
        bars.append(Bar(
            LABEL_WIDTH, y, _r(width), ROW_HEIGHT - 8, label, text,
            label_x=LABEL_WIDTH - 8, label_y=middle, value_x=_r(LABEL_WIDTH + width + 6), value_y=middle,
        ))
    return Chart(WIDTH, max(len(items), 1) * ROW_HEIGHT, bars)


def columns(items: list[tuple[str, float, str]]) -> Chart:
    """One column per (label, value, value text), left to right, labels under the axis."""
    largest = max((value for _, value, _ in items), default=0) or 1
    slot = WIDTH / max(len(items), 1)
    axis = COLUMNS_HEIGHT - AXIS_HEIGHT
    plot = axis - 16  # room for the value above the tallest column
    bars = []
    for i, (label, value, text) in enumerate(items):
        height = plot * value / largest
        centre = i * slot + slot / 2
        bars.append(Bar(
            _r(i * slot + slot * 0.15), _r(axis - height), _r(slot * 0.7), _r(height), label, text,
            label_x=_r(centre), label_y=COLUMNS_HEIGHT - 6, value_x=_r(centre), value_y=_r(axis - height - 4),
        ))
    return Chart(WIDTH, COLUMNS_HEIGHT, bars, axis_y=axis)
