"""Moments merged batch by batch against the moments of the whole, computed directly."""

from __future__ import annotations

import numpy as np
import pytest

from keras_inspect.quantities.moments import Moments, merge


def merged(rows: np.ndarray, cuts: list[int], cross: bool = False) -> Moments:
    total = Moments.empty(rows.shape[1], cross)
    for part in np.split(rows, cuts):
        total = merge(total, Moments.of(part, cross))
    return total


@pytest.mark.parametrize("cross", [False, True])
def test_merging_batches_equals_the_whole(cross):
    rng = np.random.default_rng(0)
    rows = rng.normal(3.0, 2.0, size=(101, 4)) @ rng.normal(size=(4, 4))
    whole = Moments.of(rows, cross)
    parts = merged(rows, [1, 2, 40, 40, 77], cross)  # uneven, and one empty part
    assert parts.count == whole.count == 101
    np.testing.assert_allclose(parts.mean, rows.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(parts.m2, whole.m2, rtol=1e-10)
    np.testing.assert_array_equal(parts.low, rows.min(axis=0))
    np.testing.assert_array_equal(parts.high, rows.max(axis=0))
    np.testing.assert_allclose(parts.std, rows.std(axis=0), rtol=1e-10)


def test_large_offsets_do_not_cancel():
    # Sums of squares minus squared sums lose every digit here; Chan's merge loses none.
    rng = np.random.default_rng(1)
    rows = 1e8 + rng.normal(0.0, 1e-3, size=(4000, 2))
    parts = merged(rows, list(range(100, 4000, 100)))
    np.testing.assert_allclose(parts.std, rows.std(axis=0), rtol=1e-6)
    naive = (rows**2).mean(axis=0) - rows.mean(axis=0) ** 2  # what the merge avoids
    assert np.all(np.abs(naive - rows.var(axis=0)) > 100 * rows.var(axis=0))


def test_constant_units_have_exactly_zero_std():
    rows = np.array([[0.1, 1.0], [0.1, 2.0], [0.1, 4.0]])
    parts = merged(rows, [1])
    assert parts.std[0] == 0.0 and parts.constant.tolist() == [True, False]


def test_empty_is_neutral_and_has_no_variance():
    empty = Moments.empty(3)
    some = Moments.of(np.ones((2, 3)))
    assert merge(empty, some) is some and merge(some, empty) is some
    assert np.isnan(empty.variance).all()
    assert Moments.of(np.zeros((0, 3))).count == 0
    with pytest.raises(ValueError, match="must be 2-D"):
        Moments.of(np.zeros(3))
