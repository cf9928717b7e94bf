"""projection and weights_hinton through the callback: schedules, warm starts, labels, kernels."""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings

import keras
import numpy as np
import pytest

import keras_inspect as ki
from keras_inspect.batches import to_numpy
from keras_inspect.checkpoint import Record
from keras_inspect.guard import Guard
from keras_inspect.projector import ProjectionJob, Projector


def classifier_data(rows=120, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, rows)
    centres = rng.normal(0, 4, size=(3, 6))
    x = (centres[labels] + rng.normal(size=(rows, 6))).astype("float32")
    return x, labels.astype("int32")


def small_model():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("method, asynchronous", [("pca", False), ("tsne", True)])
def test_every_nth_checkpoint_and_the_last_are_projected_with_labels(
    tmp_path, method, asynchronous
):
    x, y = classifier_data()
    callback = ki.InspectCallback(
        str(tmp_path),
        {"train": (x, y), "serving": x[:40]},
        quantities=["projection"],
        projection=method,
        projection_every=3,
        asynchronous=asynchronous,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ki.InspectWarning)
        small_model().fit(x, y, epochs=5, verbose=0, callbacks=[callback])
    # fit waits at most a few seconds for a t-SNE: a slow machine sees the rest written later
    assert all("is still running" in str(w.message) for w in caught), caught
    assert callback.wait(timeout=120)
    frame = ki.load(str(tmp_path))
    shown = frame[frame.quantity == "projection"]
    steps = sorted(set(shown.step))
    if asynchronous:
        # Every 3rd checkpoint and the last, unless a t-SNE still running let the newest
        # replace a waiting one.
        assert steps[0] == 0 and steps[-1] == 4 and set(steps) <= {0, 3, 4}, steps
    else:
        assert steps == [0, 3, 4]  # every 3rd checkpoint, then the last
    assert set(shown.layer) == {"hidden", "out"} and set(shown.dataset) == {"train", "serving"}
    train = shown[(shown.dataset == "train") & (shown.layer == "hidden")].sort_values("step")
    value = train.value.iloc[0]
    assert value.shape == (120, 3) and np.isfinite(value[:, :2]).all()
    np.testing.assert_array_equal(value[:, 2], y)  # every row, with its class
    serving = shown[(shown.dataset == "serving")].value.iloc[0]
    assert serving.shape == (40, 2)  # no labels: coordinates only


def test_bad_projection_arguments_are_refused_at_once(tmp_path):
    x, y = classifier_data()
    with pytest.raises(ki.ConfigError, match=r"projection must be one of \['pca', 'tsne'\]"):
        ki.InspectCallback(str(tmp_path), {"train": (x, y)}, projection="umap")
    with pytest.raises(ki.ConfigError, match="projection_every must be a positive integer"):
        ki.InspectCallback(str(tmp_path), {"train": (x, y)}, projection_every=0)


def test_the_projector_never_makes_the_caller_wait_and_keeps_the_newest_job():
    started, release = threading.Event(), threading.Event()
    written, priorities = [], []

    def emit(step, records):
        written.append((step, [r.dataset for r in records]))

    projector = Projector("pca", emit, Guard())
    real = projector._layout

    def slow_layout(dataset, layer, features):
        if hasattr(os, "getpriority"):
            priorities.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        started.set()
        release.wait(10)
        return real(dataset, layer, features)

    projector._layout = slow_layout
    rng = np.random.default_rng(0)

    def job(step):
        return ProjectionJob(step, {"train": (None, {"d": rng.normal(size=(20, 4))})})

    projector.offer(job(0))
    assert started.wait(10)
    begin = time.perf_counter()
    for step in (1, 2, 3):  # while step 0 is being projected
        projector.offer(job(step))
    assert time.perf_counter() - begin < 1.0  # offers return at once
    release.set()
    projector.drain()
    assert [step for step, _ in written] == [0, 3]  # 1 and 2 were replaced by newer ones
    assert projector.skipped == [1, 2] and projector.projected == [0, 3]
    if sys.platform == "linux":  # the projector thread yields the cores to training
        assert priorities and min(priorities) == 19, priorities


