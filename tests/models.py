"""Small models of every family the callback supports, with data to feed them.

Each builder returns ``(model, x, y)`` for a model that has been called (so it is built), with
``x`` in the structure ``fit`` takes. Shared by the capture, callback and end-to-end tests.
"""

from __future__ import annotations

import keras
import numpy as np

N = 96

# Whether the capture passes are traced (TensorFlow, JAX) or run eagerly at every call (PyTorch).
COMPILES = keras.backend.backend() != "torch"
# Whether float64 tensors exist on this backend (JAX needs jax_enable_x64 for them).
HAS_FLOAT64 = keras.backend.backend() != "jax" or bool(__import__("jax").config.jax_enable_x64)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _binary(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(len(x), -1)
    return (flat[:, 0] + 0.5 * flat[:, 1] > 0).astype("int32")


def sequential_no_input():
    x = _rng().normal(size=(N, 6)).astype("float32")
    model = keras.Sequential(
        [
            keras.layers.Dense(8, activation="relu", name="dense_a"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Dropout(0.3, name="drop"),
            keras.layers.Dense(4, activation="tanh", name="dense_b"),
            keras.layers.Dense(1, activation="sigmoid", name="out"),
        ]
    )
    model(x[:2])
    return model, x, _binary(x)


def sequential_conv2d():
    x = _rng(1).normal(size=(N, 8, 8, 2)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv_a"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Conv2D(3, 2, activation="relu", padding="same", name="conv_b"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )
    y = (x[:, :4, :, 0].mean(axis=(1, 2)) > 0).astype("int32") + (
        x[:, 4:, :, 1].mean(axis=(1, 2)) > 0
    )
    return model, x, y.astype("int32")


def functional_multi_io():
    rng = _rng(2)
    x = {
        "series": rng.normal(size=(N, 10, 2)).astype("float32"),
        "ids": rng.integers(0, 20, size=(N, 3)).astype("int32"),
    }
    series = keras.Input((10, 2), name="series")
    ids = keras.Input((3,), name="ids", dtype="int32")
    h = keras.layers.Conv1D(5, 3, activation="relu", name="conv1d")(series)
    h = keras.layers.AveragePooling1D(2, name="avgpool")(h)
    h = keras.layers.LSTM(4, return_sequences=True, name="lstm")(h)
    h = keras.layers.GRU(3, name="gru")(h)
    e = keras.layers.Embedding(20, 4, name="embed")(ids)
    e = keras.layers.Flatten(name="flat")(e)
    z = keras.layers.Concatenate(name="concat")([h, e])
    z = keras.layers.Dense(6, activation="relu", name="dense")(z)
    main = keras.layers.Dense(1, activation="sigmoid", name="click")(z)
    aux = keras.layers.Dense(2, name="aux")(z)
    model = keras.Model({"series": series, "ids": ids}, {"click": main, "aux": aux})
    y = (x["series"][:, :, 0].mean(axis=1) > 0).astype("int32")
    return model, x, y


class TwoTower(keras.Model):
    """A subclassed model with a nested block and a regression head."""

    def __init__(self):
        super().__init__(name="two_tower")
        self.hidden = keras.layers.Dense(7, activation="relu", name="sub_hidden")
        self.block = keras.Sequential(
            [keras.layers.Dense(5, activation="elu", name="sub_inner")], name="block"
        )
        self.head = keras.layers.Dense(1, name="sub_head")

    def call(self, x, training=False):
        return self.head(self.block(self.hidden(x), training=training))


def subclassed_regression():
    x = _rng(3).normal(size=(N, 4)).astype("float32")
    model = TwoTower()
    model(x[:2])
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1).astype("float32")
    return model, x, y


FAMILIES = {
    "sequential_no_input": sequential_no_input,
    "sequential_conv2d": sequential_conv2d,
    "functional_multi_io": functional_multi_io,
    "subclassed_regression": subclassed_regression,
}


def two_tower_numpy(model: TwoTower, x: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Oracle for :class:`TwoTower`: layer name -> (output, pre-activation), in NumPy."""
    (w1, b1), (w2, b2), (w3, b3) = (
        layer.get_weights() for layer in (model.hidden, model.block.layers[0], model.head)
    )
    pre1 = x @ w1 + b1
    h1 = np.maximum(pre1, 0)
    pre2 = h1 @ w2 + b2
    h2 = np.where(pre2 > 0, pre2, np.expm1(pre2))
    out = h2 @ w3 + b3
    return {"sub_hidden": (h1, pre1), "sub_inner": (h2, pre2), "sub_head": (out, out)}


def linear_twin(layer: keras.layers.Layer, inputs: np.ndarray) -> np.ndarray:
    """Oracle for a pre-activation: a fresh copy of ``layer`` without activation, same weights."""
    config = {**layer.get_config(), "activation": None, "name": f"{layer.name}_twin"}
    twin = layer.__class__.from_config(config)
    twin.build(inputs.shape)
    twin.set_weights(layer.get_weights())
    return keras.ops.convert_to_numpy(twin(inputs))


def keyed_records(frame) -> dict[tuple, object]:
    """``ki.load``'s frame as {(step, dataset, layer, quantity, extra axes...): value}."""
    keys = [c for c in frame.columns if c not in ("run", "value", "wall_time")]
    return {tuple(str(row[c]) for c in keys): row["value"] for _, row in frame.iterrows()}
