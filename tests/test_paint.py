"""Decision maps painted as PNG (`explorer.views.paint`): each cell in its class colour at its
confidence's opacity, the dots where the points lie, y upwards, as the Vega boundary chart."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from explorer.views import charts
from explorer.views.paint import boundary_html, boundary_image


def _grid(side: int, seed: int = 0) -> pd.DataFrame:
    """A side x side grid over [0, side]^2, x fastest, random labels and confidences."""
    rng = np.random.default_rng(seed)
    j, i = np.divmod(np.arange(side * side), side)
    return pd.DataFrame({"x": i * 1.0, "y": j * 1.0, "x2": i + 1.0, "y2": j + 1.0,
                         "label": rng.integers(0, 3, side * side), "confidence": rng.uniform(0, 1, side * side)})


def _blend(hex_color: str, confidence: float) -> np.ndarray:
    """Vega's rect at opacity 0.05 + 0.55 * confidence over a white page (charts.boundary_chart)."""
    rgb = np.array([int(hex_color[k:k + 2], 16) for k in (1, 3, 5)], dtype=float)
    alpha = 0.05 + 0.55 * confidence
    return 255 * (1 - alpha) + rgb * alpha


def test_each_cell_is_its_class_colour_at_its_confidence_with_y_growing_upwards():
    side, size = 8, 80  # 10 px a cell
    grid = _grid(side)
    pixels = np.asarray(boundary_image(grid, grid.iloc[:0][["x", "y", "label"]], size=size), dtype=float)
    assert pixels.shape == (size, size, 3)
    for _, cell in grid.iterrows():
        column, row_from_bottom = int(cell["x"]), int(cell["y"])
        centre = pixels[size - 1 - (10 * row_from_bottom + 5), 10 * column + 5]
        expected = _blend(charts.CLASS_COLORS[int(cell["label"])], cell["confidence"])
        assert centre == pytest.approx(expected, abs=0.51)


def test_the_points_are_dots_of_their_class_where_they_lie():
    grid = _grid(4).assign(label=0, confidence=0.0)   # a pale blue field
    points = pd.DataFrame({"x": [0.5, 3.5], "y": [3.5, 0.5], "label": [1, 2]})  # top left, bottom right
    pixels = np.asarray(boundary_image(grid, points, size=40), dtype=float)
    orange, red = (np.array([int(c[k:k + 2], 16) for k in (1, 3, 5)]) for c in charts.CLASS_COLORS[1:3])
    assert pixels[5, 5] == pytest.approx(orange, abs=0.5)      # x 0.5, y 3.5: 5 px from the left and the top
    assert pixels[35, 35] == pytest.approx(red, abs=0.5)
    assert pixels[5, 35] == pytest.approx(_blend(charts.CLASS_COLORS[0], 0.0), abs=0.51)   # no dot there


def test_the_html_carries_the_png_and_a_grid_that_is_not_square_is_refused():
    grid = _grid(4)
    html = boundary_html(grid, grid[["x", "y", "label"]], title='BP <1> · "epoch 2"', size=20)
    alt, data = re.fullmatch(r'<img class="explorer-boundary" alt="([^"]*)" width="20" height="20" '
                             r'src="data:image/png;base64,([^"]+)"/>', html).groups()
    assert alt == "BP &lt;1&gt; · &quot;epoch 2&quot;"
    assert Image.open(io.BytesIO(base64.b64decode(data))).size == (20, 20)
    with pytest.raises(ValueError, match="square"):
        boundary_image(grid.iloc[:5], grid[["x", "y", "label"]])