def test_a_failed_write_is_said_once_and_projecting_goes_on():
    attempts = []

    def emit(step, records):
        attempts.append(step)
        if step in (0, 1):
            raise OSError("disk full")

    projector = Projector("pca", emit, Guard())
    rng = np.random.default_rng(2)

    def job(step):
        return ProjectionJob(step, {"train": (None, {"d": rng.normal(size=(20, 4))})})

    with pytest.warns(ki.InspectWarning, match="file-system error") as caught:
        for step in range(3):
            projector.offer(job(step))
            projector.drain()  # never raises: a disk is not the training's problem
    assert len([w for w in caught if "file-system error" in str(w.message)]) == 1
    assert attempts == [0, 1, 2] and projector.projected == [2]


def test_a_failure_not_yet_collected_is_raised_by_the_next_offer():
    def emit(step, records):
        raise RuntimeError("a bug, not the disk")

    projector = Projector("pca", emit, Guard())
    features = np.random.default_rng(3).normal(size=(20, 4))
    projector.offer(ProjectionJob(0, {"train": (None, {"d": features})}))
    deadline = time.monotonic() + 10
    while projector.lane._error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(RuntimeError, match="a bug"):
        projector.offer(ProjectionJob(1, {"train": (None, {"d": features})}))
    assert projector.projected == []


def test_datasets_too_small_to_project_are_left_out(tmp_path):
    x, y = classifier_data()
    callback = ki.InspectCallback(
        str(tmp_path),
        {"train": (x, y), "broken": x[:4]},  # 4 rows: too few to project, left out
        quantities=["projection", "neuron_mean"],
        projection="pca",
        projection_every=1,
    )
    small_model().fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    frame = ki.load(str(tmp_path))
    assert set(frame[frame.quantity == "projection"].dataset) == {"train"}
    assert set(frame[frame.quantity == "neuron_mean"].dataset) == {"train", "broken"}


def test_a_layer_that_cannot_be_projected_is_reported_and_skipped():
    recorded = []
    projector = Projector(
        "pca", lambda step, recs: recorded.extend(recs), Guard(), asynchronous=False
    )
    rng = np.random.default_rng(1)
    layers = {
        "a": rng.normal(size=(30, 5)),
        "b": np.full((30, 5), np.nan),  # a diverging training: nonfinite_rows says so
        "c": rng.normal(size=(30, 1)),  # one feature: no second principal component
    }
    with pytest.warns(ki.InspectWarning, match="projection") as caught:
        projector.offer(ProjectionJob(0, {"train": (np.ones(30), layers)}))
    assert [r.layer for r in recorded] == ["a"]  # b skipped without a word, c reported
    said = [str(w.message) for w in caught if issubclass(w.category, ki.InspectWarning)]
    assert len(said) == 1 and "layer 'c'" in said[0]
    assert isinstance(recorded[0], Record)


def test_weights_hinton_records_each_kernel_as_it_was_at_the_checkpoint(tmp_path):
    x, y = classifier_data()
    model = small_model()
    seen = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch] = keras.ops.convert_to_numpy(model.get_layer("hidden").kernel)

    callback = ki.InspectCallback(str(tmp_path), {"train": (x, y)}, quantities=["weights_hinton"])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callback, Snapshot()])
    frame = ki.load(str(tmp_path))
    hinton = frame[frame.quantity == "weights_hinton"]
    assert set(hinton.layer) == {"hidden", "out"} and set(hinton.dataset) == {""}
    for epoch in (0, 1):
        value = hinton[(hinton.layer == "hidden") & (hinton.step == epoch)].value.iloc[0]
        # (6 inputs x 8 units) is small enough to be drawn as it is; float16 storage.
        np.testing.assert_allclose(value, seen[epoch], atol=2e-3)


