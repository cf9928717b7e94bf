"""Hinton matrices: block means against a brute-force loop; conv kernels summed over the window."""

from __future__ import annotations

import numpy as np
import pytest

from keras_inspect.quantities import weights


def brute_block_means(matrix, max_rows, max_cols):
    def groups(n, limit):
        k = min(n, limit)
        edges = [round(i * n / k) for i in range(k + 1)]
        return [range(edges[i], edges[i + 1]) for i in range(k)]

    rows, cols = groups(matrix.shape[0], max_rows), groups(matrix.shape[1], max_cols)
    out = np.zeros((len(rows), len(cols)))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            out[i, j] = np.mean([matrix[a, b] for a in r for b in c])
    return out


@pytest.mark.parametrize(
    "shape, limit", [((70, 45), 32), ((10, 3), 32), ((33, 64), 8), ((5, 5), 1)]
)
def test_block_means_match_a_brute_force_loop(shape, limit):
    matrix = np.random.default_rng(0).normal(size=shape)
    ours = weights.block_means(matrix, limit, limit)
    np.testing.assert_allclose(ours, brute_block_means(matrix, limit, limit), rtol=1e-12)
    assert ours.shape == (min(shape[0], limit), min(shape[1], limit))
    # Equal-size blocks keep the overall mean.
    if shape[0] % ours.shape[0] == 0 and shape[1] % ours.shape[1] == 0:
        assert ours.mean() == pytest.approx(matrix.mean())


def test_dense_kernels_are_kept_and_conv_kernels_summed_over_the_window():
    dense = np.arange(12, dtype=np.float32).reshape(4, 3) - 6
    np.testing.assert_array_equal(weights.hinton_matrix(dense), dense)
    conv = np.random.default_rng(1).normal(size=(3, 3, 2, 5))
    expected = conv.sum(axis=(0, 1))  # (in channels, filters)
    np.testing.assert_allclose(weights.hinton_matrix(conv), expected, rtol=1e-6)
    conv1d = np.random.default_rng(2).normal(size=(7, 4, 6))
    np.testing.assert_allclose(weights.hinton_matrix(conv1d), conv1d.sum(axis=0), rtol=1e-6)
    big = np.random.default_rng(3).normal(size=(300, 100))
    assert weights.hinton_matrix(big).shape == (32, 32)
    assert weights.hinton_matrix(big).dtype == np.float32


def test_bad_kernels_are_refused():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        weights.hinton_matrix(np.ones(3))
    with pytest.raises(ValueError, match="non-empty 2-D"):
        weights.block_means(np.ones((0, 3)), 2, 2)
