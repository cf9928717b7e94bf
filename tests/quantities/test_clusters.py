"""Filter clusters: duplicated filters cluster together; ids stay stable across checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from keras_inspect.quantities.clusters import (
    NEVER_ACTIVE,
    cluster_count,
    match_clusters,
    unit_clusters,
)


def test_k_is_a_fifth_of_the_units_at_least_two():
    assert [cluster_count(u) for u in (2, 4, 10, 11, 64)] == [2, 2, 2, 2, 12]


def test_copies_of_a_unit_land_in_one_cluster_and_dead_units_apart():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(500, 6))
    rows = np.concatenate(
        [base, base[:, [0, 0, 0]] * [1.0, 2.0, 5.0], np.zeros((500, 2))], axis=1
    )  # units 6-8: scaled copies of unit 0; units 9-10 never active
    ids = unit_clusters(rows, seed=0)
    assert ids.shape == (11,)
    assert len({ids[0], ids[6], ids[7], ids[8]}) == 1
    assert list(ids[9:]) == [NEVER_ACTIVE, NEVER_ACTIVE]
    assert set(ids[:9]) <= set(range(cluster_count(9)))


def test_ids_follow_the_previous_checkpoint():
    previous = np.array([0, 0, 1, 1, 2, 2, -1])
    relabelled = np.array([2, 2, 0, 0, 1, 1, -1])  # same clusters, other numbers
    np.testing.assert_array_equal(match_clusters(relabelled, previous), previous)
    moved = np.array([1, 1, 1, 0, 2, 2, -1])  # unit 2 joined cluster "0"'s units
    out = match_clusters(moved, previous)
    assert out[0] == out[1] == out[2] == 0 and out[4] == out[5] == 2 and out[6] == NEVER_ACTIVE


def test_stable_ids_across_a_small_change():
    rng = np.random.default_rng(3)
    bases = rng.normal(size=(300, 4))  # 4 response shapes, 5 units each: k = 20 // 5 = 4
    rows = np.repeat(bases, 5, axis=1) + 0.05 * rng.normal(size=(300, 20))
    first = unit_clusters(rows, seed=0)
    assert len(set(first)) == 4
    later = rows + 0.01 * rng.normal(size=rows.shape)
    for seed in range(1, 6):  # other seeds number the same clusters differently ...
        np.testing.assert_array_equal(unit_clusters(later, previous=first, seed=seed), first)
    relabelled = [unit_clusters(later, seed=seed) for seed in range(1, 6)]
    assert any((r != first).any() for r in relabelled)  # ... unless matched to the last ones


def test_a_collapsed_layer_is_never_active_not_an_error():
    # every unit constant (a collapsed from-scratch network): all never active
    np.testing.assert_array_equal(unit_clusters(np.zeros((10, 4))), [NEVER_ACTIVE] * 4)
    # one unit changes: a cluster on its own, the rest never active
    rows = np.zeros((10, 4))
    rows[:, 2] = np.arange(10)
    never = NEVER_ACTIVE
    np.testing.assert_array_equal(unit_clusters(rows), [never, never, 0, never])


def test_fewer_than_two_units_are_refused():
    with pytest.raises(ValueError, match="at least 2 units"):
        unit_clusters(np.ones((10, 1)))


def test_matching_maximises_the_shared_units_of_a_brute_force_count():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(7)
    previous = rng.integers(-1, 6, size=300)
    ids = np.where(rng.random(300) < 0.8, previous, rng.integers(-1, 8, size=300))
    matched = match_clusters(ids, previous)
    new_ids = sorted(set(ids[ids != -1].tolist()))
    old_ids = sorted(set(previous[previous != -1].tolist()))
    overlap = np.array([[np.sum((ids == a) & (previous == b)) for b in old_ids] for a in new_ids])
    best = overlap[linear_sum_assignment(-overlap)].sum()
    live = (matched != -1) & (previous != -1)
    assert np.sum(matched[live] == previous[live]) == best  # as many units kept as possible
    np.testing.assert_array_equal(matched == -1, ids == -1)
    # a renumbering: units together before are together after
    for a in new_ids:
        assert len(set(matched[ids == a].tolist())) == 1
