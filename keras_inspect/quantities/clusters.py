"""Filter clustering (TSViz level 4): which units of a layer respond alike.

Each unit is described by its activation over the same fixed rows (samples, and positions for
convolutional layers) at every checkpoint, min-max scaled to [0, 1] so that units are grouped
by the shape of their response rather than its size. k-means++ (scikit-learn) groups them into
k = max(2, units // 5) clusters with a fixed seed. Cluster ids are then renumbered to match the
previous checkpoint's clusters as closely as possible (most shared units), so a cluster keeps
its id, and its colour in the dashboard, while training moves it a little.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans

__all__ = ["NEVER_ACTIVE", "cluster_count", "match_clusters", "unit_clusters"]

NEVER_ACTIVE = -1  # the id given to units that are zero (or constant) on every row


def cluster_count(units: int) -> int:
    """k = max(2, units // 5), at most the number of units."""
    return min(units, max(2, units // 5))


def unit_clusters(
    rows: np.ndarray, previous: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Cluster id of each unit from its scaled activation vector over ``rows``.

    Args:
        rows: activations as ``(rows, units)`` (see ``neurons.unit_rows``), the same rows at
            every checkpoint.
        previous: this layer's ids at the previous checkpoint, to keep ids stable.
        seed: seed of k-means++.

    Returns:
        float32 array (units,): cluster ids 0..k-1, and ``NEVER_ACTIVE`` (-1) for units that
        are constant over every row (dead ReLUs): they have no response shape to compare. The
        cluster sizes are the counts of each id. A layer with fewer than 2 units that ever
        change (a collapsed network) has nothing to cluster: its constant units are
        ``NEVER_ACTIVE`` and a single changing unit is cluster 0 on its own.

    Raises:
        ValueError: fewer than 2 units.
    """
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] < 2:
        raise ValueError(f"need (rows, units) with at least 2 units, got shape {rows.shape}")
    low, high = rows.min(axis=0), rows.max(axis=0)
    alive = high > low
    ids = np.full(rows.shape[1], NEVER_ACTIVE, dtype=np.int64)
    if alive.sum() < 2:
        ids[alive] = 0
        return ids.astype(np.float32)
    vectors = ((rows[:, alive] - low[alive]) / (high[alive] - low[alive])).T
    k = cluster_count(int(alive.sum()))
    model = KMeans(n_clusters=k, init="k-means++", n_init=1, random_state=seed)
    ids[alive] = model.fit_predict(vectors)
    if previous is not None:
        ids = match_clusters(ids, np.asarray(previous))
    return ids.astype(np.float32)


def match_clusters(ids: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Renumbers ``ids`` so that each cluster takes the previous id it shares most units with.

    A maximum-overlap assignment (Hungarian algorithm, SciPy) between the new and the previous
    clusters; new clusters left unmatched take the smallest free ids. ``NEVER_ACTIVE`` stays.
    """
    ids = np.asarray(ids, dtype=np.int64)
    previous = np.asarray(previous, dtype=np.int64)
    if previous.shape != ids.shape:
        return ids  # the layer changed shape: nothing to match
    new_ids = sorted(set(ids[ids != NEVER_ACTIVE].tolist()))
    old_ids = sorted(set(previous[previous != NEVER_ACTIVE].tolist()))
    if not new_ids or not old_ids:
        return ids
    # Units shared by every (new, previous) pair of clusters, counted in one pass.
    both = (ids != NEVER_ACTIVE) & (previous != NEVER_ACTIVE)
    rows = np.searchsorted(new_ids, ids[both])
    cols = np.searchsorted(old_ids, previous[both])
    overlap = np.zeros((len(new_ids), len(old_ids)), dtype=np.int64)
    np.add.at(overlap, (rows, cols), 1)
    rows, cols = linear_sum_assignment(-overlap)
    mapping = {new_ids[r]: old_ids[c] for r, c in zip(rows, cols, strict=True)}
    free = iter(i for i in range(len(new_ids) + len(old_ids)) if i not in mapping.values())
    for a in new_ids:
        if a not in mapping:
            mapping[a] = next(free)
    out = ids.copy()
    for a, b in mapping.items():
        out[ids == a] = b
    return out
