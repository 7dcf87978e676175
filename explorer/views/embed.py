"""2-D maps of hidden representations, one per checkpoint, that move smoothly from one to the next.

`embed` takes the same N points at several checkpoints ((N, d) arrays or tensors, d may differ
between checkpoints) and returns an (N, 2) map for each:

- ``pca``: the top two principal components of each checkpoint, each axis's sign flipped to agree
  with the previous checkpoint's map, so maps do not mirror-jump;
- ``tsne`` (openTSNE): the first checkpoint from a PCA initialisation with an early-exaggeration
  phase, each later one optimised from the previous checkpoint's map (a warm start, no
  exaggeration), so a point moves only as far as its neighbourhood changed. Single-threaded
  (``n_jobs=1``) it is deterministic for a seed. t-SNE coordinates have no scale of their own,
  and a map optimised further keeps expanding, so every returned t-SNE map is centred and scaled
  to a root-mean-square radius of 1: a growing map does not read as movement.

`embed_benchmark` times openTSNE against scikit-learn's ``TSNE`` on the same clustered data.

Example:
    >>> x, _ = clustered(60, 5, clusters=3)
    >>> maps = embed([x, x + 0.01], "pca")
    >>> [m.shape for m in maps]
    [(60, 2), (60, 2)]
    >>> bool(np.abs(maps[0] - maps[1]).max() < 0.1)
    True
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np
import torch

from explorer.config import ConfigError
from explorer.engine.representations import Snapshot

METHODS = ("pca", "tsne")
EARLY_ITER = 250  # early-exaggeration iterations of the benchmark (scikit-learn's fixed schedule)


def clustered(n: int, dim: int, clusters: int = 10, seed: int = 0, spread: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` float32 points in ``dim`` dimensions around ``clusters`` random centres (unit noise,
    centres drawn with standard deviation ``spread``), and each point's cluster.

    Example:
        >>> x, labels = clustered(100, 8, clusters=4)
        >>> x.shape, x.dtype, sorted(set(labels.tolist()))
        ((100, 8), dtype('float32'), [0, 1, 2, 3])
    """
    rng = np.random.RandomState(seed)
    centres = rng.normal(0.0, spread, (clusters, dim))
    labels = np.arange(n) % clusters
    x = centres[labels] + rng.normal(0.0, 1.0, (n, dim))
    return x.astype(np.float32), labels


