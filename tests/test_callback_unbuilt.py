"""Models that are not built when ``fit`` starts: the callback binds once Keras has built them.

On TensorFlow Keras builds a subclassed model, or a Sequential without an ``Input``, in the
first training step, after ``on_train_begin``; JAX and PyTorch build it symbolically before.
Either way the callback passed straight to ``fit`` records every layer, and every check that
depends on the model is made before the first checkpoint's work.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_inspect as ki
from keras_inspect.errors import ConfigError

ROWS = 48


def _data(shape=(6,), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, *shape)).astype("float32")
    flat = x.reshape(ROWS, -1)
    return x, (flat[:, 0] + flat[:, 1] > 0).astype("int32")


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(8, activation="relu", name="hidden")
        self.block = keras.Sequential([keras.layers.Dense(5, activation="tanh", name="inner")])
        self.head = keras.layers.Dense(2, activation="softmax", name="head")

    def call(self, x, training=False):
        return self.head(self.block(self.hidden(x), training=training))


class CustomStep(Subclassed):
    """Its own train_step (the usual way to write GAN-like or multi-loss trainings)."""

    def train_step(self, *args, **kwargs):
        return super().train_step(*args, **kwargs)


class TransformerBlock(keras.Model):
    """An encoder block over a (rows, 6, 4) sequence: attention, norm, feed-forward, pooling."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.attention = keras.layers.MultiHeadAttention(2, 4, name="attention")
        self.norm = keras.layers.LayerNormalization(name="norm")
        self.ffn = keras.layers.Dense(8, activation="relu", name="ffn")
        self.pool = keras.layers.GlobalAveragePooling1D(name="pool")
        self.head = keras.layers.Dense(2, activation="softmax", name="head")

    def call(self, x, training=False):
        h = self.norm(x + self.attention(x, x, training=training))
        return self.head(self.pool(self.ffn(h)))


def _sequential():
    return keras.Sequential(
        [keras.layers.Dense(8, activation="relu", name="hidden"),
         keras.layers.Dense(2, activation="softmax", name="head")]
    )


def _nested():
    inner = keras.Sequential([keras.layers.Dense(8, activation="relu", name="hidden")])
    return keras.Sequential([inner, keras.layers.Dense(2, activation="softmax", name="head")])


class TransferLearning(keras.Model):
    """keras.applications' MobileNetV2 (built) as the base of an unbuilt subclassed model."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.base = keras.applications.MobileNetV2(
            input_shape=(32, 32, 3), include_top=False, weights=None, alpha=0.35
        )
        self.pool = keras.layers.GlobalAveragePooling2D(name="gap")
        self.head = keras.layers.Dense(2, activation="softmax", name="head")

    def call(self, x, training=False):
        return self.head(self.pool(self.base(x, training=training)))


FAMILIES = {
    "subclassed": (lambda: Subclassed(), (6,), "hidden"),
    "custom_train_step": (lambda: CustomStep(), (6,), "hidden"),
    "sequential_without_input": (_sequential, (6,), "hidden"),
    "nested_sequential": (_nested, (6,), "hidden"),
    "transformer_block": (lambda: TransformerBlock(), (6, 4), "ffn"),
    "mobilenet_v2_transfer_learning": (lambda: TransferLearning(), (32, 32, 3), "Conv1"),
}


def _fit(model, x, y, callback, batch_size=16, epochs=2, more=()):
    model.compile("adam", "sparse_categorical_crossentropy")
    assert not model.built
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
              callbacks=[callback, *more])


# MobileNetV2 compiles for ~37 s on JAX: slow, so it runs in the full suite on TensorFlow, the
# backend that builds models late; the JAX and PyTorch legs run the small families.
@pytest.mark.parametrize(
    "family",
    [
        pytest.param(name, marks=[pytest.mark.slow] if "mobilenet" in name else [])
        for name in sorted(FAMILIES)
    ],
)
def test_an_unbuilt_model_is_recorded_when_the_callback_goes_straight_to_fit(tmp_path, family):
    make, shape, layer = FAMILIES[family]
    x, y = _data(shape)
    callback = ki.InspectCallback(
        tmp_path, {"train": (x, y), "test": (x[:24], y[:24])}, quantities="light"
    )
    _fit(make(), x, y, callback)
    frame = ki.load(tmp_path)
    std = frame[(frame.quantity == "neuron_std") & (frame.layer == layer)]
    assert sorted(set(std.step)) == [0, 1]
    assert set(std.dataset) == {"train", "test"}
    assert "head" in set(frame.layer)


def test_with_one_batch_an_epoch_the_model_is_bound_at_the_first_checkpoint(tmp_path):
    x, y = _data()
    callback = ki.InspectCallback(tmp_path, {"train": (x, y)}, quantities="light")
    _fit(Subclassed(), x, y, callback, batch_size=ROWS)
    frame = ki.load(tmp_path)
    assert sorted(set(frame[frame.quantity == "neuron_std"].step)) == [0, 1]


class _Batches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1


def test_a_model_dependent_error_comes_before_the_first_checkpoint(tmp_path):
    x, y = _data()
    callback = ki.InspectCallback(tmp_path, {"train": (x, y)}, layers="no_such_layer")
    batches = _Batches()
    with pytest.raises(ConfigError, match="no_such_layer"):
        _fit(Subclassed(), x, y, callback, batch_size=8, epochs=3, more=[batches])
    # TensorFlow builds the model in the first step, so the check follows it; JAX and
    # PyTorch build it before training, so the check precedes every step.
    assert batches.done <= 1
    assert not (tmp_path / "inspect").exists()


def test_a_model_never_built_gets_an_error_that_says_how_to_build_it(tmp_path):
    x, y = _data()
    callback = ki.InspectCallback(tmp_path, {"train": (x, y)})
    callback.set_model(Subclassed())
    with pytest.raises(ConfigError, match=r"is not built.*model\.build\(input_shape\)"):
        callback.record(0)
