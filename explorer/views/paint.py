"""Decision maps painted as small PNG images, for the Playground's repaints while runs train.

A Vega boundary chart is 1,600 rectangles under the data's dots; three of them redrawn at every
poll kept Chromium busy with about one core of a 2-core machine (measured while BP, FA and DFA
trained on moons). The same picture as one PNG, painted here with NumPy and Pillow, is one image
for the browser to decode. The look follows `charts.boundary_chart`: each cell in its class's
colour (`charts.CLASS_COLORS`, colour-blind safe) at an opacity from 0.05 to 0.6 by the network's confidence, over
white; the points as dots with a white rim. Once the runs end, the page draws the Vega chart.

Example:
    >>> import pandas as pd
    >>> grid = pd.DataFrame({"x": [0.0, 1.0, 0.0, 1.0], "y": [0.0, 0.0, 1.0, 1.0], "x2": [1.0, 2.0, 1.0, 2.0],
    ...                      "y2": [1.0, 1.0, 2.0, 2.0], "label": [0, 1, 0, 1], "confidence": [1.0, 1.0, 0.5, 0.5]})
    >>> image = boundary_image(grid, pd.DataFrame({"x": [0.5], "y": [0.5], "label": [0]}), size=40)
    >>> image.size, image.getpixel((30, 5))   # top right: class 1 at confidence 0.5 (opacity 0.325)
    ((40, 40), (247, 224, 172))
"""

from __future__ import annotations

import base64
import io
import math
from html import escape

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from explorer.views.charts import CLASS_COLORS

OPACITY = (0.05, 0.6)   # a region's opacity at confidence 0 and 1, as in `charts.boundary_chart`
DOT_RADIUS = 2.4        # px: Vega's circle of size 18 (its area in px²)


def _rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


PALETTE = np.array([_rgb(c) for c in CLASS_COLORS], dtype=float)


def boundary_image(grid: pd.DataFrame, points: pd.DataFrame, *, size: int = 240) -> Image.Image:
    """A ``size`` × ``size`` picture of a `playground.Boundary` grid table (x, y, x2, y2, label,
    confidence; a square of cells, x fastest) with ``points`` (x, y, label) on it; y grows upwards."""
    side = math.isqrt(len(grid))
    if side * side != len(grid) or side == 0:
        raise ValueError(f"grid must hold a square of cells, got {len(grid)} rows")
    low, high = OPACITY
    alpha = low + (high - low) * np.clip(grid["confidence"].to_numpy(dtype=float), 0.0, 1.0)
    colors = PALETTE[grid["label"].to_numpy() % len(PALETTE)]
    cells = np.rint(255 * (1 - alpha[:, None]) + colors * alpha[:, None]).reshape(side, side, 3)[::-1]
    rows = (np.arange(size) * side) // size          # each pixel's cell, nearest
    image = Image.fromarray(cells[rows][:, rows].astype(np.uint8), "RGB")
    x0, x1 = float(grid["x"].min()), float(grid["x2"].max())
    y0, y1 = float(grid["y"].min()), float(grid["y2"].max())
    draw = ImageDraw.Draw(image)
    for x, y, label in zip(points["x"].tolist(), points["y"].tolist(), points["label"].tolist()):
        px, py = (x - x0) / (x1 - x0) * size, (y1 - y) / (y1 - y0) * size
        draw.ellipse((px - DOT_RADIUS, py - DOT_RADIUS, px + DOT_RADIUS, py + DOT_RADIUS),
                     fill=tuple(int(c) for c in PALETTE[label % len(PALETTE)]), outline=(255, 255, 255))
    return image


def boundary_html(grid: pd.DataFrame, points: pd.DataFrame, *, title: str, size: int = 240) -> str:
    """`boundary_image` as an inline ``<img class="explorer-boundary">`` (a PNG data URL), for
    ``st.markdown(…, unsafe_allow_html=True)``.

    Example:
        >>> grid = pd.DataFrame({"x": [0.0], "y": [0.0], "x2": [1.0], "y2": [1.0], "label": [0], "confidence": [1.0]})
        >>> boundary_html(grid, grid[["x", "y", "label"]], title="BP · epoch 1", size=8)[:60]
        '<img class="explorer-boundary" alt="BP · epoch 1" width="8" '
    """
    buffer = io.BytesIO()
    boundary_image(grid, points, size=size).save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<img class="explorer-boundary" alt="{escape(title)}" width="{size}" height="{size}" '
            f'src="data:image/png;base64,{data}"/>')
