"""Gradient quantities: feature-group saliency, filter importance, input saliency maps.

Pure NumPy over the gradients of :mod:`keras_inspect.gradients`, which the capture pass sums
over samples and positions (:func:`feature_saliency`, :func:`filter_importance`) or returns
for a few samples (:func:`saliency_map`). A gradient that is not finite (a diverging training)
says nothing about the model's inputs: it raises :class:`UninformativeGradient` instead of
returning a value, so the caller reports it once. A gradient that is zero everywhere (a
saturated or dead network: the output, as computed, does not move with the input) is an honest
value and is recorded as zero; the dead fraction and neuron statistics say why.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keras_inspect.errors import DegenerateValue

__all__ = [
    "UninformativeGradient",
    "feature_saliency",
    "filter_importance",
    "important_units",
    "saliency_map",
]


class UninformativeGradient(DegenerateValue):
    """The gradient has non-finite values (a diverging training), or there is none (no
    gradient path): nothing to rank or plot. A gradient that is zero everywhere (a saturated
    or dead network) is a value, not an error: it is recorded as zero."""


def _check(grad: np.ndarray, what: str) -> np.ndarray:
    grad = np.asarray(grad, dtype=np.float64)
    bad = ~np.isfinite(grad)
    if bad.any():
        raise UninformativeGradient(
            f"{what}: {int(bad.sum())} of {grad.size} gradient values are not finite"
        )
    if grad.size == 0:
        raise UninformativeGradient(f"{what}: there is no gradient")
    return grad


def feature_saliency(
    column_sums: np.ndarray,
    samples: int,
    elements: int = 1,
    columns: Sequence[int] | None = None,
) -> float:
    """Mean over samples of the mean |d output / d x| over one feature group's elements.

    Guo et al. (section 3.4) average the absolute gradient over a feature group's input
    elements, e.g. the 8 dimensions of a user-id embedding, and over samples. Every sample has
    the same number of elements in the group, so that is the sum of |gradient| over samples and
    elements divided by their number: what this takes, summed by the capture pass.

    Args:
        column_sums: ``(width,)`` sums of |d objective / d source| over samples and every axis
            but the last, one per entry of the source's last axis.
        samples: the number of samples summed.
        elements: entries per sample behind each column (the product of the source's middle
            axes; 1 for a ``(samples, width)`` source).
        columns: the group's indices along the last axis; ``None`` for all of it.

    Returns:
        The saliency; 0 when the gradient is zero everywhere (a saturated or dead network).

    Raises:
        UninformativeGradient: the group's gradient is not finite.

    Example:
        >>> feature_saliency(np.array([2.0, 4.0, 6.0]), samples=2, columns=[0, 1])
        1.5
    """
    sums = np.asarray(column_sums, dtype=np.float64).reshape(-1)
    if columns is not None:
        sums = sums[list(columns)]
    sums = _check(sums, "feature_saliency")
    if samples < 1 or elements < 1:
        raise ValueError(f"need at least one sample and element; got {samples} and {elements}")
    return float(sums.sum() / (samples * elements * len(sums)))


def filter_importance(unit_sums: np.ndarray, samples: int) -> np.ndarray:
    """Per unit or filter: the sum over positions of |delta|, min-max scaled within the layer.

    TSViz (Siddiqui et al., eq. 11-12 and 16) sums |d a^L / d z_j| over the positions of filter
    j for one input and min-max scales the sums of a layer. Over a dataset sample we average
    the per-sample sums over samples before scaling (the paper shows one input at a time).

    Args:
        unit_sums: ``(units,)`` sums of |d objective / d pre-activation| over samples and
            positions, as the capture pass returns them.
        samples: the number of samples summed.

    Returns:
        float32 array of shape (units,) in [0, 1]; 1 marks the most important unit. When every
        unit is equally important (a gradient that is zero everywhere, in a saturated or dead
        network) the scaling is undefined and no unit stands out: all are 0 (our choice; the
        paper does not meet the case).

    Raises:
        UninformativeGradient: a non-finite gradient.

    Example:
        >>> filter_importance(np.array([2.0, 6.0, 4.0]), samples=2)
        array([0. , 1. , 0.5], dtype=float32)
    """
    sums = _check(unit_sums, "filter_importance").reshape(-1)
    if samples < 1:
        raise ValueError(f"need at least one sample; got {samples}")
    sums = sums / samples
    low, high = sums.min(), sums.max()
    if not high > low:
        return np.zeros(len(sums), dtype=np.float32)
    return ((sums - low) / (high - low)).astype(np.float32)


def saliency_map(grad: np.ndarray) -> np.ndarray:
    """|gradient| of one sample, point-wise (time steps x channels, or pixels x channels);
    all zero where the network is saturated or dead.

    Raises:
        UninformativeGradient: non-finite values.
    """
    return np.abs(_check(grad, "input_saliency")).astype(np.float32)


def important_units(importance: np.ndarray, percentile: float = 90.0) -> np.ndarray:
    """Units whose importance is at or above the ``percentile`` of their layer, most first.

    TSViz's percentile filter (Fig. 7) for a ``filter_importance`` value read with
    ``ki.load``; the Inspect tab's slider keeps the same units. Percentiles interpolate
    linearly, as ``np.percentile`` does.

    Example:
        >>> important_units(np.array([0.2, 1.0, 0.0, 0.6, 0.4]), 50)
        array([1, 3, 4])
    """
    importance = np.asarray(importance, dtype=np.float64).ravel()
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    finite = np.flatnonzero(np.isfinite(importance))
    if not len(finite):
        return finite
    cut = np.percentile(importance[finite], percentile)
    kept = finite[importance[finite] >= cut]
    return kept[np.argsort(-importance[kept], kind="stable")]
