"""Budgets and fixed subsets: what a checkpoint looks at does not grow with rows."""

from __future__ import annotations

import numpy as np

from keras_inspect import layout


def test_subsets_are_fixed_sorted_and_nested():
    plan = layout.layer_plan("conv", (64, 64, 300), seed=2)
    again = layout.layer_plan("conv", (64, 64, 300), seed=2)
    for a, b in zip(
        (plan.units, plan.positions, plan.correlated),
        (again.units, again.positions, again.correlated),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert len(plan.units) == layout.MAX_CORRELATION_UNITS and plan.units.max() < 300
    assert len(plan.positions) == layout.MAX_STAT_POSITIONS and plan.positions.max() < 4096
    assert len(plan.correlated) == layout.MAX_CORRELATION_POSITIONS
    assert set(plan.correlated) <= set(plan.positions)
    assert list(plan.positions) == sorted(set(plan.positions))
    other = layout.layer_plan("conv_2", (64, 64, 300), seed=2)
    assert not np.array_equal(other.units, plan.units)  # each layer its own subset


def test_small_layers_are_taken_whole():
    plan = layout.layer_plan("dense", (256,), seed=0)
    assert plan.positions is None and plan.correlated is None
    assert len(plan.units) == 128
    plan = layout.layer_plan("conv", (8, 8, 16), seed=0)  # 64 positions, 16 units
    assert plan.units is None and plan.positions is None and plan.correlated is None
    plan = layout.layer_plan("seq", (100, 4), seed=0)
    assert plan.positions is None and len(plan.correlated) == 64


def test_row_budgets_do_not_depend_on_the_dataset():
    resnet_like = [(64, 64, 64), (32, 32, 256), (4, 4, 2048)]
    rows = layout.batch_rows((shape, 2) for shape in resnet_like)
    per_row = 2 * 4 * sum(int(np.prod(s)) for s in resnet_like)
    assert rows == layout.BATCH_BYTES // per_row
    assert layout.batch_rows([((10**9,), 1)]) == 1  # at least one row
    wide = [(4, 4, 2048)] * 20  # 40,960 pooled features a row
    assert layout.feature_rows(wide, 10**6) == layout.FEATURE_BYTES // (4 * 40960) < 2048
    assert layout.feature_rows(resnet_like, 10**6) == layout.FEATURE_ROWS
    assert layout.feature_rows([(32,)], 10**6) == layout.FEATURE_ROWS
    assert layout.feature_rows([(32,)], 100) == 100
    assert layout.map_rows(resnet_like, 2048) == layout.MAP_BYTES // (
        4 * sum(int(np.prod(s)) for s in resnet_like)
    )
    assert layout.map_rows([(8, 8, 16)], 2048) == 2048


def test_feature_width_follows_the_probes_rule():
    assert layout.feature_width((256,)) == 256
    assert layout.feature_width((8, 8, 16)) == 1024  # flattened up to 1,024 values
    assert layout.feature_width((8, 8, 17)) == 17  # else one mean per unit
    assert layout.feature_width((5000,)) == 5000  # no positions to average over
