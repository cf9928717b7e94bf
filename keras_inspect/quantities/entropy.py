"""Information quantities of CNNSlicer (Shen et al., sections 4.4 and 5.2-5.4), in bits.

* :func:`intra_sample_entropy`: the 32-bin histogram entropy of each feature map after its
  values are normalised to (-1, 1) (section 4.4.2).
* :func:`inter_sample_entropy`: the diversity of a set of samples in their own space from a
  k-nearest-neighbour graph with an adaptive exponential kernel (equations 4-7).
* :func:`confusion_matrix` and :func:`conditional_entropies`: H(label | pred = i) and
  H(pred | label = i) per class (section 5.2).
* :func:`channel_capacity`: H(X) - H(X | Y) between every channel pair of two layers from the
  2-D histogram of pairwise sample distances (section 5.3).

Pure NumPy, SciPy and scikit-learn (nearest neighbours); no framework.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.neighbors import NearestNeighbors

__all__ = [
    "DEFAULT_K",
    "INTRA_BINS",
    "channel_capacity",
    "conditional_entropies",
    "confusion_matrix",
    "histogram_entropy",
    "inter_sample_entropy",
    "intra_sample_entropy",
]

INTRA_BINS = 32
# Neighbours per sample of the inter-sample entropy. The paper leaves k open; 15 is UMAP's
# default neighbourhood (the kernel is borrowed from UMAP), small enough that a 2,048-row sample
# costs one nearest-neighbour query, large enough that log2(k) ~ 3.9 leaves the kernel room.
DEFAULT_K = 15


def histogram_entropy(counts: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in bits of histograms given as counts along ``axis`` (0 for empty)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=axis, keepdims=True)
    p = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
    return -(p * logs).sum(axis=axis)


def intra_sample_entropy(maps: np.ndarray, bins: int = INTRA_BINS) -> np.ndarray:
    """Entropy (bits) of each sample's feature map, per channel.

    Each map's values are scaled to [-1, 1] by its own minimum and maximum and counted in
    ``bins`` equal bins; a constant map (a dead channel) has entropy 0.

    Args:
        maps: a layer's output, samples first and channels last: (N, C), (N, T, C),
            (N, H, W, C)...; a dense layer's map is its single value per unit (entropy 0).

    Returns:
        (N, C) float64 entropies in [0, log2(bins)].
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim < 2:
        raise ValueError(f"expected (samples, ..., channels), got shape {maps.shape}")
    n, c = maps.shape[0], maps.shape[-1]
    values = maps.reshape(n, -1, c)
    low, high = values.min(axis=1, keepdims=True), values.max(axis=1, keepdims=True)
    span = high - low
    scaled = np.divide(values - low, span, out=np.zeros_like(values), where=span > 0)
    index = np.minimum((scaled * bins).astype(np.int64), bins - 1)  # [0, 1] -> bins 0..B-1
    # One bincount over (sample, channel, bin) for the whole layer.
    flat = (np.arange(n)[:, None, None] * c + np.arange(c)[None, None, :]) * bins + index
    counts = np.bincount(flat.ravel(), minlength=n * c * bins).reshape(n, c, bins)
    return histogram_entropy(counts)


def _kernel_scales(distances: np.ndarray, target: float, iterations: int = 64) -> np.ndarray:
    """sigma_i with sum_j exp(-d_ij / sigma_i) = target, by bisection on log(sigma), vectorised.

    The sum grows from (number of zero distances) to k with sigma; where even sigma -> 0 gives
    more than ``target`` (many duplicates), the smallest sigma tried is kept.
    """
    positive = distances[distances > 0]
    scale = float(np.median(positive)) if positive.size else 1.0
    low = np.full(len(distances), np.log(scale * 1e-9))
    high = np.full(len(distances), np.log(scale * 1e9))
    for _ in range(iterations):
        mid = (low + high) / 2
        total = np.exp(-distances / np.exp(mid)[:, None]).sum(axis=1)
        too_big = total > target
        high = np.where(too_big, mid, high)
        low = np.where(too_big, low, mid)
    return np.exp((low + high) / 2)


