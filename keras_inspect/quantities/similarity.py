"""Representation similarity: linear CKA (Kornblith, Norouzi, Lee and Hinton, ICML 2019), and
how far a dataset's unit statistics have drifted from the reference dataset's.

Linear CKA compares two representations ``X (n x p)`` and ``Y (n x q)`` of the *same* ``n``
rows. With ``K = Xc Xc^T`` and ``L = Yc Yc^T`` the Gram matrices of the column-centred features,

    CKA(X, Y) = <K, L>_F / (||K||_F ||L||_F) = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)

(their eq. 2 with a linear kernel, HSIC's 1/(n-1)^2 cancelling). It is 1 for a representation
with itself, invariant to orthogonal transforms and isotropic scaling of either representation
(not to arbitrary invertible linear maps), and needs only each side's ``n x n`` Gram matrix,
whatever the widths: the callback stores one Gram per layer and checkpoint, so that any two
checkpoints, or two runs recorded on identical rows, can be compared later.

Choices and caveats:

- **Centred Gram, normalised.** :func:`centred_gram` divides ``K`` by its Frobenius norm, since
  CKA ignores scale: the stored matrix then fits float16 whatever the activations' size (CKA of
  float16-stored Grams is within about 1e-3 of the float64 value).
- **The biased estimator** (the paper's): with few rows and wide layers, CKA of unrelated
  representations is well above 0 (about 0.5 for two independent random 256-wide layers on 256
  rows, 0.2 for 64-wide ones); compare values with each other, not with 0. :func:`linear_cka`
  offers the debiased estimator of Song et al. (2012) too (``debiased=True``).
- **Outliers.** A few rows with very large activations dominate ``K`` and hence CKA; a value
  near 1 can mean "the same few outlier rows stand out in both".
- **Features of a row.** The callback compares the per-row features the probes use
  (:func:`keras_inspect.reductions.row_features`): a layer's output flattened per row when that
  gives at most 1,024 columns, else its mean over positions (one column per channel: for large
  convolutional maps CKA then compares pooled channels, not every position).
"""

from __future__ import annotations

import numpy as np

from keras_inspect.errors import DegenerateValue

__all__ = ["centred_gram", "drift_effect", "gram_cka", "linear_cka", "varying_units"]


def centred_gram(features: np.ndarray) -> np.ndarray:
    """The Gram matrix of column-centred ``features``, scaled to unit Frobenius norm.

    Args:
        features: ``(n, p)`` rows of one representation (any further axes are flattened).

    Returns:
        A symmetric float64 ``(n, n)`` matrix ``K / ||K||_F`` with ``K = Xc Xc^T``; its rows
        and columns sum to 0.

    Raises:
        ValueError: If there are fewer than 2 rows or the values are not finite.
        DegenerateValue: If every row is the same (the centred features are all 0: no
            similarity is defined).

    Example:
        >>> gram = centred_gram(np.array([[0.0], [2.0]]))
        >>> np.round(gram * 2, 6)
        array([[ 1., -1.],
               [-1.,  1.]])
    """
    x = np.asarray(features, dtype=np.float64)
    x = x.reshape(len(x), -1)
    if len(x) < 2:
        raise ValueError(f"a Gram matrix for CKA needs at least 2 rows; got {len(x)}")
    if not np.isfinite(x).all():
        raise ValueError("the features are not finite (NaN or infinity)")
    centred = x - x.mean(axis=0)
    gram = centred @ centred.T
    gram = (gram + gram.T) / 2  # exactly symmetric
    norm = np.linalg.norm(gram)
    if not norm > 0:
        raise DegenerateValue("every row has the same features: CKA is not defined")
    return gram / norm