def embed(snapshots: Sequence, method: str = "pca", *, layer: str | None = None, perplexity: float = 30.0,
          n_iter: int = 500, seed: int = 0, early_exaggeration_iter: int = 250, warm_start: bool = True,
          n_jobs: int = 1) -> list[np.ndarray]:
    """An (N, 2) float32 map for each checkpoint's (N, d) representations (same N throughout).

    ``snapshots`` are (N, d) arrays or tensors, or the `representations.Snapshot` objects a run
    records (``TrainResult.snapshots``), of which ``layer`` is embedded (default: the last
    hidden layer captured).

    ``perplexity``, ``n_iter`` (iterations per checkpoint after the first one's
    ``early_exaggeration_iter``), ``warm_start`` (start each t-SNE map from the previous one; when
    False every checkpoint is embedded afresh from its own PCA initialisation) and ``n_jobs``
    apply to ``tsne``. ``seed`` fixes the random choices of both methods. PCA maps keep the
    data's scale; t-SNE maps are centred with a root-mean-square radius of 1.

    Example:
        >>> x, _ = clustered(200, 10, clusters=4)
        >>> maps = embed([x, x], "tsne", perplexity=20, n_iter=50, early_exaggeration_iter=50)
        >>> [m.shape for m in maps]
        [(200, 2), (200, 2)]
        >>> embed([x], "umap")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: method must be one of pca, tsne; got 'umap'
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}; got {method!r}", field="method")
    if isinstance(snapshots, (str, bytes)) or not hasattr(snapshots, "__len__"):
        raise ConfigError("snapshots must be a non-empty list of (N, d) arrays, one per checkpoint", field="snapshots")
    mats = matrices(_layer_of(snapshots, layer))
    seed = _whole(seed, "seed", 0)
    if method == "pca":
        return _pca_maps(mats, seed)
    n = mats[0].shape[0]
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float)) or not math.isfinite(perplexity):
        raise ConfigError(f"perplexity must be a number, got {perplexity!r}", field="perplexity")
    if not 0 < perplexity <= n - 1:
        raise ConfigError(f"perplexity must be greater than 0 and less than the number of points "
                          f"(at most N - 1 = {n - 1}), got {perplexity:g}", field="perplexity")
    n_iter = _whole(n_iter, "n_iter", 1)
    early_exaggeration_iter = _whole(early_exaggeration_iter, "early_exaggeration_iter", 0)
    n_jobs = _whole(n_jobs, "n_jobs", 1)
    if not isinstance(warm_start, bool):
        raise ConfigError(f"warm_start must be true or false, got {warm_start!r}", field="warm_start")
    settings = dict(perplexity=perplexity, n_iter=n_iter, early_exaggeration_iter=early_exaggeration_iter,
                    seed=seed, n_jobs=n_jobs)
    if warm_start:
        return [normalise(m) for m in tsne_steps(mats, **settings)]
    maps: list[np.ndarray] = []
    previous_init = None
    for x in mats:
        init = _align(_tsne_init(x, seed), previous_init)
        previous_init = init
        emb = _tsne_fresh(x, init, perplexity, n_iter, early_exaggeration_iter, seed, n_jobs)
        maps.append(np.asarray(emb, dtype=np.float64))
    return [normalise(m) for m in maps]


def tsne_steps(matrices: Sequence[np.ndarray], previous: np.ndarray | None = None, *, perplexity: float = 30.0,
               n_iter: int = 500, early_exaggeration_iter: int = 250, seed: int = 0, n_jobs: int = 1):
    """`embed`'s warm-started t-SNE one checkpoint at a time, for callers that show maps as they
    come: yields each checkpoint's raw (unscaled) float64 map. The first starts from its PCA with
    early exaggeration, unless ``previous`` (a raw map) is given to continue from; each later one
    starts from the map before it. Inputs as `embed` checks them (no checks here).

    Example:
        >>> x, _ = clustered(40, 4, clusters=2)
        >>> [m.shape for m in tsne_steps([x, x], perplexity=5, n_iter=20, early_exaggeration_iter=10)]
        [(40, 2), (40, 2)]
    """
    for x in matrices:
        if previous is None:
            emb = _tsne_fresh(x, _tsne_init(x, seed), perplexity, n_iter, early_exaggeration_iter, seed, n_jobs)
        else:
            emb = _tsne_continue(x, previous, perplexity, n_iter, seed, n_jobs)
        previous = np.asarray(emb, dtype=np.float64)
        yield previous


def _whole(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be a whole number of at least {minimum}, got {value!r}", field=name)
    return int(value)


def _layer_of(snapshots, layer: str | None) -> list:
    """The chosen layer's (N, d) tensor of each `Snapshot` (arrays pass through unchanged)."""
    if not snapshots or not all(isinstance(s, Snapshot) for s in snapshots):
        if layer is not None:
            raise ConfigError("layer: only Snapshot objects have layers; these are plain arrays", field="layer")
        return list(snapshots)
    names = list(snapshots[0].layers)
    layer = names[-1] if layer is None else layer
    for i, s in enumerate(snapshots):
        if layer not in s.layers:
            raise ConfigError(f"layer: snapshots[{i}] holds no layer {layer!r}; it holds {', '.join(s.layers)}",
                              field="layer")
    return [s.layers[layer] for s in snapshots]


def matrices(snapshots) -> list[np.ndarray]:
    """Each checkpoint as a finite float32 (N, d ≥ 2) array; the same N ≥ 2 for all."""
    if isinstance(snapshots, (str, bytes)) or not hasattr(snapshots, "__len__") or len(snapshots) == 0:
        raise ConfigError("snapshots must be a non-empty list of (N, d) arrays, one per checkpoint", field="snapshots")
    mats = []
    for i, s in enumerate(snapshots):
        x = s.detach().to("cpu", torch.float32).numpy() if torch.is_tensor(s) else np.asarray(s, dtype=np.float32)
        if x.ndim != 2:
            raise ConfigError(f"snapshots[{i}] must be a 2-D array (N, d), got shape {x.shape}",
                              field=f"snapshots[{i}]")
        if mats and x.shape[0] != mats[0].shape[0]:
            raise ConfigError(f"snapshots[{i}] has {x.shape[0]} points but snapshots[0] has "
                              f"{mats[0].shape[0]}; every checkpoint must hold the same N points",
                              field=f"snapshots[{i}]")
        if x.shape[0] < 2:
            raise ConfigError(f"snapshots[{i}] has {x.shape[0]} points; a map needs at least 2",
                              field=f"snapshots[{i}]")
        if x.shape[1] == 0:
            raise ConfigError(f"snapshots[{i}] has no features (shape {x.shape})", field=f"snapshots[{i}]")
        if not np.isfinite(x).all():
            raise ConfigError(f"snapshots[{i}] holds non-finite values (NaN or infinity)", field=f"snapshots[{i}]")
        if x.shape[1] < 2:  # a zero column changes no distance and lets PCA find two components
            x = np.concatenate([x, np.zeros((x.shape[0], 2 - x.shape[1]), np.float32)], axis=1)
        mats.append(np.ascontiguousarray(x))
    return mats


