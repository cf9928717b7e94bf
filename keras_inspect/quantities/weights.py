"""Kernels as Hinton diagrams: one square per weight, its area the magnitude, its colour the sign.

The interactive CNN visualisation (Iuzzolino et al.) draws each layer's weights this way. A
kernel of a few hundred inputs and outputs has too many weights to see one by one, so
:func:`hinton_matrix` first reduces it to an (inputs x outputs) matrix and then to at most
``max_size`` x ``max_size`` blocks. Pure functions of arrays; no Keras.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_SIZE", "block_means", "hinton_matrix"]

DEFAULT_SIZE = 32


def block_means(matrix: np.ndarray, max_rows: int, max_cols: int) -> np.ndarray:
    """Means of near-equal contiguous blocks, so the result has at most the given shape.

    Rows are cut into ``min(rows, max_rows)`` groups of consecutive rows whose sizes differ by
    at most one (likewise columns); each output cell is the mean of its block.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"need a non-empty 2-D matrix, got shape {matrix.shape}")
    out = matrix
    for axis, limit in ((0, max_rows), (1, max_cols)):
        n = out.shape[axis]
        groups = min(n, limit)
        starts = np.linspace(0, n, groups + 1).round().astype(int)[:-1]
        sizes = np.diff(np.append(starts, n))
        sums = np.add.reduceat(out, starts, axis=axis)
        out = sums / (sizes[:, None] if axis == 0 else sizes[None, :])
    return out


def hinton_matrix(kernel: np.ndarray, max_size: int = DEFAULT_SIZE) -> np.ndarray:
    """A kernel as an (inputs x outputs) matrix of at most ``max_size`` x ``max_size`` blocks.

    A Dense kernel ``(inputs, units)`` is used as it is. A convolution kernel ``(*window,
    in_channels, filters)`` is summed over its window: cell (i, j) is the net weight from input
    channel i to filter j (the paper draws each window; summing is our choice, to show every
    filter's dependence on every channel in one diagram). Then :func:`block_means` (a block's
    mean keeps the sign of its net effect; large weights of opposite sign in one block cancel,
    which is the price of a readable size).

    Returns:
        float32 (rows, cols) with rows, cols <= max_size.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim < 2:
        raise ValueError(f"need a kernel of at least 2 dimensions, got shape {kernel.shape}")
    if max_size < 1:
        raise ValueError(f"max_size must be positive, got {max_size}")
    matrix = kernel.reshape(-1, *kernel.shape[-2:]).sum(axis=0)
    return block_means(matrix, max_size, max_size).astype(np.float32)
