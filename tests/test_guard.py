"""Reporting: once per cause, pointing at the user's code, never in the way of training."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

import keras_inspect as ki
from keras_inspect.errors import DegenerateValue, QuantityError
from keras_inspect.guard import Guard


def _said(caught):
    return [
        w
        for w in caught
        if issubclass(w.category, ki.InspectWarning)
        and not issubclass(w.category, ki.LeftOutWarning)
    ]


def test_degenerate_values_are_said_once_for_every_layer_and_dataset():
    guard = Guard()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for dataset in ("train", "test"):
            for layer in ("a", "b"):
                with guard.running("neuron_std", dataset, layer):
                    raise DegenerateValue("overflow")
                with guard.running("layer_std", dataset, layer):
                    raise DegenerateValue("overflow")
    assert len(_said(caught)) == 1
    assert "neuron_std of dataset 'train', layer 'a' has no value" in str(caught[0].message)
    with pytest.raises(QuantityError), Guard(strict=True).running("neuron_std"):
        raise DegenerateValue("overflow")


def test_a_warning_on_the_training_thread_points_at_the_users_fit_line(tmp_path):
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, name="out")])
    model.compile("sgd", "mse")
    callback = ki.InspectCallback(tmp_path, {"train": x}, asynchronous=False)
    with pytest.warns(ki.LeftOutWarning) as caught:
        model.fit(x, x[:, 0], epochs=1, verbose=0, callbacks=[callback])
    assert {w.filename for w in caught if issubclass(w.category, ki.LeftOutWarning)} == {
        __file__
    }


def test_statistics_that_overflow_are_said_once_in_a_whole_training(tmp_path):
    # A first layer of huge weights: its activations (~1e20) are finite, but their squares
    # overflow float32 sums; the sigmoid after it saturates, so every gradient is exactly 0.
    x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(4, activation="relu", name="huge"),
            keras.layers.Dense(4, activation="relu", name="next"),
            keras.layers.Dense(1, activation="sigmoid", name="out"),
        ]
    )
    model.get_layer("huge").kernel.assign(np.full((6, 4), 1e19, "float32"))
    model.compile(keras.optimizers.SGD(0.0), "binary_crossentropy")
    y = (x[:, 0] > 0).astype("int32")
    callback = ki.InspectCallback(
        tmp_path, {"train": (x, y), "test": (x[:32], y[:32])}, quantities="full",
        projection="pca",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
        callback.wait()
    said = [str(w.message) for w in _said(caught)]
    assert len(said) == 1, said
    assert "has no value and is skipped" in said[0] and "too large to sum" in said[0]
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    frame = ki.load(tmp_path)
    importance = frame[(frame.quantity == "filter_importance") & (frame.layer == "huge")]
    assert len(importance) == 4  # 2 steps x 2 datasets: an honest zero, not a warning
    assert all(not np.any(value) for value in importance.value)
    assert "huge" not in set(frame[frame.quantity == "neuron_std"].layer)
    assert "out" in set(frame[frame.quantity == "neuron_std"].layer)