def normalise(m: np.ndarray) -> np.ndarray:
    """``m`` centred and scaled to a root-mean-square radius of 1, as float32.

    Example:
        >>> normalise(np.array([[1.0, 1.0], [3.0, 1.0]])).tolist()
        [[-1.0, 0.0], [1.0, 0.0]]
    """
    centred = m - m.mean(0)
    radius = np.sqrt((centred ** 2).sum(1).mean())
    return (centred / radius if radius > 0 else centred).astype(np.float32)


def _align(current: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """``current`` with each axis negated where it points against ``previous``'s same axis.

    Example:
        >>> a = np.array([[1.0, 2.0], [-1.0, -2.0]])
        >>> _align(-a, a).tolist() == a.tolist()
        True
    """
    if previous is None:
        return current
    signs = np.where((current * previous).sum(0) < 0, -1.0, 1.0)
    return current * signs.astype(current.dtype)


def _pca_maps(mats: list[np.ndarray], seed: int) -> list[np.ndarray]:
    from sklearn.decomposition import PCA

    maps: list[np.ndarray] = []
    for x in mats:
        coords = PCA(n_components=2, random_state=seed).fit_transform(x)
        maps.append(_align(coords.astype(np.float32), maps[-1] if maps else None))
    return maps


def _tsne_init(x: np.ndarray, seed: int) -> np.ndarray:
    from openTSNE import initialization

    return initialization.pca(x, n_components=2, random_state=seed)


def _affinities(x: np.ndarray, perplexity: float, seed: int, n_jobs: int):
    from openTSNE import affinity

    return affinity.PerplexityBasedNN(x, perplexity=perplexity, n_jobs=n_jobs, random_state=seed)


def _tsne_fresh(x, init, perplexity, n_iter, early_exaggeration_iter, seed, n_jobs):
    """openTSNE's standard schedule from ``init``: exaggeration 12, then ``n_iter`` plain steps."""
    from openTSNE import TSNEEmbedding

    emb = TSNEEmbedding(init, _affinities(x, perplexity, seed, n_jobs), n_jobs=n_jobs, random_state=seed)
    if early_exaggeration_iter:
        emb = emb.optimize(early_exaggeration_iter, exaggeration=12, momentum=0.8, propagate_exception=True)
    return emb.optimize(n_iter, momentum=0.8, propagate_exception=True)


def _tsne_continue(x, previous_map, perplexity, n_iter, seed, n_jobs):
    """``n_iter`` plain steps on ``x``'s affinities, starting from the previous checkpoint's map."""
    from openTSNE import TSNEEmbedding

    emb = TSNEEmbedding(np.array(previous_map, dtype=np.float64), _affinities(x, perplexity, seed, n_jobs),
                        n_jobs=n_jobs, random_state=seed)
    return emb.optimize(n_iter, momentum=0.8, propagate_exception=True)


def embed_benchmark(sizes: Sequence[int] = (5000, 10000), dim: int = 512, n_iter: int = 500, seed: int = 0,
                    perplexity: float = 30.0, n_jobs: int = 1) -> dict:
    """Seconds for openTSNE (the `embed` path) and scikit-learn's ``TSNE`` on the same clustered
    data of each size, with the same perplexity and iterations (250 at exaggeration 12, which
    scikit-learn fixes, then ``n_iter``; scikit-learn's early stopping turned off), PCA
    initialisation and automatic learning rates, both limited to ``n_jobs`` threads. Returns {size: {"opentsne_s", "sklearn_s", "ratio" (sklearn / openTSNE),
    "opentsne_kl", "sklearn_kl"}} (the final KL divergences, to compare quality).

    Example:
        >>> r = embed_benchmark(sizes=(120,), dim=8, n_iter=20, perplexity=10)
        >>> sorted(r[120])
        ['opentsne_kl', 'opentsne_s', 'ratio', 'sklearn_kl', 'sklearn_s']
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    results: dict[int, dict[str, float]] = {}
    for n in sizes:
        x, _ = clustered(n, dim, seed=seed)
        with threadpool_limits(limits=n_jobs):
            start = time.perf_counter()
            emb = _tsne_fresh(x, _tsne_init(x, seed), perplexity, n_iter, EARLY_ITER, seed, n_jobs)
            opentsne_s = time.perf_counter() - start
            total = EARLY_ITER + n_iter
            sk = TSNE(n_components=2, perplexity=perplexity, early_exaggeration=12.0, learning_rate="auto",
                      max_iter=total, n_iter_without_progress=total, min_grad_norm=0.0, init="pca",
                      method="barnes_hut", random_state=seed, n_jobs=n_jobs)
            start = time.perf_counter()
            sk.fit(x)
            sklearn_s = time.perf_counter() - start
        results[n] = {"opentsne_s": opentsne_s, "sklearn_s": sklearn_s, "ratio": sklearn_s / opentsne_s,
                      "opentsne_kl": float(emb.kl_divergence), "sklearn_kl": float(sk.kl_divergence_)}
    return results
