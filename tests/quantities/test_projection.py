"""Projections: classes that are apart stay apart; warm starts keep consecutive layouts aligned."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.spatial import procrustes
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from keras_inspect.quantities import projection


def blobs(rows_per_class=80, classes=3, dims=20, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, size=(classes, dims))
    labels = np.repeat(np.arange(classes), rows_per_class)
    return centres[labels] + rng.normal(size=(len(labels), dims)), labels


@pytest.mark.parametrize("method", [projection.tsne, projection.pca])
def test_well_separated_classes_stay_separated(method):
    x, labels = blobs()
    layout = method(x)
    assert layout.shape == (len(x), 2) and layout.dtype == np.float32
    # Silhouette (scikit-learn) of the 2-D layout by the true classes: near 1 when apart.
    assert silhouette_score(layout, labels) > 0.6


def test_tsne_from_the_previous_layout_moves_less_than_a_fresh_start():
    x, _ = blobs(rows_per_class=60, classes=4, seed=1)
    rng = np.random.default_rng(2)
    shifts = {"warm": [], "fresh": []}
    layout = projection.tsne(x, seed=0)
    for checkpoint in range(1, 4):
        x = x + rng.normal(0, 0.3, size=x.shape)  # the representation drifts a little
        warm = projection.tsne(x, previous=layout, seed=checkpoint)
        fresh = projection.tsne(x, seed=checkpoint)
        shifts["warm"].append(projection.layout_shift(layout, warm))
        shifts["fresh"].append(projection.layout_shift(layout, fresh))
        layout = warm
    assert np.mean(shifts["warm"]) < 0.5 * np.mean(shifts["fresh"]), shifts


def test_pca_matches_scikit_learn_up_to_the_alignment():
    x, _ = blobs(seed=3)
    ours = projection.pca(x)
    standardised = (x - x.mean(0)) / x.std(0)
    reference = PCA(n_components=2).fit_transform(standardised)
    # Same components up to sign.
    np.testing.assert_allclose(np.abs(ours), np.abs(reference), rtol=1e-4, atol=1e-4)
    flipped = ours * np.array([-1.0, 1.0])
    aligned = projection.pca(x, previous=flipped)
    np.testing.assert_allclose(aligned, flipped, atol=1e-3)
    assert projection.layout_shift(flipped, aligned) < 1e-8


def test_layout_shift_against_scipy_procrustes():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(50, 2))
    # Translation and scale do not count.
    assert projection.layout_shift(a, 3 * a + 7) == pytest.approx(0, abs=1e-12)
    # A rotation does (a reader sees a different picture); Procrustes removes it.
    turn = np.array([[0.0, -1.0], [1.0, 0.0]])
    assert projection.layout_shift(a, a @ turn) > 0.5
    assert procrustes(a, a @ turn)[2] == pytest.approx(0, abs=1e-12)
    b = a + rng.normal(0, 0.3, size=a.shape)
    assert procrustes(a, b)[2] <= projection.layout_shift(a, b) + 1e-12
    with pytest.raises(ValueError, match="different shapes"):
        projection.layout_shift(a, a[:10])


def test_a_previous_layout_of_other_rows_is_ignored_and_tiny_inputs_refused():
    x, _ = blobs(rows_per_class=10, classes=2)
    fresh = projection.tsne(x, seed=0)
    other = projection.tsne(x, previous=np.zeros((7, 2)), seed=0)
    np.testing.assert_allclose(fresh, other)
    assert projection.perplexity_for(10) == 3.0 and projection.perplexity_for(5000) == 30.0
    with pytest.raises(ValueError, match="at least 5 rows"):
        projection.pca(x[:3])


@pytest.mark.parametrize("project", [projection.pca, projection.tsne])
def test_rows_that_are_all_the_same_collapse_to_one_point_without_warnings(project):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layout = project(np.full((40, 6), 3.0))
    np.testing.assert_array_equal(layout, np.zeros((40, 2), dtype=np.float32))
