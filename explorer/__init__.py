"""explorer: see how neural networks learn when the backward pass is not backpropagation.

Example:
    >>> import explorer
    >>> result = explorer.train({"algorithm": {"name": "dfa"}, "train": {"epochs": 1}, "device": "cpu"})
    >>> result.status
    'done'
"""

from explorer._version import __version__

from explorer.engine.build import Built, build
from explorer.config import ConfigError, RunConfig
from explorer.data import Dataset, DatasetNotFound
from explorer.views.embed import embed
from explorer.runs.jobs import JobManager, RunHandle
from explorer.engine.metrics import alignment, compute_updates
from explorer.engine.representations import Probe, Snapshot, capture, per_digit
from explorer.engine.seeds import SeedsTrainer, build_seeds
from explorer.runs.store import RunView, Store, StoreError
from explorer.runs.sweep import SweepResult, sweep
from explorer.engine.trainer import Trainer, TrainResult, train

__all__ = ["RunConfig", "ConfigError", "Built", "build", "compute_updates", "alignment", "train",
           "Trainer", "TrainResult", "Dataset", "DatasetNotFound", "sweep", "SweepResult", "embed",
           "capture", "per_digit", "Probe", "Snapshot", "SeedsTrainer", "build_seeds", "Store", "StoreError",
           "RunView", "JobManager", "RunHandle", "__version__"]
