"""Synthetic trainings whose diagnoses are known, for the findings tests.

Each function trains a small model with the callback into ``root/<name>`` and returns the
model and its datasets; what it is built to show is in its docstring. Seeds are fixed, so the
trainings repeat.
"""

from __future__ import annotations

import os

import keras
import numpy as np

import keras_inspect as ki

GROUPS = ("user_id", "category", "region", "device")


def _fit(model, root, name, datasets, x, y, epochs, batch_size=64, **kwargs):
    callback = ki.InspectCallback(
        os.path.join(root, name), datasets, asynchronous=False, seed=0, **kwargs
    )
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[callback])
    return model, datasets


def _ctr_rows(rng, rows, users):
    x = {
        "user_id": rng.integers(0, users, rows),
        "category": rng.integers(0, 8, rows),
        "region": rng.integers(0, 6, rows),
        "device": rng.integers(0, 3, rows),
    }
    logit = 1.5 * np.sin(x["category"]) + 0.8 * (x["region"] - 2.5) / 2.5
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype("float32")
    return x, y


def memorising_ctr(root: str, name: str = "memorise"):
    """A CTR-like model with a 3,000-id user embedding and no regularisation, trained long on
    few rows: the ids carry no signal, so it learns them by heart: user_id's saliency share
    rises while both test days' AUC falls (memorisation of user_id, and over-fitting)."""
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x, y = _ctr_rows(rng, 3000, 3000)
    tests = {f"test{i}": _ctr_rows(rng, 1500, 3000) for i in (1, 2)}
    inputs = {g: keras.Input((), dtype="int32", name=g) for g in GROUPS}
    sizes = {"user_id": 3000, "category": 8, "region": 6, "device": 3}
    embedded = [keras.layers.Embedding(sizes[g], 8, name=f"emb_{g}")(inputs[g]) for g in GROUPS]
    h = keras.layers.Concatenate(name="concat")(embedded)
    h = keras.layers.Dense(64, activation="relu", name="dense_1")(h)
    h = keras.layers.Dense(32, activation="relu", name="dense_2")(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="ctr")(h)
    model = keras.Model(inputs, out)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")
    return _fit(model, root, name, {"train": (x, y), **tests}, x, y, epochs=10)


def dead_layer(root: str, name: str = "dead", **kwargs):
    """``dead`` (ReLU with bias -20: never fires) beside ``healthy``, both feeding the output
    (dead_units for ``dead``, not for ``healthy``)."""
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1500, 10)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32")
    inputs = keras.Input((10,))
    healthy = keras.layers.Dense(16, activation="relu", name="healthy")(inputs)
    dead = keras.layers.Dense(
        16, activation="relu", bias_initializer=keras.initializers.Constant(-20.0), name="dead"
    )(inputs)
    h = keras.layers.Concatenate(name="both")([healthy, dead])
    out = keras.layers.Dense(1, activation="sigmoid", name="out")(h)
    model = keras.Model(inputs, out)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")
    test = rng.normal(size=(500, 10)).astype("float32")
    datasets = {"train": (x, y), "test": (test, (test[:, 0] + test[:, 1] > 0).astype("float32"))}
    return _fit(model, root, name, datasets, x, y, epochs=4, **kwargs)


def solved_early(root: str, name: str = "solved"):
    """A deep MLP on a linearly separable task, so the first layer already solves it
    (redundant_layer for dense_2..dense_4, not dense_1), with a labelled test set drawn like
    train and an unlabelled serving set whose inputs are shifted (drift for serving only)."""
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)

    def rows(count, shift=0.0):
        x = rng.normal(size=(count, 12)).astype("float32")
        x[:, 4:] += shift
        return x, (x[:, 0] - x[:, 1] > 0).astype("float32")

    x, y = rows(2000)
    model = keras.Sequential(
        [keras.Input((12,))]
        + [keras.layers.Dense(32, activation="relu", name=f"dense_{i}") for i in (1, 2, 3, 4)]
        + [keras.layers.Dense(1, activation="sigmoid", name="out")]
    )
    model.compile(keras.optimizers.Adam(0.005), "binary_crossentropy")
    datasets = {"train": (x, y), "test": rows(1000), "serving": rows(1000, shift=1.0)[0]}
    return _fit(model, root, name, datasets, x, y, epochs=5)


def healthy_control(root: str, name: str = "control"):
    """sklearn's digits, a small MLP with L2 and dropout, a held-out split, 8 epochs: nothing
    is wrong, so no finding may be a warning or an alert."""
    from sklearn.datasets import load_digits

    keras.utils.set_random_seed(4)
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    order = np.random.default_rng(4).permutation(len(x))
    train, test = order[:1300], order[1300:]
    l2 = keras.regularizers.L2(1e-3)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu", kernel_regularizer=l2, name="dense_1"),
            keras.layers.Dropout(0.2, name="drop"),
            keras.layers.Dense(32, activation="relu", kernel_regularizer=l2, name="dense_2"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.003), "sparse_categorical_crossentropy")
    datasets = {"train": (x[train], y[train]), "test": (x[test], y[test])}
    return _fit(model, root, name, datasets, x[train], y[train], epochs=8, batch_size=32)
