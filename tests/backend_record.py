"""Record one fixed model with fixed weights on the active Keras backend (run in a subprocess
by ``tests/test_backends.py``, one per backend: a process has one backend).

    KERAS_BACKEND=jax python -m tests.backend_record LOGDIR
"""

from __future__ import annotations

import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_inspect as ki  # noqa: E402


def build() -> keras.Model:
    """A CNN branch and an id branch (Embedding) meeting in a Dense layer; three classes."""
    image = keras.Input((8, 8, 1), name="image")
    ids = keras.Input((1,), dtype="int32", name="ids")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(image)
    h = keras.layers.Conv2D(6, 3, activation="tanh", name="conv2")(h)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    e = keras.layers.Flatten(name="flat")(keras.layers.Embedding(10, 3, name="emb")(ids))
    h = keras.layers.Dense(8, activation="relu", name="dense")(
        keras.layers.Concatenate(name="join")([h, e])
    )
    out = keras.layers.Dense(3, activation="softmax", name="out")(h)
    return keras.Model({"image": image, "ids": ids}, out, name="two_branch")


def data(rows: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    x = {
        "image": rng.normal(size=(rows, 8, 8, 1)).astype("float32"),
        "ids": rng.integers(0, 10, size=(rows, 1)).astype("int32"),
    }
    return x, rng.integers(0, 3, size=rows)


def record(logdir: str) -> None:
    model = build()
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()])
    x, y = data(96, 1)
    callback = ki.InspectCallback(
        logdir,
        {"train": (x, y), "serving": data(48, 2)[0]},
        quantities="full",
        projection="pca",
        asynchronous=False,
        batch_size=40,  # several batches, the last one short
    )
    callback.set_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ki.LeftOutWarning)
        callback.record(0)
        callback.record(1)
    callback.close()
    if not callback.wait(120):
        raise SystemExit("slow work did not finish")


if __name__ == "__main__":
    record(sys.argv[1])
