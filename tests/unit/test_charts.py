"""The dashboard charts' bar lengths (pure functions)."""
from __future__ import annotations

import pytest

from webui import charts


def _bars(values):
    return charts.bars([(str(i), v, str(v), f"{i}: {v}") for i, v in enumerate(values)])


def test_bars_scale_to_the_largest_value():
    bars = _bars([100, 50, 0])
    assert [bar.share for bar in bars] == [100.0, 50.0, 0.0]
    assert bars[0].description == "0: 100" and bars[1].text == "50"


def test_a_tiny_value_still_shows():
    assert _bars([10**9, 1])[1].share == charts.MIN_SHARE


@pytest.mark.parametrize("values", [[0, 0, 0], [3], [1, 5, 2, 0], []])
def test_shares_stay_between_0_and_100(values):
    bars = _bars(values)
    assert len(bars) == len(values)
    assert all(0 <= bar.share <= 100 for bar in bars)
    assert max((bar.share for bar in bars), default=0) == (100 if any(values) else 0)
