"""Correlation among the units of one layer (Guo et al. 2018, pre-activation values).

A layer whose units are strongly correlated carries redundant information; the average absolute
off-diagonal correlation summarises that redundancy in one number per layer and checkpoint.
"""

from __future__ import annotations

import numpy as np

__all__ = ["correlation_matrix", "correlation_mean_abs"]


def correlation_matrix(rows: np.ndarray) -> np.ndarray:
    """Pearson correlation between every pair of units.

    The rows are standardised once and multiplied in a single matrix product, so the cost is one
    ``(units, rows) @ (rows, units)`` product. A constant unit (all values identical) has no
    defined correlation: its off-diagonal entries are set to 0 and its diagonal entry to 1, so the
    result never contains NaN. Entries are clipped to ``[-1, 1]`` against rounding.

    Args:
        rows: A finite ``(rows, units)`` matrix, e.g. from
            :func:`keras_inspect.quantities.neurons.unit_rows`.

    Returns:
        A symmetric float64 array of shape ``(units, units)`` with a unit diagonal.

    Raises:
        ValueError: If ``rows`` is not 2-D, has no row, or contains NaN or infinity.

    Example:
        >>> correlation_matrix(np.array([[0.0, 1.0, 5.0], [1.0, 0.0, 5.0]]))
        array([[ 1., -1.,  0.],
               [-1.,  1.,  0.],
               [ 0.,  0.,  1.]])
    """
    rows = np.asarray(rows)
    if rows.ndim != 2:
        raise ValueError(f"rows must be 2-D (rows, units); got shape {rows.shape}")
    if rows.shape[0] == 0:
        raise ValueError(f"rows must hold at least one row; got shape {rows.shape}")
    x = rows.astype(np.float64, copy=True)
    if not np.isfinite(x).all():
        raise ValueError("rows must be finite; got NaN or infinity (drop them with finite_rows)")
    n = x.shape[0]
    x -= x.mean(axis=0)
    std = np.sqrt(np.einsum("ij,ij->j", x, x) / n)
    # Exact constancy is tested on the input, because a rounding error in the mean would otherwise
    # turn a constant unit into a tiny non-zero column that correlates +-1 with its peers.
    varying = (rows.min(axis=0) != rows.max(axis=0)) & (std > 0)
    inv_std = np.zeros_like(std)
    inv_std[varying] = 1.0 / std[varying]
    x *= inv_std
    # Centred and scaled values are O(1), so a float32 product loses nothing that the float16
    # storage would keep, and halves the cost of the one expensive step.
    x32 = x.astype(np.float32)
    corr = (x32.T @ x32).astype(np.float64) / n
    np.clip(corr, -1.0, 1.0, out=corr)
    np.fill_diagonal(corr, 1.0)
    return corr


def correlation_mean_abs(corr: np.ndarray, unit_std: np.ndarray) -> float:
    """Mean absolute off-diagonal correlation among the non-constant units.

    Constant units (``unit_std`` equal to 0, or NaN) are left out entirely, so that a layer with
    many dead units is not reported as decorrelated just because their zeros count as 0.

    Args:
        corr: A square ``(units, units)`` matrix from :func:`correlation_matrix`.
        unit_std: Per-unit standard deviation ``(units,)``, e.g. from
            :func:`keras_inspect.quantities.neurons.neuron_std`.

    Returns:
        The mean of ``|corr[i, j]|`` over ordered pairs ``i != j`` of non-constant units, or
        ``float('nan')`` when fewer than two units are non-constant (callers skip NaN).

    Raises:
        ValueError: If ``corr`` is not square 2-D or ``unit_std`` does not have one entry per unit.

    Example:
        >>> corr = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
        >>> correlation_mean_abs(corr, np.array([1.0, 2.0, 0.0]))
        0.5
    """
    corr = np.asarray(corr, dtype=np.float64)
    unit_std = np.asarray(unit_std, dtype=np.float64)
    if corr.ndim != 2 or corr.shape[0] != corr.shape[1]:
        raise ValueError(f"corr must be a square 2-D matrix; got shape {corr.shape}")
    if unit_std.shape != (corr.shape[0],):
        raise ValueError(
            f"unit_std must have shape ({corr.shape[0]},) to match corr; got shape {unit_std.shape}"
        )
    keep = unit_std > 0
    k = int(keep.sum())
    if k < 2:
        return float("nan")
    sub = np.abs(corr[np.ix_(keep, keep)])
    return float((sub.sum() - np.trace(sub)) / (k * (k - 1)))
