from __future__ import annotations

import math

import numpy as np
import pytest

from keras_inspect.quantities.moments import Moments
from keras_inspect.quantities.neurons import (
    active_samples,
    dead_fraction,
    finite_rows,
    layer_std,
    neuron_mean,
    neuron_std,
    unit_rows,
)


@pytest.fixture
def conv_acts() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(6, 4, 5, 3)).astype(np.float32)


def test_unit_rows_shapes_and_dtype(conv_acts):
    rows = unit_rows(conv_acts)
    assert rows.shape == (6 * 4 * 5, 3)
    assert rows.dtype == np.float32
    # Row order is sample-major, so the first 20 rows are sample 0's positions.
    np.testing.assert_array_equal(rows[:20], conv_acts[0].reshape(20, 3))
    assert unit_rows(np.arange(4)).shape == (4, 1)
    assert unit_rows(np.arange(4)).dtype == np.float64
    assert unit_rows(np.ones((3, 7, 2))).shape == (21, 2)


def test_unit_rows_subset_is_fixed_sorted_and_unique(conv_acts):
    full = unit_rows(conv_acts)
    sub = unit_rows(conv_acts, max_rows=17, seed=3)
    assert sub.shape == (17, 3)
    np.testing.assert_array_equal(sub, unit_rows(conv_acts, max_rows=17, seed=3))
    index = {tuple(row): i for i, row in enumerate(full)}
    picked = [index[tuple(row)] for row in sub]
    assert picked == sorted(set(picked))
    assert unit_rows(conv_acts, max_rows=10_000).shape == full.shape


def test_unit_rows_rejects_bad_input():
    with pytest.raises(ValueError, match="0-d"):
        unit_rows(np.float32(1.0))
    with pytest.raises(ValueError, match="at least one sample"):
        unit_rows(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="at least one unit"):
        unit_rows(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="max_rows must be None or >= 1; got 0"):
        unit_rows(np.zeros((2, 3)), max_rows=0)


def test_mean_and_std_match_loops_over_units(conv_acts):
    rows = unit_rows(conv_acts)
    moments = Moments.of(rows)
    for j in range(rows.shape[1]):
        values = [float(v) for v in rows[:, j]]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        assert neuron_mean(moments)[j] == pytest.approx(mean, rel=1e-12)
        assert neuron_std(moments)[j] == pytest.approx(std, rel=1e-12)
    assert neuron_mean(moments).dtype == np.float64
    assert layer_std(moments) == pytest.approx(float(np.mean(neuron_std(moments))))


def test_std_of_constant_unit_is_exactly_zero():
    moments = Moments.of(np.array([[0.1, 0.0], [0.1, 1.0], [0.1, 2.0]]))
    assert neuron_std(moments)[0] == 0.0
    assert layer_std(moments) == pytest.approx(math.sqrt(2 / 3) / 2)


@pytest.mark.parametrize("func", [neuron_mean, neuron_std, layer_std])
def test_statistics_need_an_observation(func):
    with pytest.raises(ValueError, match="no observation"):
        func(Moments.empty(3))


def dead(acts, tol=1e-6, max_active_share=0.01):
    return dead_fraction(*active_samples(acts, tol), max_active_share=max_active_share)


def test_dead_fraction_uses_max_over_positions():
    acts = np.zeros((100, 2, 2, 4))
    acts[:, 1, 1, 0] = -1.0  # fires at a single position on every sample
    acts[:1, 0, 0, 1] = 5.0  # fires on 1 % of samples: dead at the default threshold
    acts[:2, 0, 0, 2] = 5.0  # fires on 2 % of samples
    acts[:, :, :, 3] = 1e-7  # below tol everywhere
    assert dead(acts) == pytest.approx(0.5)
    assert dead(acts, max_active_share=0.0) == pytest.approx(0.25)
    assert dead(acts, tol=1e-8, max_active_share=0.0) == pytest.approx(0.0)
    assert dead(np.array([0.0, 0.0, 1.0])) == 0.0
    assert dead(np.full((4, 2), np.nan)) == 1.0
    active, samples = active_samples(acts)
    assert samples == 100 and active.tolist() == [100, 1, 2, 0]


def test_dead_fraction_rejects_bad_input():
    with pytest.raises(ValueError, match="tol must be >= 0; got -1"):
        active_samples(np.ones((2, 2)), tol=-1)
    with pytest.raises(ValueError, match=r"max_active_share must be in \[0, 1\); got 1"):
        dead_fraction(np.ones(2), 2, max_active_share=1)
    with pytest.raises(ValueError, match="at least one sample; got 0"):
        dead_fraction(np.ones(2), 0)
    with pytest.raises(ValueError, match="0-d"):
        active_samples(np.float64(0))


def test_finite_rows_flags_samples():
    acts = np.ones((4, 2, 3))
    acts[1, 0, 2] = np.nan
    acts[3, 1, 0] = -np.inf
    np.testing.assert_array_equal(finite_rows(acts), [True, False, True, False])
    np.testing.assert_array_equal(finite_rows(np.array([1.0, np.inf])), [True, False])
    assert finite_rows(np.zeros((0, 3))).shape == (0,)
    with pytest.raises(ValueError, match="0-d"):
        finite_rows(np.float64(0))
