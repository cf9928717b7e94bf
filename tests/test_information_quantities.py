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
    callback = ki.InspectCallback(
        str(tmp_path / "a"), {"train": (x, y)}, quantities="full", projection="pca"
    )
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    assert "channel_capacity" not in set(ki.load(str(tmp_path / "a")).quantity)
    named = ki.InspectCallback(
        str(tmp_path / "b"), {"train": (x, y)}, quantities=["channel_capacity"]
    )
    with pytest.raises(ki.ConfigError, match="fewer than two inspected layers have feature maps"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[named])


def test_too_few_rows_for_the_knn_entropy_are_refused_with_the_numbers(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 5)).astype("float32")
    datasets = {"train": (x, x[:, 0] > 0), "serving": x[:10]}
    with pytest.raises(ki.ConfigError) as caught:
        ki.InspectCallback(str(tmp_path), datasets, quantities=["entropy_inter"])
    message = str(caught.value)
    assert "entropy_inter needs at least 16 rows per dataset" in message
    assert "k = 15 nearest neighbours" in message and "'serving' has 10" in message
    assert "'train'" not in message  # 40 rows are enough
    with pytest.raises(ki.ConfigError, match="'serving' has 2. Give those datasets at least 3"):
        ki.InspectCallback(str(tmp_path), {"serving": x[:2]}, quantities=["channel_capacity"])


def test_a_preset_leaves_small_and_unlabelled_datasets_out_and_says_so(tmp_path):
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, name="d"), keras.layers.Dense(1, "sigmoid")]
    )
    model.compile("adam", "binary_crossentropy")
    x = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    datasets = {"train": (x, y), "serving": x[:40], "tiny": (x[:8], y[:8])}
    with pytest.warns(ki.InspectWarning) as caught:
        callback = ki.InspectCallback(
            str(tmp_path), datasets, quantities="full", projection="pca", asynchronous=False
        )
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    ours = [w for w in caught if issubclass(w.category, ki.InspectWarning)]
    said = [str(w.message) for w in ours]
    unlabelled = [m for m in said if "have no labels" in m]
    assert len(unlabelled) == 1 and "['serving']" in unlabelled[0], said
    assert "model_auc" in unlabelled[0]
    small = [m for m in said if "entropy_inter leaves out" in m]
    assert len(small) == 1 and "'tiny' has 8" in small[0], said
    frame = ki.load(str(tmp_path))
    inter = frame[frame.quantity == "entropy_inter"]
    assert set(inter.dataset) == {"train", "serving"}  # not the 8-row dataset
    labelled_only = frame[frame.quantity == "model_auc"]
    assert set(labelled_only.dataset) == {"train", "tiny"}
    # said as what a preset leaves out, not as failures
    assert all(issubclass(w.category, ki.LeftOutWarning) for w in ours), said
