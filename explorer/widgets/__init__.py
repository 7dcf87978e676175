"""Jupyter widgets (ipywidgets 8): the app's pages, one import away in a notebook.

- `TrainerWidget`: set up a run, compare up to four rules, play / pause / step / stop, live curves;
- `AlignmentWidget`: update, signal and weight alignment per layer, and gradient norms;
- `EmbeddingWidget`: PCA / t-SNE maps of hidden representations, checkpoint by checkpoint;
- `ParityWidget`: the parity task over rules and seeds, with the published values.

Each also shows finished runs from the store (``explorer.runs.workspace.open(id)``), and ``widget.config`` is
the `RunConfig` that reproduces what is on screen. Charts come from `explorer.views.charts` (the app's)
and render offline (see `offline_charts`).

Example:
    >>> from explorer.widgets import TrainerWidget
    >>> TrainerWidget({"algorithm": {"name": "dfa"}}).config.algorithm.name
    'dfa'
"""

from explorer.widgets.alignment import AlignmentWidget
from explorer.widgets.common import Runs, chart_view, follow, offline_charts
from explorer.widgets.embedding import EmbeddingWidget
from explorer.widgets.parity import ParityWidget
from explorer.widgets.trainer import TrainerWidget

__all__ = ["TrainerWidget", "AlignmentWidget", "EmbeddingWidget", "ParityWidget", "Runs", "follow",
           "chart_view", "offline_charts"]