def inter_sample_entropy(x: np.ndarray, k: int = DEFAULT_K) -> float:
    """Inter-sample entropy (bits) of the rows of ``x`` (Shen et al., equations 4-7).

    For each row, its k nearest neighbours (Euclidean, itself excluded) give
    P(j|i) = exp(-d_ij / sigma_i), sigma_i chosen so that sum_j P(j|i) = log2(k); the table is
    symmetrised as (P(j|i) + P(i|j)) / 2N, normalised to sum 1, and its Shannon entropy taken.
    More distinct rows give a larger entropy; rows that are a few points repeated give less.

    Raises:
        ValueError: fewer than k + 1 rows (each row needs k neighbours), or k < 2.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    n = len(x)
    if k < 2:
        raise ValueError(f"k must be at least 2 (log2(k) > 0), got {k}")
    if n < k + 1:
        raise ValueError(
            f"inter-sample entropy with k = {k} neighbours needs at least {k + 1} samples, "
            f"got {n}; pass more rows or a smaller k"
        )
    distances, neighbours = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    # Drop each row's match with itself (the first column, unless a duplicate tied with it).
    not_self = neighbours != np.arange(n)[:, None]
    keep = np.where(not_self.all(axis=1, keepdims=True), np.arange(k + 1) < k, not_self)
    distances = distances[keep].reshape(n, k)
    neighbours = neighbours[keep].reshape(n, k)
    sigma = _kernel_scales(distances, np.log2(k))
    p = np.exp(-distances / sigma[:, None])
    conditional = sparse.csr_matrix(
        (p.ravel(), (np.repeat(np.arange(n), k), neighbours.ravel())), shape=(n, n)
    )
    joint = (conditional + conditional.T) / (2 * n)
    weights = joint.data[joint.data > 0]
    weights = weights / weights.sum()
    return float(-(weights * np.log2(weights)).sum())


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Counts, true class (rows) x predicted class (columns), for classes 0..classes-1."""
    labels = np.asarray(labels, dtype=np.int64).ravel()
    predicted = np.asarray(predicted, dtype=np.int64).ravel()
    if labels.shape != predicted.shape:
        raise ValueError(f"{labels.shape[0]} labels but {predicted.shape[0]} predictions")
    outside = (labels < 0) | (labels >= classes) | (predicted < 0) | (predicted >= classes)
    if outside.any():
        raise ValueError(f"classes must lie in [0, {classes}); got values outside it")
    return np.bincount(labels * classes + predicted, minlength=classes * classes).reshape(
        classes, classes
    )


def conditional_entropies(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """H(label | pred = i) and H(pred | label = i) per class i, in bits, from a confusion matrix.

    H(label | pred = i) is the entropy of column i (how mixed the true classes of what was
    predicted as i are: low means precise); H(pred | label = i) that of row i (how scattered
    the predictions for class i are). A class never predicted (or never present) has no
    distribution: its value is NaN, to be shown as a gap, never as infinity or 0.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    given_pred = histogram_entropy(confusion, axis=0)
    given_label = histogram_entropy(confusion, axis=1)
    given_pred[confusion.sum(axis=0) == 0] = np.nan
    given_label[confusion.sum(axis=1) == 0] = np.nan
    return given_pred, given_label


def _pair_distances(maps: np.ndarray) -> np.ndarray:
    """Per channel, the Euclidean distance between the maps of every pair of samples: (C, M)."""
    n, c = maps.shape[0], maps.shape[-1]
    values = maps.reshape(n, -1, c).transpose(2, 0, 1)  # (C, N, P)
    squares = (values**2).sum(axis=2)
    gram = values @ values.transpose(0, 2, 1)
    d2 = squares[:, :, None] + squares[:, None, :] - 2 * gram
    i, j = np.triu_indices(n, k=1)
    return np.sqrt(np.maximum(d2[:, i, j], 0))


def _one_hot_bins(distances: np.ndarray, bins: int) -> np.ndarray:
    """(C, M) distances -> (C * bins, M) 0/1 rows: which of ``bins`` equal bins of each
    channel's own distance range every pair falls in."""
    low = distances.min(axis=1, keepdims=True)
    span = distances.max(axis=1, keepdims=True) - low
    scaled = np.divide(distances - low, span, out=np.zeros_like(distances), where=span > 0)
    index = np.minimum((scaled * bins).astype(np.int64), bins - 1)
    c, m = distances.shape
    out = np.zeros((c, bins, m), dtype=np.float32)
    out[np.arange(c)[:, None], index, np.arange(m)[None, :]] = 1.0
    return out.reshape(c * bins, m)


def channel_capacity(a: np.ndarray, b: np.ndarray, bins: int = 16) -> np.ndarray:
    """H(X) - H(X | Y) in bits between every channel of layer ``a`` and every channel of ``b``.

    For channel pair (i, j), X is the bin of the distance between two samples' feature maps
    in channel i of ``a``, Y the same in channel j of ``b``, over all pairs of samples; the 2-D
    histogram of (X, Y) gives H(X), H(Y) and H(X, Y), and H(X) - H(X | Y) = H(X) + H(Y) -
    H(X, Y) (Shen et al., section 5.3). Each channel's distances are binned over their own
    range in ``bins`` equal bins (the paper does not fix the binning).

    Cost: O(N^2 (P_a C_a + P_b C_b)) for the distances and one matrix product of
    (C_a bins) x M x (C_b bins) for all joint histograms at once, M = N (N - 1) / 2 pairs:
    about 1.3 G multiply-adds for 100 samples and 32 x 32 channels at 16 bins.

    Args:
        a, b: the two layers' outputs for the same N samples, channels last.

    Returns:
        (C_a, C_b) float64 capacities; the diagonal of a layer with itself is H(X).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) != len(b) or len(a) < 3:
        raise ValueError(f"need the same N >= 3 samples in both layers, got {len(a)} and {len(b)}")
    one_a = _one_hot_bins(_pair_distances(a), bins)
    one_b = _one_hot_bins(_pair_distances(b), bins)
    ca, cb = a.shape[-1], b.shape[-1]
    joint = (one_a @ one_b.T).reshape(ca, bins, cb, bins).transpose(0, 2, 1, 3)
    h_x = histogram_entropy(joint.sum(axis=3), axis=2)  # (Ca, Cb): marginal over Y
    h_y = histogram_entropy(joint.sum(axis=2), axis=2)
    h_xy = histogram_entropy(joint.reshape(ca, cb, bins * bins), axis=2)
    return h_x + h_y - h_xy
