"""What the callback decides before the first epoch about wide layers and large feature maps."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_inspect as ki
from keras_inspect import layout


def wide_model():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(300, activation="relu", name="wide"),
            keras.layers.Dense(20, activation="relu", name="narrow"),
            keras.layers.Dense(1, activation="sigmoid", name="out"),
        ]
    )
    model.compile("adam", "binary_crossentropy")
    x = np.random.default_rng(0).normal(size=(200, 6)).astype("float32")
    return model, x, (x[:, 0] > 0).astype("int32")


def test_a_wide_layer_is_correlated_over_a_subset_recorded_once_and_said_once(tmp_path):
    model, x, y = wide_model()
    callback = ki.InspectCallback(tmp_path, {"train": (x, y)}, seed=5)
    with pytest.warns(ki.LeftOutWarning) as caught:
        model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    said = [str(w.message) for w in caught if "correlation_units" in str(w.message)]
    assert len(said) == 1 and "wide (300)" in said[0] and "narrow" not in said[0]
    frame = ki.load(tmp_path)
    units = frame[frame.quantity == "correlation_units"]
    assert units.layer.tolist() == ["wide"] and units.step.tolist() == [0]  # once
    kept = units.value.iloc[0]
    assert len(kept) == layout.MAX_CORRELATION_UNITS and kept.dtype.kind == "i"
    last = frame[(frame.step == 1) & (frame.quantity == "correlation_matrix")]
    matrix = last[last.layer == "wide"].value.iloc[0]
    pre = x @ model.get_layer("wide").get_weights()[0] + model.get_layer("wide").get_weights()[1]
    live = pre[:, kept].std(0) > 0
    expected = np.corrcoef(pre[:, kept][:, live], rowvar=False)
    np.testing.assert_allclose(matrix[np.ix_(live, live)], expected, atol=2e-3)  # float16
    assert last[last.layer == "narrow"].value.iloc[0].shape == (20, 20)


def conv_model():
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_1"),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_2"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax", name="out"),
        ]
    )
    x = np.random.default_rng(1).normal(size=(60, 12, 12, 1)).astype("float32")
    return model, x, (x[:, :6].mean(axis=(1, 2, 3)) > 0).astype("int32")


def test_large_maps_use_fewer_first_rows_and_say_so(tmp_path, monkeypatch):
    model, x, y = conv_model()
    per_row = 4 * (10 * 10 * 8 + 8 * 8 * 8 + 2)
    monkeypatch.setattr(layout, "MAP_BYTES", per_row * 20)  # room for 20 rows of maps
    callback = ki.InspectCallback(
        tmp_path, {"train": (x, y)}, quantities="full", projection="pca", asynchronous=False
    )
    callback.set_model(model)
    with pytest.warns(ki.LeftOutWarning) as caught:
        callback.on_train_begin()
    said = [str(w.message) for w in caught if "first 20 rows" in str(w.message)]
    assert len(said) == 1
    assert callback._binding.map_rows == {"train": 20}
    callback.record(0)
    callback.close()
    frame = ki.load(tmp_path)
    assert "entropy_inter" in set(frame.quantity)  # 20 rows > k = 15


def test_maps_too_large_for_the_knn_entropy(tmp_path, monkeypatch):
    model, x, y = conv_model()
    per_row = 4 * (10 * 10 * 8 + 8 * 8 * 8 + 2)
    monkeypatch.setattr(layout, "MAP_BYTES", per_row * 10)  # 10 rows: fewer than 16
    callback = ki.InspectCallback(tmp_path, {"train": (x, y)}, quantities=["entropy_inter"])
    callback.set_model(model)
    with pytest.raises(ki.ConfigError, match=r"only 10 rows fit .*entropy_inter needs 16"):
        callback.on_train_begin()
    preset = ki.InspectCallback(tmp_path, {"train": (x, y)}, quantities="full")
    preset.set_model(model)
    with pytest.warns(ki.LeftOutWarning, match=r"leaving out \['entropy_inter'\]"):
        preset.on_train_begin()
    assert "entropy_inter" not in preset._computer.wanted


def ids_model():
    ids = keras.Input((4,), dtype="int32", name="ids")
    h = keras.layers.Flatten()(keras.layers.Embedding(30, 3, name="embed")(ids))
    h = keras.layers.Dense(5, activation="relu", name="hidden")(h)
    model = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid", name="out")(h))
    x = np.random.default_rng(1).integers(0, 30, size=(64, 4)).astype("int32")
    return model, x, (x[:, 0] > 15).astype("int32")


def test_what_a_model_has_no_use_for_is_said_once_and_refused_when_listed(tmp_path):
    model, x, y = ids_model()  # integer ids only, and no layer with feature maps
    preset = ki.InspectCallback(tmp_path, {"train": (x, y)}, quantities="full")
    preset.set_model(model)
    with pytest.warns(ki.LeftOutWarning) as caught:
        preset.on_train_begin()
    said = " ".join(str(w.message) for w in caught)
    assert "leaving out ['input_saliency'] because every input of model" in said
    assert "leaving out ['entropy_intra'] because no inspected layer has feature maps" in said
    assert {"input_saliency", "entropy_intra"}.isdisjoint(preset._computer.wanted)
    for listed in ("input_saliency", "entropy_intra"):
        callback = ki.InspectCallback(tmp_path, {"train": (x, y)}, quantities=[listed])
        callback.set_model(model)
        with pytest.raises(ki.ConfigError, match=rf"quantities \['{listed}'\] cannot be computed"):
            callback.on_train_begin()


def test_the_output_layer_gets_no_dead_fraction_and_one_unit_no_correlation(tmp_path):
    model, x, y = wide_model()
    callback = ki.InspectCallback(tmp_path, {"train": (x, y)})
    with pytest.warns(ki.LeftOutWarning) as caught:
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    said = " ".join(str(w.message) for w in caught)
    assert "dead_fraction leaves out the output layers ['out']" in said
    assert "leave out one-unit layers ['out']" in said
    frame = ki.load(tmp_path)
    assert set(frame[frame.quantity == "dead_fraction"].layer) == {"wide", "narrow"}
    assert set(frame[frame.quantity == "correlation_mean_abs"].layer) == {"wide", "narrow"}
