"""Channel capacity through the callback: default and named layer pairs, refused bad pairs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_inspect as ki
from tests.models import sequential_conv2d


def fit(tmp_path, **kwargs):
    model, x, y = sequential_conv2d()
    model.compile("adam", "sparse_categorical_crossentropy")
    callback = ki.InspectCallback(str(tmp_path), {"train": (x, y)}, strict=True, **kwargs)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    return ki.load(str(tmp_path))


def test_consecutive_conv_layers_by_default(tmp_path):
    frame = fit(tmp_path, quantities=["channel_capacity"])
    capacity = frame[frame.quantity == "channel_capacity"]
    assert list(capacity["pair"]) == ["conv_a->conv_b"]
    value = capacity.value.iloc[0]
    assert value.shape == (4, 3) and np.isfinite(value).all() and (value >= -1e-9).all()


def test_named_pairs_and_a_layer_with_itself(tmp_path):
    frame = fit(
        tmp_path,
        quantities=["channel_capacity"],
        layer_pairs=[("conv_a", "conv_a"), ("conv_a", "conv_b")],
    )
    capacity = frame[frame.quantity == "channel_capacity"].set_index("pair").value
    self_pair = capacity["conv_a->conv_a"]
    # A channel with itself carries its whole distance entropy: the most of its row.
    assert (self_pair.diagonal() >= self_pair.max(axis=1) - 1e-6).all()


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([("conv_a", "out")], r"layer 'out' has outputs of shape \(3,\), without positions"),
        ([("conv_a", "nope")], r"'nope', which is not an inspected layer"),
    ],
)
def test_bad_pairs_are_refused_when_training_starts(tmp_path, pairs, message):
    with pytest.raises(ki.ConfigError, match=message):
        fit(tmp_path, quantities=["channel_capacity"], layer_pairs=pairs)


@pytest.mark.parametrize("pairs", ["conv_a", [("conv_a",)], [], [(1, 2)]])
def test_malformed_pairs_fail_at_once(tmp_path, pairs):
    with pytest.raises(ki.ConfigError, match="layer_pairs must be None or a non-empty list"):
        ki.InspectCallback(str(tmp_path), {"train": np.zeros((4, 2))}, layer_pairs=pairs)


def test_without_two_map_layers_a_preset_leaves_capacity_out(tmp_path):
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(3, name="d"), keras.layers.Dense(1)]
    )
    model.compile("adam", "mse")
    x = np.random.default_rng(0).normal(size=(32, 5)).astype("float32")
    y = x[:, :1]
    callback = ki.InspectCallback(str(tmp_path / "a"), {"train": (x, y)}, quantities="full")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    assert "channel_capacity" not in set(ki.load(str(tmp_path / "a")).quantity)
    named = ki.InspectCallback(
        str(tmp_path / "b"), {"train": (x, y)}, quantities=["channel_capacity"]
    )
    with pytest.raises(ki.ConfigError, match="fewer than two inspected layers have feature maps"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[named])
