"""Quantity names and presets."""

from __future__ import annotations

import pytest

from keras_inspect.errors import ConfigError
from keras_inspect.presets import PRESETS, QUANTITIES, resolve_quantities


def test_presets_are_cumulative_and_known():
    assert set(PRESETS["light"]) <= set(PRESETS["standard"]) <= set(PRESETS["full"])
    assert set(PRESETS["full"]) <= set(QUANTITIES)
    assert resolve_quantities("light") == (PRESETS["light"], False)


def test_lists_are_put_in_cost_order():
    assert resolve_quantities(["probe_auc", "neuron_mean"]) == (("neuron_mean", "probe_auc"), True)


@pytest.mark.parametrize(
    ("quantities", "match"),
    [
        ("heavy", "'heavy' is not a preset"),
        ([], "non-empty list"),
        (["neuron_mean", "neuron_median"], r"unknown names \['neuron_median'\]"),
        (42, "preset name or a non-empty list"),
    ],
)
def test_unknown_names_are_refused(quantities, match):
    with pytest.raises(ConfigError, match=match):
        resolve_quantities(quantities)
