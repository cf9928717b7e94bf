"""Networks nobody here designed, with synthetic data: what the scale benchmark and tests run.

Each builder returns ``(model, x, y)``: a compiled model with random weights (no download:
``keras.applications`` with ``weights=None``) and ``rows`` rows of inputs and labels drawn from
``seed``. Labels are learnable from the inputs, so probes and AUCs have something to find.

* :func:`resnet50`, :func:`efficientnet_b0`, :func:`mobilenet_v2`: ``keras.applications`` image
  classifiers of 10 classes on ``size`` x ``size`` RGB images;
* :func:`transformer_classifier`: the keras-io text classifier shape (token and position
  embedding, one Transformer block of MultiHeadAttention, LayerNormalization and a feed-forward
  network, pooled, two Dense layers), built with Keras layers only, as a Functional model.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = [
    "APPLICATIONS",
    "efficientnet_b0",
    "mobilenet_v2",
    "resnet50",
    "transformer_classifier",
]

CLASSES = 10


def _images(rows: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise images whose class is the brightest of 10 horizontal bands' mean red channel."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(rows, size, size, 3)).astype("float32")
    y = rng.integers(0, CLASSES, rows)
    bands = np.array_split(np.arange(size), CLASSES)
    for i, label in enumerate(y):
        x[i, bands[label], :, 0] += 1.0
    return x, y.astype("int32")


def _application(constructor, rows: int, size: int, seed: int):
    keras.utils.set_random_seed(seed)
    model = constructor(weights=None, input_shape=(size, size, 3), classes=CLASSES)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _images(rows, size, seed)
    return model, x, y


def resnet50(rows: int = 64, size: int = 128, seed: int = 0):
    """``keras.applications.ResNet50`` (25.6 M parameters, 53 convolutions)."""
    return _application(keras.applications.ResNet50, rows, size, seed)


def efficientnet_b0(rows: int = 64, size: int = 32, seed: int = 0):
    """``keras.applications.EfficientNetB0`` (4.1 M parameters, 81 convolutions, SE blocks)."""
    return _application(keras.applications.EfficientNetB0, rows, size, seed)


def mobilenet_v2(rows: int = 64, size: int = 32, seed: int = 0):
    """``keras.applications.MobileNetV2`` (depthwise separable convolutions)."""
    return _application(keras.applications.MobileNetV2, rows, size, seed)


APPLICATIONS = {
    "resnet50": resnet50,
    "efficientnet_b0": efficientnet_b0,
    "mobilenet_v2": mobilenet_v2,
}


@keras.saving.register_keras_serializable(package="keras_inspect_benchmarks")
class TokenAndPosition(keras.layers.Layer):
    """Token embedding plus a learned embedding of each position."""

    def __init__(self, length: int, vocab: int, width: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.length, self.vocab, self.width = length, vocab, width
        self.tokens = keras.layers.Embedding(vocab, width, name="token_embedding")
        self.positions = keras.layers.Embedding(length, width, name="position_embedding")

    def call(self, ids):
        where = keras.ops.arange(0, keras.ops.shape(ids)[-1])
        return self.tokens(ids) + self.positions(where)

    def get_config(self):
        return {
            **super().get_config(),
            "length": self.length,
            "vocab": self.vocab,
            "width": self.width,
        }


def transformer_classifier(
    rows: int = 256,
    length: int = 64,
    vocab: int = 2000,
    width: int = 32,
    heads: int = 2,
    seed: int = 0,
):
    """A Transformer-encoder text classifier (2 classes) on random token sequences.

    The label is whether the sequence holds more tokens from the lower half of the vocabulary
    than from the upper half, which attention and pooling can learn.
    """
    keras.utils.set_random_seed(seed)
    ids = keras.Input((length,), dtype="int32", name="tokens")
    h = TokenAndPosition(length, vocab, width, name="embedding")(ids)
    attended = keras.layers.MultiHeadAttention(heads, width, name="attention")(h, h)
    attended = keras.layers.Dropout(0.1, name="attention_dropout")(attended)
    h = keras.layers.LayerNormalization(epsilon=1e-6, name="norm_1")(h + attended)
    forward = keras.layers.Dense(width, activation="relu", name="ffn_1")(h)
    forward = keras.layers.Dense(width, name="ffn_2")(forward)
    forward = keras.layers.Dropout(0.1, name="ffn_dropout")(forward)
    h = keras.layers.LayerNormalization(epsilon=1e-6, name="norm_2")(h + forward)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    h = keras.layers.Dropout(0.1, name="pool_dropout")(h)
    h = keras.layers.Dense(20, activation="relu", name="dense")(h)
    out = keras.layers.Dense(2, activation="softmax", name="classes")(h)
    model = keras.Model(ids, out, name="transformer_classifier")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(rows, length)).astype("int32")
    y = ((x < vocab // 2).sum(axis=1) > length // 2).astype("int32")
    return model, x, y