def test_feature_maps_and_prediction_probs_of_the_first_samples(tmp_path):
    from examples import digits_cnn

    model = digits_cnn.build_model()
    rng = np.random.default_rng(0)
    x = rng.random((30, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 10, 30).astype("int32")
    callback = ki.InspectCallback(
        str(tmp_path),
        {"train": (x, y), "serving": x[:6]},
        quantities=["feature_maps", "prediction_probs"],
        asynchronous=False,
    )
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    frame = ki.load(str(tmp_path))
    maps = frame[(frame.quantity == "feature_maps") & (frame.dataset == "train")]
    by = {(row.layer, row.sample): row.value for row in maps.itertuples()}
    assert {s for _, s in by} == {"0", "1", "2", "3"}
    np.testing.assert_allclose(by[("input", "2")], x[2], rtol=1e-3)  # stored as float16
    probe = keras.Model(model.inputs[0], model.get_layer("conv_1").output)
    np.testing.assert_allclose(
        by[("conv_1", "1")], to_numpy(probe(x[1:2]))[0], rtol=1e-3, atol=2e-3
    )
    assert by[("conv_2", "0")].shape == (4, 4, 16)  # 32 channels: the first 16 kept
    probs = frame[(frame.quantity == "prediction_probs") & (frame.dataset == "train")]
    expected = model.predict(x[:4], verbose=0)
    for row in probs.itertuples():
        i = int(row.sample)
        np.testing.assert_allclose(row.value, expected[i], rtol=1e-4, atol=1e-6)
        assert probs.loc[row.Index, "class"] == str(y[i])  # the sample's true class
    serving = frame[(frame.quantity == "prediction_probs") & (frame.dataset == "serving")]
    assert len(serving) == 4 and serving["class"].isna().all()  # no labels


def test_a_regressors_prediction_comes_with_the_true_target(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 5)).astype("float32")
    y = np.column_stack([x[:, 0] + x[:, 1], x[:, 2] * 2]).astype("float32")  # two targets
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2, name="out")])
    model.compile("adam", "mse")
    callback = ki.InspectCallback(
        str(tmp_path),
        {"train": (x, y), "serving": x[:6]},
        quantities=["prediction_probs"],
        asynchronous=False,
    )
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    frame = ki.load(str(tmp_path))
    probs = frame[(frame.quantity == "prediction_probs") & (frame.dataset == "train")]
    expected = model.predict(x[:4], verbose=0)
    assert len(probs) == 4
    for row in probs.itertuples():
        i = int(row.sample)
        assert row.value.shape == (2, 2)  # (prediction, true target) x outputs; float16
        np.testing.assert_allclose(row.value[0], expected[i], rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(row.value[1], y[i], rtol=1e-3, atol=1e-3)
    assert "class" not in frame or probs["class"].isna().all()  # no class for a regressor
    serving = frame[(frame.quantity == "prediction_probs") & (frame.dataset == "serving")]
    assert {v.shape for v in serving.value} == {(2,)}  # no labels: the prediction only


def test_true_targets_only_for_a_regressor_whose_targets_match_its_outputs():
    from keras_inspect.checkpoint_maps import true_targets as _true_targets
    from keras_inspect.datasets import LabelKind

    y = np.arange(12, dtype=np.float64).reshape(6, 2)
    np.testing.assert_array_equal(_true_targets(y, 4, 2, LabelKind.CONTINUOUS), y[:4])
    assert _true_targets(y, 4, 3, LabelKind.CONTINUOUS) is None  # 2 targets, 3 outputs
    assert _true_targets(y[:, 0], 4, 2, LabelKind.CONTINUOUS) is None
    assert _true_targets(y, 8, 2, LabelKind.CONTINUOUS) is None  # fewer labels than samples
    assert _true_targets(None, 4, 2, LabelKind.CONTINUOUS) is None
    assert _true_targets(np.array([0, 1, 1, 0]), 4, 1, LabelKind.BINARY) is None  # a classifier
