"""Per-unit statistics of a layer's activations: mean, standard deviation, dead units.

Activations arrive with the sample axis first and the unit (channel) axis last. Statistics that
treat every spatial or temporal position as one more observation of a unit work on *rows*: the
2-D ``(rows, units)`` matrix obtained by flattening every axis except the last. The capture
pass never holds those rows; it reduces them batch by batch to their
:class:`~keras_inspect.quantities.moments.Moments` and active-sample counts, which is what the
statistics here take.
"""

from __future__ import annotations

import numpy as np

from keras_inspect.quantities.moments import Moments

__all__ = [
    "active_samples",
    "dead_fraction",
    "finite_rows",
    "layer_std",
    "neuron_mean",
    "neuron_std",
    "unit_rows",
]


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


def neuron_mean(moments: Moments) -> np.ndarray:
    """Mean of every unit over its observations (samples, and positions of a map).

    Args:
        moments: the layer's :class:`~keras_inspect.quantities.moments.Moments`, e.g.
            ``Moments.of(unit_rows(acts))`` or merged from the capture's batches.

    Returns:
        A float64 array of shape ``(units,)``.

    Raises:
        ValueError: If there is no observation.

    Example:
        >>> neuron_mean(Moments.of(np.array([[0.0, 2.0], [2.0, 4.0]])))
        array([1., 3.])
    """
    _check_observed(moments)
    return np.asarray(moments.mean, dtype=np.float64)


def neuron_std(moments: Moments) -> np.ndarray:
    """Population standard deviation (``ddof=0``) of every unit, in float64.

    A unit whose values are all identical gets exactly 0, even when its sum of squared
    deviations carries a rounding error, so that callers can test ``std > 0`` for
    "non-constant".

    Raises:
        ValueError: If there is no observation.

    Example:
        >>> neuron_std(Moments.of(np.array([[0.0, 1.0], [2.0, 1.0]])))
        array([1., 0.])
    """
    _check_observed(moments)
    return moments.std


def layer_std(moments: Moments) -> float:
    """Mean over units of :func:`neuron_std`: one spread figure per layer.

    Example:
        >>> layer_std(Moments.of(np.array([[0.0, 1.0], [2.0, 1.0]])))
        0.5
    """
    return float(neuron_std(moments).mean())


def _check_observed(moments: Moments) -> None:
    if moments.count <= 0:
        raise ValueError("no observation of the layer (every sample was non-finite or none given)")


def active_samples(acts: np.ndarray, tol: float = 1e-6) -> tuple[np.ndarray, int]:
    """Per unit, on how many samples it is active (``|a| > tol`` at some position).

    The NumPy form of what the capture pass counts per batch (non-finite values never count as
    active).

    Args:
        acts: Activations with the sample axis first and the unit axis last.
        tol: Magnitude at or below which an activation counts as zero; must be >= 0.

    Returns:
        ``(active, samples)``: a float64 ``(units,)`` count, and the number of samples.

    Raises:
        ValueError: If ``acts`` is 0-d, has no sample or no unit, or ``tol`` < 0.

    Example:
        >>> active_samples(np.array([[0.0, 1.0], [0.0, 2.0]]))
        (array([0., 2.]), 2)
    """
    acts = _as_units_last(acts)
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0; got {tol}")
    per_sample = acts.reshape(acts.shape[0], -1, acts.shape[-1])
    active = (np.abs(per_sample) > tol).any(axis=1)
    return active.sum(axis=0).astype(np.float64), int(acts.shape[0])


def dead_fraction(active: np.ndarray, samples: float, max_active_share: float = 0.01) -> float:
    """Share of units that (almost) never fire.

    A unit is dead if it is active (see :func:`active_samples`) on at most
    ``max_active_share`` of the samples.

    Args:
        active: ``(units,)`` samples on which each unit is active.
        samples: the number of samples counted.
        max_active_share: Largest share of samples, in ``[0, 1)``, on which a dead unit may fire.

    Returns:
        The share of dead units, in ``[0, 1]``.

    Raises:
        ValueError: If there is no sample or ``max_active_share`` is out of range.

    Example:
        >>> dead_fraction(np.array([0.0, 2.0]), 2)
        0.5
    """
    if not 0 <= max_active_share < 1:
        raise ValueError(f"max_active_share must be in [0, 1); got {max_active_share}")
    if not samples > 0:
        raise ValueError(f"dead_fraction needs at least one sample; got {samples}")
    active = np.asarray(active, dtype=np.float64).reshape(-1)
    dead = active / samples <= max_active_share
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
