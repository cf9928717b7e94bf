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