def gram_cka(gram_a: np.ndarray, gram_b: np.ndarray) -> float:
    """Linear CKA from two centred Gram matrices of the same rows (any scale, any float dtype).

    Args:
        gram_a, gram_b: ``(n, n)`` centred Gram matrices (:func:`centred_gram`), float16 ones as
            stored included: both are renormalised here in float64.

    Returns:
        ``<A, B>_F / (||A||_F ||B||_F)``, in ``[0, 1]`` for centred Grams (clipped against
        rounding).

    Raises:
        ValueError: If the shapes differ (the Grams are of different rows) or a Gram is zero.

    Example:
        >>> g = centred_gram(np.arange(6.0).reshape(3, 2))
        >>> gram_cka(g, g)
        1.0
    """
    a = np.asarray(gram_a, dtype=np.float64)
    b = np.asarray(gram_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(
            f"CKA compares Gram matrices of the same rows; got shapes {a.shape} and {b.shape}"
        )
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if not norms > 0:
        raise ValueError("a Gram matrix is zero: CKA is not defined")
    return float(np.clip(np.sum(a * b) / norms, 0.0, 1.0))


def linear_cka(x: np.ndarray, y: np.ndarray, debiased: bool = False) -> float:
    """Linear CKA between two representations of the same rows, from their features.

    Args:
        x: ``(n, p)`` features; further axes are flattened.
        y: ``(n, q)`` features of the same ``n`` rows.
        debiased: use the unbiased HSIC estimator of Song et al. (2012) (needs ``n >= 4``):
            unrelated representations then score near 0 rather than above it, at the price of
            a value that can fall slightly below 0.

    Returns:
        The CKA value (the biased one is in ``[0, 1]``).

    Raises:
        ValueError: If the row counts differ or are too few.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(50, 4))
        >>> round(linear_cka(x, 3 * x), 12)
        1.0
    """
    a = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    b = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if len(a) != len(b):
        raise ValueError(f"CKA compares the same rows; got {len(a)} and {len(b)} rows")
    if not debiased:
        return gram_cka(centred_gram(a), centred_gram(b))
    if len(a) < 4:
        raise ValueError(f"debiased CKA needs at least 4 rows; got {len(a)}")
    k = _zero_diagonal_gram(a)
    lg = _zero_diagonal_gram(b)
    cross = _unbiased_hsic(k, lg)
    scale = np.sqrt(_unbiased_hsic(k, k) * _unbiased_hsic(lg, lg))
    if not scale > 0:
        raise DegenerateValue("a representation is constant over the rows: CKA is not defined")
    return float(cross / scale)


def drift_effect(
    mean: np.ndarray,
    std: np.ndarray,
    count: float,
    ref_mean: np.ndarray,
    ref_std: np.ndarray,
    ref_count: float,
) -> float:
    """How far a dataset's units have moved from the reference dataset's, label-free.

    Per unit, the standardised mean difference (Cohen's d with the pooled standard deviation)
    ``d_u = (mean_u - ref_mean_u) / sqrt((std_u^2 + ref_std_u^2) / 2)``; the result is the
    root mean square over units of ``d``, with the part sampling noise alone contributes
    removed: two samples of one distribution give ``E[d_u^2] ~ 1/count + 1/ref_count``, so

        drift = sqrt(max(0, mean_u(d_u^2) - (1/count + 1/ref_count)))

    is about 0 for a dataset drawn like the reference (whatever the sample sizes) and the RMS
    shift in standard deviations otherwise (0.2 is a "small", 0.5 a "medium" effect in Cohen's
    terms). Units constant on both datasets (dead ones, say) are left out; with no other
    unit the drift is 0 if their values agree. This is the
    label-free signal of Guo et al. (2018, Fig. 7 and section 5), per unit rather than averaged
    over the layer, so that shifts of opposite sign do not cancel.

    Args:
        mean, std: per-unit mean and standard deviation on the dataset.
        count: the dataset's samples.
        ref_mean, ref_std: the same for the reference dataset (``train``).
        ref_count: the reference's samples.

    Returns:
        The drift effect size, ``>= 0``.

    Raises:
        ValueError: If the shapes differ or a count is not positive.
        DegenerateValue: If every unit is constant on both datasets, at different values.

    Example:
        >>> one = np.array([1.0])
        >>> round(drift_effect(one, one, 1e9, 0 * one, one, 1e9), 6)
        1.0
    """
    mean, std, ref_mean, ref_std = (
        np.asarray(v, dtype=np.float64).reshape(-1) for v in (mean, std, ref_mean, ref_std)
    )
    if not (mean.shape == std.shape == ref_mean.shape == ref_std.shape):
        raise ValueError(
            f"drift compares the same units; got {mean.shape[0]} and {ref_mean.shape[0]} units"
        )
    if not (count > 0 and ref_count > 0):
        raise ValueError(f"drift needs samples on both datasets; got {count} and {ref_count}")
    pooled = np.sqrt((std**2 + ref_std**2) / 2)
    varying = varying_units(mean, std, ref_mean, ref_std)
    if not varying.any():
        if np.allclose(mean, ref_mean, rtol=1e-6, atol=1e-12):
            return 0.0  # e.g. a dead layer: zero on both datasets, nothing moved
        raise DegenerateValue(
            "every unit is constant on both datasets but at other values: the shift has no "
            "scale to be measured in"
        )
    d = (mean[varying] - ref_mean[varying]) / pooled[varying]
    return float(np.sqrt(max(0.0, np.mean(d**2) - (1.0 / count + 1.0 / ref_count))))


def varying_units(
    mean: np.ndarray, std: np.ndarray, ref_mean: np.ndarray, ref_std: np.ndarray
) -> np.ndarray:
    """Which units :func:`drift_effect` measures: those whose pooled standard deviation is
    above 1e-6 of the largest mean magnitude (the rest are constant on both datasets, up to
    rounding).

    Example:
        >>> varying_units(np.zeros(2), np.array([0.0, 1.0]), np.zeros(2), np.zeros(2))
        array([False,  True])
    """
    mean, std, ref_mean, ref_std = (
        np.asarray(v, dtype=np.float64).reshape(-1) for v in (mean, std, ref_mean, ref_std)
    )
    pooled = np.sqrt((std**2 + ref_std**2) / 2)
    scale = np.max(np.abs(np.concatenate([mean, ref_mean]))) if mean.size else 0.0
    return pooled > 1e-6 * max(scale, 1e-12)


def _zero_diagonal_gram(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=0)
    gram = centred @ centred.T
    np.fill_diagonal(gram, 0.0)
    return gram


def _unbiased_hsic(k: np.ndarray, lg: np.ndarray) -> float:
    """Song et al. (2012), eq. 5, up to the factor 1/(n(n-3)) that cancels in CKA."""
    n = len(k)
    ones = np.ones(n)
    trace = np.sum(k * lg)
    middle = (ones @ k @ ones) * (ones @ lg @ ones) / ((n - 1) * (n - 2))
    last = 2.0 / (n - 2) * (ones @ k @ lg @ ones)
    return float(trace + middle - last)
