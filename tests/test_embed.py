"""2-D maps per checkpoint: PCA with consistent signs, warm-started t-SNE, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from explorer import ConfigError
from explorer.views.embed import clustered, embed

FAST = {"perplexity": 20.0, "n_iter": 150, "early_exaggeration_iter": 100}


@pytest.fixture(scope="module")
def drifting():
    """Four checkpoints of 300 clustered points, each a small random step from the last."""
    x, labels = clustered(300, 20, clusters=5, seed=1)
    rng = np.random.RandomState(0)
    xs = [x]
    for _ in range(3):
        xs.append(xs[-1] + 0.1 * rng.normal(size=x.shape).astype(np.float32))
    return xs, labels


def displacement(maps: list[np.ndarray]) -> list[float]:
    """Mean distance a point moves between consecutive maps, in units of the later map's spread
    (mean distance to its centre)."""
    out = []
    for a, b in zip(maps[:-1], maps[1:]):
        spread = np.linalg.norm(b - b.mean(0), axis=1).mean()
        out.append(float(np.linalg.norm(a - b, axis=1).mean() / spread))
    return out


def test_pca_map_is_the_top_two_components_up_to_sign():
    x, _ = clustered(150, 12, clusters=3, seed=2)
    (m,) = embed([x], "pca")
    want = PCA(2).fit_transform(x)
    assert m.shape == (150, 2) and m.dtype == np.float32
    np.testing.assert_allclose(np.abs(m), np.abs(want), rtol=1e-3, atol=1e-3)


def test_pca_signs_follow_the_previous_checkpoint():
    x, _ = clustered(150, 12, clusters=3, seed=2)
    flipped = x * np.array([-1.0] + [1.0] * 11, dtype=np.float32)  # mirror one input axis
    alone = [embed([v], "pca")[0] for v in (x, -x, flipped)]
    maps = embed([x, -x, flipped], "pca")
    assert (alone[1] * alone[0]).sum(0).min() < 0  # on its own, -x's map is a mirror image of x's
    for m in maps[1:]:
        assert ((m * maps[0]).sum(0) > 0).all()
    np.testing.assert_allclose(maps[1], maps[0], atol=1e-3)


def test_pca_accepts_tensors_and_a_single_feature():
    x = torch.randn(40, 1, dtype=torch.float64, requires_grad=True)
    (m,) = embed([x], "pca")
    assert m.shape == (40, 2)
    assert np.allclose(m[:, 1], 0.0)
    np.testing.assert_allclose(np.abs(m[:, 0]), np.abs(x.detach().numpy()[:, 0] - x.detach().numpy().mean()),
                               rtol=1e-4, atol=1e-5)


def test_tsne_warm_start_moves_points_little_and_far_less_than_fresh_maps(drifting):
    xs, _ = drifting
    warm = embed(xs, "tsne", **FAST)
    cold = embed(xs, "tsne", warm_start=False, **FAST)
    for m in warm + cold:
        assert m.shape == (300, 2) and m.dtype == np.float32
        np.testing.assert_allclose(m.mean(0), 0.0, atol=1e-5)
        assert np.sqrt((m ** 2).sum(1).mean()) == pytest.approx(1.0, rel=1e-5)
    w, c = displacement(warm), displacement(cold)
    assert max(w) < 0.06, w
    assert max(w) < min(c) / 2, (w, c)


def test_tsne_maps_keep_the_clusters_apart(drifting):
    xs, labels = drifting
    for m in (embed(xs, "tsne", **FAST)[-1], embed(xs[:1], "tsne", **FAST)[0]):
        knn = KNeighborsClassifier(5).fit(m[::2], labels[::2])
        assert knn.score(m[1::2], labels[1::2]) > 0.95


def test_tsne_is_deterministic_for_a_seed():
    x, _ = clustered(200, 10, clusters=4, seed=3)
    xs = [x, x * 1.1]
    kw = {"perplexity": 15.0, "n_iter": 60, "early_exaggeration_iter": 60}
    a, b = embed(xs, "tsne", seed=5, **kw), embed(xs, "tsne", seed=5, **kw)
    c = embed(xs, "tsne", seed=6, **kw)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.allclose(a[0], c[0], atol=1e-3)


@pytest.mark.parametrize("kwargs,message", [
    ({"method": "umap"}, "^method must be one of pca, tsne; got 'umap'"),
    ({"method": "tsne", "perplexity": 0}, "^perplexity must be greater than 0"),
    ({"method": "tsne", "perplexity": 10}, r"^perplexity .*at most N - 1 = 9\), got 10"),
    ({"method": "tsne", "perplexity": float("nan")}, "^perplexity must be a number"),
    ({"method": "tsne", "perplexity": 3, "n_iter": 0}, "^n_iter must be a whole number of at least 1"),
    ({"method": "tsne", "perplexity": 3, "early_exaggeration_iter": -1}, "^early_exaggeration_iter"),
    ({"method": "tsne", "perplexity": 3, "n_jobs": 0}, "^n_jobs"),
    ({"method": "tsne", "perplexity": 3, "warm_start": 1}, "^warm_start"),
    ({"seed": -1}, "^seed must be a whole number"),
])
def test_embed_rejects_bad_parameters_by_name(kwargs, message):
    x = np.random.RandomState(0).normal(size=(10, 4))
    with pytest.raises(ConfigError, match=message):
        embed([x, x], **kwargs)


@pytest.mark.parametrize("snapshots,message", [
    ([], "^snapshots must be a non-empty list"),
    ([np.zeros((10, 3)), np.zeros((9, 3))], r"^snapshots\[1\] has 9 points but snapshots\[0\] has 10"),
    ([np.zeros(10)], r"^snapshots\[0\] must be a 2-D array"),
    ([np.zeros((1, 3))], r"^snapshots\[0\] has 1 points; a map needs at least 2"),
    ([np.zeros((5, 0))], r"^snapshots\[0\] has no features"),
    ([np.zeros((5, 3)), np.full((5, 3), np.nan)], r"^snapshots\[1\] holds non-finite values"),
])
def test_embed_rejects_bad_snapshots(snapshots, message):
    with pytest.raises(ConfigError, match=message):
        embed(snapshots, "pca")


def test_checkpoints_may_differ_in_width_but_not_in_points():
    x, _ = clustered(60, 6, clusters=3)
    maps = embed([x, x[:, :4], np.concatenate([x, x], 1)], "pca")
    assert [m.shape for m in maps] == [(60, 2)] * 3
