"""The options each dataset takes, by kind, for validating ``data`` at the door (no torch here).

Kinds: ``"int+"`` (a positive whole number), ``"int>=0"``, ``"int>=2"``, ``"float01"`` (strictly
between 0 and 1), ``"float>=0"``, ``"bool"``, ``"path"`` (a non-empty string), or a tuple of
allowed strings.

Example:
    >>> sorted(DATASET_OPTIONS["random"])
    ['classes', 'features', 'samples', 'seed', 'test_samples']
"""

DATASET_OPTIONS: dict[str, dict[str, object]] = {
    "digits": {"test_fraction": "float01", "seed": "int>=0"},
    "random": {"samples": "int+", "test_samples": "int+", "features": "int+", "classes": "int>=2",
               "seed": "int>=0"},
    "mnist": {"root": "path", "train_samples": "int+", "test_samples": "int+"},
}
