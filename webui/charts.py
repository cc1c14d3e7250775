"""The dashboard's two charts as data for plain HTML bars (no chart library, no CDN, no
JavaScript needed). Pure functions: each bar's length is a percentage of the largest value,
computed here and rounded, so the templates only print it.

HTML rather than SVG so that labels are text at the page's own font size: an SVG scaled
from a 600-unit drawing to a phone's 330 pixels shrank its 12-unit labels to 6 pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

# A value this small next to the largest still gets a visible sliver (percent).
MIN_SHARE = 0.5


@dataclass
class Bar:
    label: str  # printed beside (or under) the bar
    value: float
    text: str  # the value as printed
    share: float  # length in percent of the largest value, 0–100
    description: str  # the whole statement, for screen readers and the tooltip


def bars(items: list[tuple[str, float, str, str]]) -> list[Bar]:
    """One bar per (label, value, value text, description); the longest is the largest value."""
    largest = max((value for _, value, _, _ in items), default=0) or 1
    made = []
    for label, value, text, description in items:
        share = round(100 * value / largest, 1)
        made.append(Bar(label, value, text, max(share, MIN_SHARE) if value else 0.0, description))
    return made
