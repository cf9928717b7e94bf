"""The per-batch reductions (keras.ops, run eagerly here) against NumPy on raw activations."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_inspect import reductions
from keras_inspect.quantities.moments import Moments
from keras_inspect.quantities.neurons import active_samples, finite_rows, unit_rows
from keras_inspect.quantities.probes import probe_features
from tests import models


def numpy(tree):
    return keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), tree)


@pytest.fixture(params=[(9, 5), (9, 4, 3), (9, 3, 4, 2), (9,)], ids=["dense", "seq", "map", "1d"])
def acts(request):
    rng = np.random.default_rng(0)
    values = rng.normal(2.0, 3.0, size=request.param).astype("float32")
    values[values > 6.0] = 0.0  # some exact zeros (inactive)
    if values.ndim > 1:
        values[3].flat[0] = np.nan  # two samples with a non-finite value
        values[7].flat[-1] = np.inf
    return values


def test_unit_statistics_match_numpy_over_finite_samples(acts):
    stats, means = numpy(reductions.unit_statistics(acts, row_means=True))
    np.testing.assert_array_equal(stats["finite"], finite_rows(acts))
    kept = acts[finite_rows(acts)]
    expected = Moments.of(unit_rows(kept))
    assert stats["count"] == expected.count
    np.testing.assert_allclose(stats["mean"], expected.mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["m2"], expected.m2, rtol=1e-4)
    np.testing.assert_array_equal(stats["low"], expected.low)
    np.testing.assert_array_equal(stats["high"], expected.high)
    active, samples = active_samples(kept)
    np.testing.assert_array_equal(stats["active"], active)
    assert stats["samples"] == samples
    per_sample = acts.reshape(len(acts), -1, 1 if acts.ndim == 1 else acts.shape[-1]).mean(1)
    np.testing.assert_allclose(means[finite_rows(acts)], per_sample[finite_rows(acts)], rtol=1e-5)
    assert (means[~finite_rows(acts)] == 0).all()


def test_a_large_offset_keeps_its_small_spread():
    # values near 1000 that vary by 1e-2 within and across samples: float32 keeps ~1e-4 of
    # absolute resolution there, which shifted sums preserve and raw sums of squares do not
    rng = np.random.default_rng(5)
    acts = (1000.0 + rng.normal(0.0, 1e-2, size=(16, 30, 3))).astype("float32")
    stats, _ = numpy(reductions.unit_statistics(acts))
    expected = Moments.of(unit_rows(acts.astype(np.float64)))
    np.testing.assert_allclose(stats["m2"], expected.m2, rtol=2e-2)


def test_comoments_match_numpy_on_unit_and_position_subsets():
    rng = np.random.default_rng(1)
    source = rng.normal(size=(6, 5, 7)).astype("float32") + 10.0
    source[2, 1, 3] = np.nan  # inside the kept units and positions: sample 2 is left out
    source[4, 0, 0] = np.inf  # outside them: sample 4 stays
    finite = np.ones(6, bool)
    finite[5] = False  # the layer's output of sample 5 was not finite
    units, at = [0, 2, 3, 6], [1, 4]
    stats = numpy(reductions.comoments(source, finite, units, at))
    kept = source[[0, 1, 3, 4]][:, at][:, :, units].reshape(-1, len(units))
    expected = Moments.of(kept, cross=True)
    assert stats["count"] == expected.count == 4 * 2
    np.testing.assert_allclose(stats["mean"], expected.mean, rtol=1e-6)
    np.testing.assert_allclose(stats["m2"], expected.m2, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(stats["low"], expected.low)
    full = numpy(reductions.comoments(source, finite))
    assert full["m2"].shape == (7, 7) and full["count"] == 3 * 5


def test_moments_over_a_position_subset_and_extremes_over_all():
    rng = np.random.default_rng(6)
    acts = rng.normal(size=(5, 12, 3)).astype("float32")
    acts[1, 7, 2] = np.nan  # outside the subset: the sample is still left out
    at = [0, 3, 4, 9]
    stats, means = numpy(reductions.unit_statistics(acts, at, row_means=True))
    finite = finite_rows(acts)
    assert stats["finite"].tolist() == finite.tolist()
    kept = acts[finite]
    expected = Moments.of(kept[:, at].reshape(-1, 3))
    assert stats["count"] == expected.count == 4 * 4
    np.testing.assert_allclose(stats["m2"], expected.m2, rtol=1e-4)
    np.testing.assert_array_equal(stats["high"], kept.reshape(-1, 3).max(0))
    np.testing.assert_allclose(means[finite], kept.mean(1), rtol=1e-5)


def test_a_batch_without_a_finite_sample_counts_nothing():
    acts = np.full((3, 4), np.nan, "float32")
    stats, _ = numpy(reductions.unit_statistics(acts))
    assert stats["count"] == 0 and stats["samples"] == 0
    assert np.isfinite(stats["mean"]).all() and np.isfinite(stats["m2"]).all()
    assert (stats["active"] == 0).all()


@pytest.mark.parametrize("shape", [(4, 3), (4, 5, 2), (4, 40, 30), (4, 2, 3, 300), (4,)])
def test_row_features_follow_the_probes_rule(shape):
    acts = np.random.default_rng(2).normal(size=shape).astype("float32")
    got = numpy(reductions.row_features(acts, 1024))
    np.testing.assert_allclose(
        got, probe_features(acts if acts.ndim > 1 else acts[:, None]), rtol=1e-5, atol=1e-6
    )


def test_abs_sums_and_row_objective():
    grad = np.random.default_rng(3).normal(size=(5, 4, 3))
    np.testing.assert_allclose(
        numpy(reductions.abs_sums(grad)), np.abs(grad).sum(axis=(0, 1)), rtol=1e-6
    )
    np.testing.assert_allclose(
        numpy(reductions.abs_sums(grad[:, 0, 0])), [np.abs(grad[:, 0, 0]).sum()]
    )
    out = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    np.testing.assert_allclose(numpy(reductions.row_objective(out)), [0.7, 0.5])
    np.testing.assert_allclose(numpy(reductions.row_objective(out[:, :1])), [0.1, 0.5])


def test_half_precision_is_reduced_in_float32_and_float64_stays():
    acts = np.random.default_rng(4).normal(size=(8, 3))
    half, _ = numpy(reductions.unit_statistics(acts.astype("float16")))
    assert half["mean"].dtype == np.float32
    np.testing.assert_allclose(half["mean"], acts.mean(0), atol=2e-3)
    if not models.HAS_FLOAT64:
        return
    # a float64 model's tensors (a NumPy float64 array would be converted to floatx first)
    tensor = keras.ops.convert_to_tensor(acts, dtype="float64")
    double, _ = numpy(reductions.unit_statistics(tensor))
    assert double["mean"].dtype == np.float64
    np.testing.assert_allclose(double["m2"], Moments.of(acts).m2, rtol=1e-12)
