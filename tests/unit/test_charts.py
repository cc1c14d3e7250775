"""The dashboard charts' geometry (pure functions)."""
from __future__ import annotations

import pytest

from webui import charts


def test_horizontal_bars_scale_to_the_largest_value():
    chart = charts.horizontal_bars([("big", 100, "100 B"), ("half", 50, "50 B"), ("none", 0, "0 B")])
    widths = [bar.width for bar in chart.bars]
    assert widths[0] == charts.WIDTH - charts.LABEL_WIDTH - charts.VALUE_WIDTH
    assert widths[1] == pytest.approx(widths[0] / 2, abs=0.1) and widths[2] == 0
    assert chart.height == 3 * charts.ROW_HEIGHT
    assert [bar.y for bar in chart.bars] == sorted(bar.y for bar in chart.bars)


def test_a_tiny_value_still_shows():
    chart = charts.horizontal_bars([("big", 10**9, ""), ("tiny", 1, "")])
    assert chart.bars[1].width == 1


@pytest.mark.parametrize("values", [[0, 0, 0], [3], [1, 5, 2, 0]])
def test_columns_stand_on_the_axis_inside_the_chart(values):
    chart = charts.columns([(str(i), v, str(v)) for i, v in enumerate(values)])
    for bar in chart.bars:
        assert bar.y + bar.height == pytest.approx(chart.axis_y, abs=0.2)
        assert 0 <= bar.value_y and bar.x + bar.width <= chart.width
    tallest = max(chart.bars, key=lambda bar: bar.height)
    assert tallest.height == (chart.axis_y - 16 if max(values) else 0)


def test_empty_charts_have_a_size():
    assert charts.horizontal_bars([]).height == charts.ROW_HEIGHT and charts.columns([]).bars == []
