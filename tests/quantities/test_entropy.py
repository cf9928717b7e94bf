"""CNNSlicer's entropies against SciPy, scikit-learn and brute force, on data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from keras_inspect.quantities.entropy import (
    INTRA_BINS,
    channel_capacity,
    conditional_entropies,
    confusion_matrix,
    histogram_entropy,
    inter_sample_entropy,
    intra_sample_entropy,
)


def test_histogram_entropy_matches_scipy():
    counts = np.random.default_rng(0).integers(0, 20, size=(6, 32))
    expected = [scipy_entropy(row, base=2) for row in counts]
    np.testing.assert_allclose(histogram_entropy(counts), expected, rtol=1e-12)
    assert histogram_entropy(np.zeros(5)) == 0.0


def test_intra_sample_entropy_is_the_histogram_entropy_of_each_normalised_map():
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(4, 6, 6, 3))
    maps[2, ..., 1] = 7.0  # a constant (dead) map
    result = intra_sample_entropy(maps)
    assert result.shape == (4, 3)
    for n in range(4):
        for c in range(3):
            values = maps[n, ..., c].ravel()
            span = values.max() - values.min()
            if span == 0:
                assert result[n, c] == 0.0
                continue
            scaled = 2 * (values - values.min()) / span - 1  # to [-1, 1], as in the paper
            counts, _ = np.histogram(scaled, bins=INTRA_BINS, range=(-1, 1))
            assert result[n, c] == pytest.approx(scipy_entropy(counts, base=2), rel=1e-12)
    uniform = np.linspace(0, 1, 32 * 10).reshape(1, -1, 1)
    assert intra_sample_entropy(uniform)[0, 0] == pytest.approx(5.0)  # log2(32) bits


def test_inter_sample_entropy_grows_with_distinct_samples():
    rng = np.random.default_rng(2)
    sizes = [50, 200, 800]
    values = [inter_sample_entropy(rng.normal(size=(n, 10))) for n in sizes]
    assert values[0] < values[1] < values[2], dict(zip(sizes, values, strict=True))
    distinct = inter_sample_entropy(rng.normal(size=(400, 10)))
    points = rng.normal(size=(40, 10))
    repeated = np.repeat(points, 10, axis=0) + 1e-4 * rng.normal(size=(400, 10))
    assert inter_sample_entropy(repeated) < distinct - 1.0, (
        inter_sample_entropy(repeated),
        distinct,
    )


def test_inter_sample_entropy_refuses_too_few_samples():
    with pytest.raises(ValueError, match="needs at least 16 samples, got 10"):
        inter_sample_entropy(np.zeros((10, 3)), k=15)
    with pytest.raises(ValueError, match="at least 2"):
        inter_sample_entropy(np.zeros((10, 3)), k=1)


def test_inter_sample_entropy_of_exact_duplicates_is_finite():
    x = np.repeat(np.eye(5), 8, axis=0)  # 5 points, 8 copies each
    value = inter_sample_entropy(x, k=10)
    assert np.isfinite(value) and value > 0


def test_confusion_matrix_matches_scikit_learn():
    rng = np.random.default_rng(3)
    labels, predicted = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    np.testing.assert_array_equal(
        confusion_matrix(labels, predicted, 4),
        sk_confusion_matrix(labels, predicted, labels=range(4)),
    )
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        confusion_matrix([0, 5], [0, 1], 4)


def test_conditional_entropies_match_brute_force_and_leave_gaps():
    confusion = np.array([[5, 1, 0], [2, 6, 0], [0, 3, 0]])  # class 2 is never predicted
    given_pred, given_label = conditional_entropies(confusion)

    def brute(column):
        total = sum(column)
        return -sum((c / total) * np.log2(c / total) for c in column if c)

    assert given_pred[0] == pytest.approx(brute([5, 2, 0]))
    assert given_pred[1] == pytest.approx(brute([1, 6, 3]))
    assert np.isnan(given_pred[2])  # undefined: missing, not infinity
    assert given_label[2] == 0.0  # all of class 2 predicted as 1: no uncertainty
    assert given_label[0] == pytest.approx(brute([5, 1, 0]))


def test_a_channel_paired_with_itself_carries_more_than_unrelated_channels():
    rng = np.random.default_rng(4)
    layer = rng.normal(size=(60, 5, 5, 4))
    capacity = channel_capacity(layer, layer)
    assert capacity.shape == (4, 4)
    off_diagonal = capacity[~np.eye(4, dtype=bool)]
    assert capacity.diagonal().min() > 2 * off_diagonal.max(), capacity.round(2)
    # The diagonal is the channel's own distance entropy H(X).
    other = rng.normal(size=(60, 3, 3, 2))
    # A second layer whose channel 0 is the top-left 3 x 3 crop of the first layer's channel 0.
    related = np.concatenate([layer[:, :3, :3, :1], other], axis=-1)
    cross = channel_capacity(layer, related)
    assert cross.shape == (4, 3)
    assert cross[0, 0] > 2 * np.delete(cross, 0, axis=1).max(), cross.round(2)
