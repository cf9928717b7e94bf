from __future__ import annotations

import numpy as np
import pytest

from keras_inspect.quantities.correlation import correlation_matrix as from_moments
from keras_inspect.quantities.correlation import correlation_mean_abs
from keras_inspect.quantities.moments import Moments, merge


def correlation_matrix(rows):
    return from_moments(Moments.of(rows, cross=True))


def neuron_std(rows):
    return Moments.of(rows).std


def test_matches_numpy_corrcoef():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    rows = (rng.normal(size=(500, 6)) @ mixing).astype(np.float32)
    corr = correlation_matrix(rows)
    assert corr.dtype == np.float64
    np.testing.assert_allclose(corr, np.corrcoef(rows.astype(np.float64), rowvar=False), atol=1e-12)
    np.testing.assert_array_equal(corr, corr.T)


def test_moments_merged_from_batches_give_the_same_matrix():
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5)) + 50.0
    total = Moments.empty(5, cross=True)
    for part in np.array_split(rows, 7):
        total = merge(total, Moments.of(part, cross=True))
    np.testing.assert_allclose(from_moments(total), np.corrcoef(rows, rowvar=False), atol=1e-12)


def test_constant_unit_hand_checked():
    # Unit 0 and 1 are perfectly anti-correlated, unit 2 is constant, unit 3 is 0.1 (whose
    # float64 mean is not exactly 0.1, which must not make it look non-constant).
    rows = np.array([[0.0, 2.0, 7.0, 0.1], [1.0, 1.0, 7.0, 0.1], [2.0, 0.0, 7.0, 0.1]])
    expected = np.array(
        [[1.0, -1.0, 0.0, 0.0], [-1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    )
    corr = correlation_matrix(rows)
    np.testing.assert_allclose(corr, expected, atol=1e-15)
    assert not np.isnan(corr).any()
    assert correlation_mean_abs(corr, neuron_std(rows)) == pytest.approx(1.0)


def test_single_row_is_identity():
    np.testing.assert_array_equal(correlation_matrix(np.array([[1.0, 2.0, 3.0]])), np.eye(3))


def test_correlation_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="need cross-moments"):
        from_moments(Moments.of(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="no observation"):
        correlation_matrix(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="not finite"):
        correlation_matrix(np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_mean_abs_matches_pair_loop():
    rng = np.random.default_rng(2)
    rows = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    rows[:, 2] = 3.0
    corr = correlation_matrix(rows)
    std = neuron_std(rows)
    live = [i for i in range(5) if std[i] > 0]
    pairs = [abs(corr[i, j]) for i in live for j in live if i != j]
    assert correlation_mean_abs(corr, std) == pytest.approx(sum(pairs) / len(pairs))


def test_mean_abs_is_nan_with_fewer_than_two_live_units():
    corr = np.eye(3)
    assert np.isnan(correlation_mean_abs(corr, np.array([1.0, 0.0, 0.0])))
    assert np.isnan(correlation_mean_abs(np.eye(1), np.array([1.0])))
    assert np.isnan(correlation_mean_abs(corr, np.array([np.nan, 1.0, 0.0])))


def test_mean_abs_rejects_bad_input():
    with pytest.raises(ValueError, match=r"corr must be a square 2-D matrix; got shape \(2, 3\)"):
        correlation_mean_abs(np.zeros((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match=r"unit_std must have shape \(3,\)"):
        correlation_mean_abs(np.eye(3), np.ones(2))
