"""Per-batch sufficient statistics, written with ``keras.ops`` so that they run inside the
compiled capture pass, next to the activations, on whatever device holds them.

Every function takes tensors of one batch (rows first, channels last) and returns tensors whose
size does not depend on how many rows the batch has, except :func:`row_features` (one short
feature row per sample) and the finite flags of :func:`unit_statistics` (one per sample). A
batch never leaves the device as full activations; :mod:`keras_inspect.accumulate` merges these
statistics on the host in float64.

The full activations are the expensive thing to read (a ResNet's conv outputs are millions of
values a row), so the statistics read them a few times only and do the rest on per-sample
summaries; batches are then merged exactly on the host (Chan et al.).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

__all__ = [
    "DEAD_TOLERANCE",
    "abs_sums",
    "comoments",
    "positions",
    "row_features",
    "row_objective",
    "unit_statistics",
]

# |activation| at or below this is "not active" (dead units).
DEAD_TOLERANCE = 1e-6


def _float(tensor: Any) -> Any:
    """float64 stays float64; every other dtype (float16, bfloat16, ints) becomes float32."""
    tensor = ops.convert_to_tensor(tensor)
    if keras.backend.standardize_dtype(tensor.dtype) == "float64":
        return tensor
    return ops.cast(tensor, "float32")


def positions(acts: Any) -> Any:
    """``(B, ..., C)`` as ``(B, P, C)``: every spatial or temporal position of a sample in one
    axis; a ``(B,)`` output is one unit at one position, ``(B, 1, 1)``. Half-precision values
    become float32 (float64 stays float64)."""
    acts = _float(acts)
    if len(acts.shape) == 1:
        return ops.reshape(acts, (-1, 1, 1))
    channels = acts.shape[-1]
    inner = acts.shape[1:-1]
    if all(d is not None for d in inner):
        return ops.reshape(acts, (-1, math.prod(inner), channels))
    return ops.reshape(acts, (ops.shape(acts)[0], -1, channels))


def _masked(flat: Any, finite: Any) -> tuple[Any, Any, Any]:
    """(values with non-finite samples zeroed, (B, 1, 1) float mask, observation count)."""
    mask = ops.cast(ops.reshape(finite, (-1, 1, 1)), flat.dtype)
    safe = ops.where(mask > 0, flat, ops.zeros_like(flat))
    count = ops.sum(mask) * ops.cast(ops.shape(flat)[1], flat.dtype)
    return safe, mask, count


def unit_statistics(
    acts: Any,
    at: Sequence[int] | None = None,
    tolerance: float = DEAD_TOLERANCE,
    row_means: bool = False,
    valid: Any = None,
) -> tuple[dict[str, Any], Any]:
    """Per unit, over the finite samples of the batch and their positions.

    A layer's full output is the expensive thing to read (a ResNet's conv outputs are millions
    of values a row), so it is read twice: its maximum and minimum over positions, per sample
    and unit, which say whether a sample is finite (NaN and infinity propagate through both)
    and whether a unit is active on it, exactly. The moments (count, mean, sum of squared
    deviations) are taken over the positions ``at`` only, a fixed subset of a large map, the
    same at every checkpoint; within a sample, deviations are taken from its first kept
    position's value (the "shifted data" form of the sum of squares, accurate when that value
    is near the mean), and across samples the per-sample means and sums of squares are
    combined exactly.

    Args:
        acts: a layer's output ``(B, ..., C)`` (or ``(B,)``).
        at: the position indices the moments use (``None``: every position).
        tolerance: |activation| above which a unit counts as active on a sample.
        row_means: also return each sample's mean over every position, per unit.
        valid: ``(B,)`` flags of the real rows of a padded batch (``None``: all are real); the
            others are left out like non-finite samples, but not counted as such.

    Returns:
        The statistics: ``count`` (observations: finite samples x kept positions), ``mean``
        and ``m2`` (sum of squared deviations from that mean) per unit, ``low`` / ``high``
        (minimum and maximum over every position; +inf / -inf without a finite sample),
        ``active`` (finite samples on which the unit exceeds ``tolerance`` at some position),
        ``samples`` (finite samples), ``finite`` (``(B,)`` flags); and the per-sample means
        ``(B, C)`` (0 for a non-finite sample) or ``None``.
    """
    flat = positions(acts)
    single = flat.shape[1] == 1  # a Dense output: one position, nothing to reduce over it
    high = flat[:, 0, :] if single else ops.max(flat, axis=1)  # (B, C)
    low = high if single else ops.min(flat, axis=1)
    finite = ops.all(ops.isfinite(high) & ops.isfinite(low), axis=1)
    kept = ops.reshape(finite if valid is None else ops.logical_and(finite, valid), (-1, 1))
    mask = ops.cast(kept, flat.dtype)
    zeros = ops.zeros_like(high)
    if single:
        count = ops.cast(1, flat.dtype)
        means = ops.where(kept, high, zeros)
        within = zeros
    else:
        part = flat if at is None else ops.take(flat, list(at), axis=1)
        count = ops.cast(ops.shape(part)[1], flat.dtype)
        shift = part[:, :1, :]
        dev = part - shift
        sums = ops.sum(dev, axis=1)
        squares = ops.sum(ops.square(dev), axis=1)
        means = ops.where(kept, shift[:, 0, :] + sums / count, zeros)  # kept positions
        within = ops.where(kept, ops.maximum(squares - sums * sums / count, 0.0), zeros)
    samples = ops.sum(mask)
    mean = ops.sum(means, axis=0) / ops.maximum(samples, 1.0)
    between = ops.sum(mask * ops.square(means - mean), axis=0) * count
    fires = ops.logical_or(high > tolerance, low < -tolerance)
    stats = {
        "count": samples * count,
        "mean": mean,
        "m2": ops.sum(within, axis=0) + between,
        "low": ops.min(ops.where(kept, low, ops.full_like(low, math.inf)), axis=0),
        "high": ops.max(ops.where(kept, high, ops.full_like(high, -math.inf)), axis=0),
        "active": ops.sum(ops.cast(fires, flat.dtype) * mask, axis=0),
        "samples": samples,
        "finite": finite,
    }
    if not row_means:
        return stats, None
    if at is not None:
        means = ops.where(kept, ops.mean(flat, axis=1), zeros)
    return stats, means


def comoments(
    source: Any,
    finite: Any,
    units: Sequence[int] | None = None,
    at: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Cross-products of deviations between units: what a correlation matrix is made of.

    Args:
        source: ``(B, ..., C)`` values (pre-activations of a fused layer, else its output).
        finite: ``(B,)`` flags of the samples to use; samples with a non-finite value among the
            kept units and positions are left out too.
        units: the unit indices to keep (a fixed subset of a wide layer), or all.
        at: the position indices to keep (a fixed subset of a large map), or all.

    Returns:
        ``count``, ``mean`` (s,), ``m2`` (s, s): sums of products of deviations from the batch
        mean (corrected two-pass: minus the outer product of the deviations' sums over the
        count, which removes the error of a float32 mean), ``low`` / ``high`` (s,) of the kept
        values.
    """
    flat = positions(source)
    if at is not None:
        flat = ops.take(flat, list(at), axis=1)
    if units is not None:
        flat = ops.take(flat, list(units), axis=2)
    finite = ops.logical_and(finite, ops.all(ops.isfinite(flat), axis=(1, 2)))
    safe, mask, count = _masked(flat, finite)
    mean = ops.sum(safe, axis=(0, 1)) / ops.maximum(count, 1.0)
    rows = ops.reshape((safe - mean) * mask, (-1, flat.shape[-1]))
    total = ops.sum(rows, axis=0)
    m2 = ops.matmul(ops.transpose(rows), rows) - ops.outer(total, total) / ops.maximum(count, 1.0)
    kept = mask > 0
    return {
        "count": count,
        "mean": mean,
        "m2": m2,
        "low": ops.min(ops.where(kept, flat, ops.full_like(flat, math.inf)), axis=(0, 1)),
        "high": ops.max(ops.where(kept, flat, ops.full_like(flat, -math.inf)), axis=(0, 1)),
    }


