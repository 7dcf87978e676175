"""explorer: see how neural networks learn when the backward pass is not backpropagation.

Example:
    >>> import explorer
    >>> result = explorer.train({"algorithm": {"name": "dfa"}, "train": {"epochs": 1}, "device": "cpu"})
    >>> result.status
    'done'
"""

from explorer._lazy import lazy_exports
from explorer._version import __version__

# Each public name and the module it lives in, imported on first use: ``import explorer`` and a
# submodule's import (``python -m explorer --help``, ``explorer.config``) load no torch.
_HOMES = {
    "Built": "explorer.engine.build", "build": "explorer.engine.build",
    "ConfigError": "explorer.config", "RunConfig": "explorer.config",
    "Dataset": "explorer.data", "DatasetNotFound": "explorer.data",
    "embed": "explorer.views.embed",
    "JobManager": "explorer.runs.jobs", "RunHandle": "explorer.runs.jobs",
    "alignment": "explorer.engine.metrics", "compute_updates": "explorer.engine.metrics",
    "Probe": "explorer.engine.representations", "Snapshot": "explorer.engine.representations",
    "capture": "explorer.engine.representations", "per_digit": "explorer.engine.representations",
    "SeedsTrainer": "explorer.engine.seeds", "build_seeds": "explorer.engine.seeds",
    "RunView": "explorer.runs.store", "Store": "explorer.runs.store", "StoreError": "explorer.runs.store",
    "SweepResult": "explorer.runs.sweep", "sweep": "explorer.runs.sweep",
    "Trainer": "explorer.engine.trainer", "TrainResult": "explorer.engine.trainer", "train": "explorer.engine.trainer",
}
__all__ = [*_HOMES, "__version__"]
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
