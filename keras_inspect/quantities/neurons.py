"""Per-unit statistics of a layer's activations: mean, standard deviation, dead units.

Activations arrive with the sample axis first and the unit (channel) axis last. Statistics that
treat every spatial or temporal position as one more observation of a unit work on *rows*: the
2-D ``(rows, units)`` matrix obtained by flattening every axis except the last.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dead_fraction", "finite_rows", "layer_std", "neuron_mean", "neuron_std", "unit_rows"]


def _as_units_last(acts: np.ndarray) -> np.ndarray:
    acts = np.asarray(acts)
    if acts.ndim == 0:
        raise ValueError("acts must have a sample axis; got a 0-d array, expected ndim >= 1")
    if acts.shape[0] == 0:
        raise ValueError(f"acts must hold at least one sample; got shape {acts.shape}")
    if acts.ndim > 1 and acts.shape[-1] == 0:
        raise ValueError(f"acts must have at least one unit (last axis); got shape {acts.shape}")
    # A 1-D output such as a single sigmoid score is one unit observed once per sample.
    return acts[:, None] if acts.ndim == 1 else acts


def _check_rows(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows)
    if rows.ndim != 2:
        raise ValueError(f"rows must be 2-D (rows, units); got shape {rows.shape}")
    if rows.shape[0] == 0:
        raise ValueError(f"rows must hold at least one row; got shape {rows.shape}")
    return rows


def unit_rows(acts: np.ndarray, max_rows: int | None = None, seed: int = 0) -> np.ndarray:
    """Flattens activations to a ``(rows, units)`` matrix, one row per sample and position.

    Convolutional and recurrent layers contribute ``H * W`` or ``T`` rows per sample, which makes
    the matrix huge; ``max_rows`` keeps a fixed random subset so that later statistics stay cheap.

    Args:
        acts: Activations with the sample axis first and the unit axis last, e.g. ``(N, units)``,
            ``(N, H, W, C)`` or ``(N, T, units)``. A 1-D ``(N,)`` array is treated as one unit.
        max_rows: If set and the matrix has more rows, keep ``max_rows`` rows drawn without
            replacement by ``np.random.default_rng(seed)``, in their original order.
        seed: Seed of the subset, so that the same rows are kept at every call.

    Returns:
        A 2-D array ``(rows, units)``. Floating inputs keep their dtype (float32 stays float32 to
        halve memory); other dtypes are cast to float64.

    Raises:
        ValueError: If ``acts`` is 0-d, has no sample or no unit, or ``max_rows`` < 1.

    Example:
        >>> unit_rows(np.zeros((2, 3, 3, 4), np.float32)).shape
        (18, 4)
    """
    acts = _as_units_last(acts)
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"max_rows must be None or >= 1; got {max_rows}")
    rows = acts.reshape(-1, acts.shape[-1])
    if not np.issubdtype(rows.dtype, np.floating):
        rows = rows.astype(np.float64)
    if max_rows is not None and rows.shape[0] > max_rows:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(rows.shape[0], size=max_rows, replace=False))
        rows = rows[keep]
    return rows


def neuron_mean(rows: np.ndarray) -> np.ndarray:
    """Mean of every unit over the rows, accumulated in float64.

    Args:
        rows: A ``(rows, units)`` matrix, see :func:`unit_rows`.

    Returns:
        A float64 array of shape ``(units,)``.

    Raises:
        ValueError: If ``rows`` is not 2-D or has no row.

    Example:
        >>> neuron_mean(np.array([[0.0, 2.0], [2.0, 4.0]]))
        array([1., 3.])
    """
    rows = _check_rows(rows)
    return rows.mean(axis=0, dtype=np.float64)


def neuron_std(rows: np.ndarray) -> np.ndarray:
    """Population standard deviation (``ddof=0``) of every unit over the rows, in float64.

    A unit whose values are all identical gets exactly 0, even when the float64 mean carries a
    rounding error, so that callers can test ``std > 0`` for "non-constant".

    Args:
        rows: A ``(rows, units)`` matrix, see :func:`unit_rows`.

    Returns:
        A float64 array of shape ``(units,)``.

    Raises:
        ValueError: If ``rows`` is not 2-D or has no row.

    Example:
        >>> neuron_std(np.array([[0.0, 1.0], [2.0, 1.0]]))
        array([1., 0.])
    """
    rows = _check_rows(rows)
    std = rows.std(axis=0, dtype=np.float64)
    std[rows.min(axis=0) == rows.max(axis=0)] = 0.0
    return std


def layer_std(rows: np.ndarray) -> float:
    """Mean over units of :func:`neuron_std`: one spread figure per layer.

    Args:
        rows: A ``(rows, units)`` matrix, see :func:`unit_rows`.

    Returns:
        The average per-unit population standard deviation.

    Raises:
        ValueError: If ``rows`` is not 2-D or has no row.

    Example:
        >>> layer_std(np.array([[0.0, 1.0], [2.0, 1.0]]))
        0.5
    """
    return float(neuron_std(rows).mean())


def dead_fraction(acts: np.ndarray, tol: float = 1e-6, max_active_share: float = 0.01) -> float:
    """Share of units that (almost) never fire.

    A unit is active on a sample if ``|activation| > tol`` at any position of its feature map; it
    is dead if it is active on at most ``max_active_share`` of the samples. Non-finite values
    (NaN) never count as active.

    Args:
        acts: Activations with the sample axis first and the unit axis last.
        tol: Magnitude at or below which an activation counts as zero; must be >= 0.
        max_active_share: Largest share of samples, in ``[0, 1)``, on which a dead unit may fire.

    Returns:
        The share of dead units, in ``[0, 1]``.

    Raises:
        ValueError: If ``acts`` is 0-d, has no sample or no unit, or ``tol`` or
            ``max_active_share`` is out of range.

    Example:
        >>> dead_fraction(np.array([[0.0, 1.0], [0.0, 2.0]]))
        0.5
    """
    acts = _as_units_last(acts)
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0; got {tol}")
    if not 0 <= max_active_share < 1:
        raise ValueError(f"max_active_share must be in [0, 1); got {max_active_share}")
    per_sample = acts.reshape(acts.shape[0], -1, acts.shape[-1])
    active = (np.abs(per_sample) > tol).any(axis=1)
    dead = active.mean(axis=0) <= max_active_share
    return float(dead.mean())


def finite_rows(acts: np.ndarray) -> np.ndarray:
    """Flags the samples whose activations are all finite.

    Args:
        acts: Activations with the sample axis first.

    Returns:
        A boolean array of shape ``(N,)``, True where no value of the sample is NaN or infinite.

    Raises:
        ValueError: If ``acts`` is 0-d.

    Example:
        >>> finite_rows(np.array([[1.0, np.nan], [1.0, 2.0]]))
        array([False,  True])
    """
    acts = np.asarray(acts)
    if acts.ndim == 0:
        raise ValueError("acts must have a sample axis; got a 0-d array, expected ndim >= 1")
    flat = acts.reshape(acts.shape[0], int(np.prod(acts.shape[1:], dtype=np.int64)))
    return np.isfinite(flat).all(axis=1)