def row_features(acts: Any, max_features: int, means: Any = None) -> Any:
    """One feature row per sample for probes and projections: ``(B, F)``.

    The output flattened per sample when that gives at most ``max_features`` columns (or the
    layer has no positions); otherwise its mean over positions, one column per unit (see
    :func:`keras_inspect.quantities.probes.probe_features`, the same rule on NumPy arrays).
    ``means``, the per-sample means :func:`unit_statistics` already computed, saves a pass.
    """
    flat = positions(acts)
    count, channels = flat.shape[1], flat.shape[2]
    if count is not None and (count == 1 or count * channels <= max_features):
        return ops.reshape(flat, (-1, count * channels))
    return ops.mean(flat, axis=1) if means is None else means


def abs_sums(gradient: Any, at: Sequence[int] | None = None) -> Any:
    """Sum of |gradient| over rows and positions, one value per entry of the last axis.

    With ``at``, over those positions only, scaled by (positions / len(at)): an unbiased
    estimate of the full sum from a fixed subset of a large map.
    """
    flat = positions(gradient)
    if at is None:
        return ops.sum(ops.abs(flat), axis=(0, 1))
    scale = ops.cast(ops.shape(flat)[1], flat.dtype) / len(at)
    return ops.sum(ops.abs(ops.take(flat, list(at), axis=1)), axis=(0, 1)) * scale


def row_objective(output: Any) -> Any:
    """Each sample's scored value ``(B,)``: its output, or its largest output of several.

    See :func:`keras_inspect.gradients.objective`, the sum of these over the batch.
    """
    output = ops.convert_to_tensor(output)
    if len(output.shape) >= 2 and output.shape[-1] not in (None, 1):
        output = ops.max(output, axis=-1)
    if len(output.shape) == 1:
        return output
    return ops.sum(output, axis=tuple(range(1, len(output.shape))))
