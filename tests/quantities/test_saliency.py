"""Saliency reductions against brute-force loops; uninformative gradients are refused."""

from __future__ import annotations

import numpy as np
import pytest

from keras_inspect.quantities.saliency import (
    UninformativeGradient,
    feature_saliency,
    filter_importance,
    important_units,
    saliency_map,
)


def column_sums(grad):
    """What the capture pass sums: |grad| over samples and every axis but the last."""
    return np.abs(grad).reshape(-1, grad.shape[-1]).sum(axis=0)


def test_feature_saliency_is_the_mean_over_samples_of_the_mean_abs_over_elements():
    grad = np.random.default_rng(0).normal(size=(7, 3, 5))  # samples, positions, width
    sums = column_sums(grad)
    expected = np.mean([np.mean([abs(v) for v in grad[i].ravel()]) for i in range(7)])
    assert feature_saliency(sums, samples=7, elements=3) == pytest.approx(expected)
    cols = [1, 4]
    brute = np.mean([np.mean(np.abs(grad[i][:, cols])) for i in range(7)])
    assert feature_saliency(sums, samples=7, elements=3, columns=cols) == pytest.approx(brute)


def test_filter_importance_sums_positions_averages_samples_and_scales():
    delta = np.random.default_rng(1).normal(size=(4, 6, 3))  # samples, positions, filters
    sums = [
        np.mean([sum(abs(delta[s, t, f]) for t in range(6)) for s in range(4)]) for f in range(3)
    ]
    lo, hi = min(sums), max(sums)
    expected = [(v - lo) / (hi - lo) for v in sums]
    value = filter_importance(column_sums(delta), samples=4)
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    assert value.max() == 1.0 and value.min() == 0.0
    dense = np.abs(np.random.default_rng(2).normal(size=(5, 4)))  # no positions
    np.testing.assert_allclose(
        filter_importance(column_sums(dense), samples=5),
        (dense.mean(0) - dense.mean(0).min()) / np.ptp(dense.mean(0)),
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "grad",
    [np.array([[1.0, np.nan], [0.5, 0.2]]), np.array([[np.inf, 1.0]])],
)
def test_nonfinite_gradients_are_not_values(grad):
    with pytest.raises(UninformativeGradient, match="not finite"):
        feature_saliency(column_sums(grad), samples=len(grad))
    with pytest.raises(UninformativeGradient, match="not finite"):
        filter_importance(column_sums(grad), samples=len(grad))
    with pytest.raises(UninformativeGradient, match="not finite"):
        saliency_map(grad)


def test_a_zero_gradient_is_an_honest_zero():
    # a saturated or dead network: the output does not move with anything
    grad = np.zeros((3, 4))
    assert feature_saliency(column_sums(grad), samples=3) == 0.0
    np.testing.assert_array_equal(filter_importance(column_sums(grad), samples=3), np.zeros(4))
    np.testing.assert_array_equal(saliency_map(grad), np.zeros((3, 4)))


def test_equal_importance_has_no_unit_standing_out():
    scaled = filter_importance(column_sums(np.ones((2, 3, 4))), samples=2)
    np.testing.assert_array_equal(scaled, np.zeros(4, dtype=np.float32))


def test_sums_need_samples():
    with pytest.raises(ValueError, match="at least one sample"):
        feature_saliency(np.ones(3), samples=0)
    with pytest.raises(ValueError, match="at least one sample"):
        filter_importance(np.array([1.0, 2.0]), samples=0)


def test_saliency_map_is_pointwise_abs():
    grad = np.array([[-1.0, 2.0], [0.5, -0.25]])
    np.testing.assert_array_equal(saliency_map(grad), np.abs(grad).astype(np.float32))


@pytest.mark.parametrize("percentile", [0, 25, 50, 90, 100])
def test_important_units_keep_those_at_or_above_the_percentile(percentile):
    importance = np.random.default_rng(5).random(37)
    kept = important_units(importance, percentile)
    cut = np.percentile(importance, percentile)
    assert set(kept) == {u for u in range(37) if importance[u] >= cut}
    assert list(importance[kept]) == sorted(importance[kept], reverse=True)


def test_important_units_match_the_dashboard_slider_example():
    # the same vector as the dashboard's rankedUnits test (tests/js)
    values = np.array([0.2, 1.0, 0.0, 0.6, 0.4])
    assert important_units(values, 0).tolist() == [1, 3, 4, 0, 2]
    assert important_units(values, 50).tolist() == [1, 3, 4]
    assert important_units(values, 95).tolist() == [1]
    assert important_units(np.array([np.nan, 0.5]), 0).tolist() == [1]
    with pytest.raises(ValueError, match="percentile"):
        important_units(values, 101)
