"""explorer: see how neural networks learn when the backward pass is not backpropagation.

Example:
    >>> import explorer
    >>> result = explorer.train({"algorithm": {"name": "dfa"}, "train": {"epochs": 1}, "device": "cpu"})
    >>> result.status
    'done'
"""

__version__ = "0.1.0"  # first: the run store records it

from .build import Built, build
from .config import ConfigError, RunConfig
from .data import Dataset, DatasetNotFound
from .embed import embed
from .jobs import JobManager, RunHandle
from .metrics import alignment, compute_updates
from .representations import Probe, Snapshot, capture, per_digit
from .seeds import SeedsTrainer, build_seeds
from .store import RunView, Store, StoreError
from .sweep import SweepResult, sweep
from .trainer import Trainer, TrainResult, train

__all__ = ["RunConfig", "ConfigError", "Built", "build", "compute_updates", "alignment", "train",
           "Trainer", "TrainResult", "Dataset", "DatasetNotFound", "sweep", "SweepResult", "embed",
           "capture", "per_digit", "Probe", "Snapshot", "SeedsTrainer", "build_seeds", "Store", "StoreError",
           "RunView", "JobManager", "RunHandle", "__version__"]
