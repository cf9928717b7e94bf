"""Correlation among the units of one layer (Guo et al. 2018, pre-activation values).

A layer whose units are strongly correlated carries redundant information; the average absolute
off-diagonal correlation summarises that redundancy in one number per layer and checkpoint.
"""

from __future__ import annotations

import numpy as np

from keras_inspect.errors import DegenerateValue
from keras_inspect.quantities.moments import Moments

__all__ = ["correlation_matrix", "correlation_mean_abs"]


def correlation_matrix(moments: Moments) -> np.ndarray:
    """Pearson correlation between every pair of units, from their cross-moments.

    ``corr[i, j] = m2[i, j] / sqrt(m2[i, i] m2[j, j])`` with ``m2`` the sums of products of
    deviations (:class:`~keras_inspect.quantities.moments.Moments` with ``cross=True``, merged
    from the capture's batches in float64). A constant unit (all values identical) has no
    defined correlation: its off-diagonal entries are set to 0 and its diagonal entry to 1, so
    the result never contains NaN. Entries are clipped to ``[-1, 1]`` against rounding.

    Args:
        moments: cross-moments of the units, e.g. ``Moments.of(rows, cross=True)``.

    Returns:
        A symmetric float64 array of shape ``(units, units)`` with a unit diagonal.

    Raises:
        ValueError: If the moments are not cross-moments, have no observation, or are not finite.

    Example:
        >>> rows = np.array([[0.0, 1.0, 5.0], [1.0, 0.0, 5.0]])
        >>> correlation_matrix(Moments.of(rows, cross=True))
        array([[ 1., -1.,  0.],
               [-1.,  1.,  0.],
               [ 0.,  0.,  1.]])
    """
    m2 = np.asarray(moments.m2, dtype=np.float64)
    if m2.ndim != 2 or m2.shape[0] != m2.shape[1]:
        raise ValueError(f"need cross-moments (units, units); got m2 of shape {m2.shape}")
    if moments.count <= 0:
        raise ValueError("no observation of the layer (every sample was non-finite or none given)")
    if not np.isfinite(m2).all():
        raise DegenerateValue(
            "the cross-moments are not finite: the activations are too large to sum (a "
            "diverging training?)"
        )
    diagonal = np.diag(m2)
    # Exact constancy is tested on the values (min == max), because rounding would otherwise
    # turn a constant unit into a tiny non-zero variance that correlates +-1 with its peers.
    varying = ~moments.constant & (diagonal > 0)
    inv = np.zeros_like(diagonal)
    inv[varying] = 1.0 / np.sqrt(diagonal[varying])
    corr = m2 * inv[:, None] * inv[None, :]
    corr = (corr + corr.T) / 2  # exactly symmetric
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
