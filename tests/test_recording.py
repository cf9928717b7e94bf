"""Which layers are inspected by default."""

from __future__ import annotations

import keras
import numpy as np

import keras_inspect as ki
from keras_inspect.recording import default_layers


def _time_distributed():
    inputs = keras.Input((5, 4))
    h = keras.layers.TimeDistributed(
        keras.layers.Dense(6, activation="relu"), name="per_step"
    )(inputs)
    h = keras.layers.GRU(3, name="gru")(h)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="out")(h)
    return keras.Model(inputs, outputs)


def test_a_time_distributed_transform_is_inspected_by_default(tmp_path):
    model = _time_distributed()
    assert [layer.name for layer in default_layers(model)] == ["per_step", "gru", "out"]
    x = np.random.default_rng(0).normal(size=(40, 5, 4)).astype("float32")
    callback = ki.InspectCallback(tmp_path, {"train": x}, quantities=["neuron_mean"])
    callback.set_model(model)
    callback.record(0)
    callback.close()
    frame = ki.load(tmp_path)
    recorded = frame[(frame.quantity == "neuron_mean") & (frame.layer == "per_step")].value
    dense = model.get_layer("per_step").layer
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in dense.weights)
    expected = np.maximum(x @ kernel + bias, 0).reshape(-1, 6).mean(0)  # every row and step
    np.testing.assert_allclose(recorded.iloc[0], expected, rtol=1e-5, atol=1e-6)


def test_a_mixed_bfloat16_model_records_its_feature_maps(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        inputs = keras.Input((8, 8, 2))
        h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inputs)
        h = keras.layers.GlobalAveragePooling2D()(h)
        outputs = keras.layers.Dense(2, activation="softmax", dtype="float32", name="out")(h)
        model = keras.Model(inputs, outputs)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    x = np.random.default_rng(0).normal(size=(20, 8, 8, 2)).astype("float32")
    callback = ki.InspectCallback(
        tmp_path, {"train": x}, quantities=["feature_maps", "neuron_mean"], asynchronous=False
    )
    callback.set_model(model)
    callback.record(0)  # an InspectWarning (a map the writer refused) fails the test
    callback.close()
    frame = ki.load(tmp_path)
    maps = frame[(frame.quantity == "feature_maps") & (frame.layer == "conv")]
    assert len(maps) > 0 and maps.value.iloc[0].shape == (6, 6, 3)
    expected = keras.ops.convert_to_numpy(
        keras.ops.cast(keras.Model(inputs, model.get_layer("conv").output)(x[:1]), "float32")
    )[0]
    np.testing.assert_allclose(maps.value.iloc[0], expected, rtol=1e-2, atol=1e-2)
