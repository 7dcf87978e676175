"""The options each dataset takes, by kind, for validating ``data`` at the door (no torch here).

Kinds: ``"int+"`` (a positive whole number), ``"int>=0"``, ``"int>=2"``, ``"float01"`` (strictly
between 0 and 1), ``"float>=0"``, ``"bool"``, ``"path"`` (a non-empty string), or a tuple of
allowed strings. What each option means is in its loader's docstring (`explorer.data`).

Example:
    >>> sorted(DATASET_OPTIONS["random"])
    ['classes', 'features', 'samples', 'seed', 'test_samples']
    >>> DATASET_OPTIONS["parity"]["base"]
    ('mnist', 'digits')
"""

_FOLDER = {"root": "path", "train_samples": "int+", "test_samples": "int+"}  # read from data.root
_TOY = {"samples": "int+", "test_fraction": "float01", "noise": "float>=0", "seed": "int>=0"}

DATASET_OPTIONS: dict[str, dict[str, object]] = {
    # Embedded: generated or shipped with an installed package.
    "digits": {"test_fraction": "float01", "seed": "int>=0"},
    "random": {"samples": "int+", "test_samples": "int+", "features": "int+", "classes": "int>=2",
               "seed": "int>=0"},
    "mnist1d": {"samples": "int+", "seed": "int>=0"},
    "moons": _TOY,
    "circles": _TOY,
    "xor": _TOY,
    "spiral": {**_TOY, "classes": "int>=2"},
    "gaussians": {**_TOY, "classes": "int>=2"},
    "parity_bits": {"bits": "int+", "k": "int+", "samples": "int+", "test_samples": "int+", "seed": "int>=0"},
    "teacher": {"kind": ("linear", "nonlinear"), "samples": "int+", "test_samples": "int+", "seed": "int>=0"},
    # From a data folder (torchvision's layout).
    "mnist": _FOLDER,
    "fashion_mnist": _FOLDER,
    "kmnist": _FOLDER,
    "notmnist": {**_FOLDER, "test_fraction": "float01"},
    "cifar10": _FOLDER,
    # Drawn afresh every epoch from a base dataset.
    "parity": {"base": ("mnist", "digits"), "k": "int+", "seed": "int>=0", **_FOLDER},
}
