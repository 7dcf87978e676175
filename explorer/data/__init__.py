"""Datasets as tensors on the run's device, by name (`LOADERS`; options in `DATASET_OPTIONS`).

- embedded (no download): ``digits``, ``random``, ``mnist1d`` (`embedded`); the 2-D toys
  ``moons``, ``circles``, ``xor``, ``spiral``, ``gaussians`` (`toys`); ``parity_bits`` and the
  regression task ``teacher`` (`synthetic`);
- from ``data.root`` / ``$EXPLORER_DATA``: ``mnist``, ``fashion_mnist``, ``kmnist``, ``notmnist``
  (`idx`), ``cifar10`` (`cifar`); a missing one raises `DatasetNotFound`, a damaged file
  `DatasetFileError` naming it, both `DatasetError`s (`errors`), before any step is taken;
- ``parity``: k digits side by side, drawn afresh every epoch (`parity`).

The names below are imported from their modules on first use (`explorer._lazy`): the errors come
from `errors` without torch, so a front end can catch them before any data is loaded.
"""

from explorer._lazy import lazy_exports

_HOMES = {
    "Dataset": "explorer.data.base", "ParityDataset": "explorer.data.parity",
    "DatasetError": "explorer.data.errors", "DatasetFileError": "explorer.data.errors",
    "DatasetNotFound": "explorer.data.errors",
    "LOADERS": "explorer.data.loaders", "load_dataset": "explorer.data.loaders",
}
__all__ = list(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
