"""Running moments of a layer's units: what neuron statistics and correlations are computed from.

The capture pass reduces each batch to a count, a mean per unit and the sums of squared
deviations from it (or of products of deviations between units), plus each unit's minimum and
maximum. :func:`merge` combines two such summaries exactly (Chan, Golub and LeVeque's pairwise
update), in float64, so a whole dataset is summarised batch by batch without ever holding its
activations, and without the cancellation of "sum of squares minus square of sums".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Moments", "merge"]


@dataclass(frozen=True)
class Moments:
    """Moments of ``units`` over ``count`` observations (rows, or rows x positions).

    Attributes:
        count: number of observations.
        mean: (units,) means.
        m2: (units,) sums of squared deviations from the mean, or (units, units) sums of
            products of deviations (the diagonal then holds the squares).
        low: (units,) minimum of each unit.
        high: (units,) maximum of each unit.
    """

    count: float
    mean: np.ndarray
    m2: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray, cross: bool = False) -> Moments:
        """The moments of a ``(rows, units)`` matrix, computed directly in float64.

        Example:
            >>> Moments.of(np.array([[0.0], [2.0]])).m2
            array([2.])
        """
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2:
            raise ValueError(f"rows must be 2-D (rows, units); got shape {rows.shape}")
        if rows.shape[0] == 0:
            return cls.empty(rows.shape[1], cross)
        mean = rows.mean(axis=0)
        dev = rows - mean
        m2 = dev.T @ dev if cross else np.einsum("ij,ij->j", dev, dev)
        return cls(float(rows.shape[0]), mean, m2, rows.min(axis=0), rows.max(axis=0))

    @classmethod
    def empty(cls, units: int, cross: bool = False) -> Moments:
        """No observation yet: the neutral element of :func:`merge`."""
        zeros = np.zeros(units)
        return cls(
            0.0,
            zeros,
            np.zeros((units, units)) if cross else zeros.copy(),
            np.full(units, np.inf),
            np.full(units, -np.inf),
        )

    @property
    def variance(self) -> np.ndarray:
        """Population variance (``ddof=0``) of each unit; NaN without an observation."""
        diagonal = np.diag(self.m2) if self.m2.ndim == 2 else self.m2
        if self.count == 0:
            return np.full(len(self.mean), np.nan)
        return np.maximum(diagonal, 0.0) / self.count

    @property
    def constant(self) -> np.ndarray:
        """(units,) True for a unit whose values are all identical (or that has none)."""
        return ~(self.high > self.low)

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation; exactly 0 for a constant unit (whatever rounding
        left in its sum of squares), so callers can test ``std > 0`` for "varies"."""
        std = np.sqrt(self.variance)
        std[self.constant] = 0.0
        return std


def merge(a: Moments, b: Moments) -> Moments:
    """The moments of the union of two disjoint sets of observations of the same units.

    Chan et al.'s update: with ``d = mean_b - mean_a`` and ``n = n_a + n_b``, the merged mean is
    ``mean_a + d n_b / n`` and ``m2 = m2_a + m2_b + d d^T n_a n_b / n`` (``d^2`` per unit for
    vector ``m2``). Exact in exact arithmetic; in floating point it keeps the accuracy of each
    part, unlike sums of squares.

    Example:
        >>> rows = np.arange(10.0).reshape(5, 2)
        >>> both = merge(Moments.of(rows[:2]), Moments.of(rows[2:]))
        >>> np.allclose(both.m2, Moments.of(rows).m2)
        True
    """
    if b.count == 0:
        return a
    if a.count == 0:
        return b
    count = a.count + b.count
    delta = np.asarray(b.mean, np.float64) - a.mean
    weight = a.count * b.count / count
    mean = a.mean + delta * (b.count / count)
    if np.ndim(a.m2) == 2:
        m2 = a.m2 + b.m2 + np.outer(delta, delta) * weight
    else:
        m2 = a.m2 + b.m2 + delta * delta * weight
    return Moments(count, mean, m2, np.minimum(a.low, b.low), np.maximum(a.high, b.high))
