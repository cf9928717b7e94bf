"""InspectCallback: argument checks, model checks before the first epoch, schedules, isolation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_inspect as ki
from keras_inspect.quantities import correlation
from tests import models


def make(tmp_path, x, y, **kwargs):
    datasets = kwargs.pop("datasets", {"train": (x, y), "test1": (x[:40], y[:40])})
    return ki.InspectCallback(
        tmp_path / "run", datasets, max_samples=kwargs.pop("max_samples", 64), **kwargs
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quantities": "everything"}, "'everything' is not a preset"),
        ({"quantities": ["neuron_mean", "neuron_mode"]}, "unknown names"),
        ({"every_n_epochs": 0}, "every_n_epochs must be a positive integer, got 0"),
        ({"every_n_steps": -1}, "every_n_steps must be a positive integer"),
        ({"max_samples": 0}, "max_samples must be a positive integer, got 0"),
        ({"layers": []}, "layers must be None, a layer name or regex"),
        ({"layers": ["dense_("]}, "neither a layer name nor a valid regular expression"),
        ({"seed": "zero"}, "seed must be an integer"),
        ({"feature_groups": ["user"]}, "feature_groups must be None or a dict"),
        ({"batch_size": 0}, "batch_size must be a positive integer .*got 0"),
        ({"batch_size": 2.5}, r"batch_size must be None \(sized automatically\) or a positive"),
        ({"batch_size": True}, "batch_size must be None .*got True"),
    ],
)
def test_bad_arguments_fail_in_init(tmp_path, binary, kwargs, match):
    _, x, y = binary
    with pytest.raises(ki.ConfigError, match=match):
        make(tmp_path, x, y, **kwargs)


def test_log_dir_that_is_a_file(tmp_path, binary):
    _, x, y = binary
    path = tmp_path / "file"
    path.write_text("not a directory")
    with pytest.raises(ki.ConfigError, match="is a file; expected a directory"):
        ki.InspectCallback(path, {"train": (x, y)})


def test_missing_train_when_probes_are_asked_for(tmp_path, binary):
    _, x, y = binary
    with pytest.raises(ki.ConfigError, match="labelled dataset named 'train'.*'train' is missing"):
        make(tmp_path, x, y, datasets={"test1": (x, y)}, quantities=["probe_auc"])
    with pytest.raises(ki.ConfigError, match="'train' is unlabelled"):
        make(tmp_path, x, y, datasets={"train": x}, quantities=["probe_auc"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layers": "dense_z"}, r"'dense_z' matches no layer of model .* its layers are \["),
        ({"layers": [r"conv\d"]}, r"matches no layer"),
        (
            {"datasets": {"train": (np.zeros((10, 3), "float32"), np.arange(10) % 2)}},
            r"datasets\['train'\] x has rows of shape \(3,\), but model .* expects \(6,\)",
        ),
        (
            {"datasets": {"train": (np.zeros((10, 6)), np.zeros(10))}},
            r"datasets\['train'\] has 1 class in y .*need at least 2",
        ),
        (
            {"quantities": ["probe_r2"]},
            r"\['probe_r2'\] cannot be computed because labels are binary",
        ),
    ],
)
def test_model_dependent_errors_come_before_the_first_epoch(tmp_path, binary, kwargs, match):
    model, x, y = binary
    callback = make(tmp_path, x, y, **kwargs)
    batches = []
    probe = keras.callbacks.LambdaCallback(on_train_batch_end=lambda *_: batches.append(1))
    with pytest.raises(ki.ConfigError, match=match):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback, probe])
    assert batches == []


def test_input_names_of_a_multi_input_model_are_checked(tmp_path):
    model, x, y = models.functional_multi_io()
    wrong = {"series": x["series"], "user_ids": x["ids"]}
    callback = ki.InspectCallback(tmp_path, {"train": (wrong, y)})
    with pytest.raises(
        ki.ConfigError,
        match=r"input names \['series', 'user_ids'\], but model .* expects \['ids', 'series'\]",
    ):
        callback.set_model(model)
        callback.on_train_begin()


def test_input_shapes_are_compared_with_the_models_inputs(tmp_path):
    model, x, y = models.sequential_conv2d()
    callback = ki.InspectCallback(tmp_path, {"train": (x[:, :, :, :1], y)})
    callback.set_model(model)
    with pytest.raises(
        ki.ConfigError, match=r"rows of shape \(8, 8, 1\), but model .* expects \(8, 8, 2\)"
    ):
        callback.on_train_begin()


def test_labels_beyond_the_output_width_are_refused(tmp_path):
    model, x, _ = models.sequential_conv2d()
    callback = ki.InspectCallback(tmp_path, {"train": (x, np.arange(len(x)) % 5)})
    callback.set_model(model)
    with pytest.raises(ki.ConfigError, match="class 4 in y, but the scored model output has 3"):
        callback.on_train_begin()


def test_every_n_steps_records_at_global_batch_counts(tmp_path, binary):
    model, x, y = binary
    callback = make(tmp_path, x, y, every_n_steps=4, quantities="light")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[callback])  # 6 batches/epoch
    frame = ki.load(tmp_path / "run")
    assert sorted(frame.step.unique()) == [4, 8, 12]
    assert "loss" in set(frame.quantity)


def test_epoch_schedule_keeps_keras_async_dispatch(tmp_path, binary):
    _, x, y = binary
    assert keras.src.utils.python_utils.is_default(make(tmp_path, x, y).on_train_batch_end)
    assert not keras.src.utils.python_utils.is_default(
        make(tmp_path, x, y, every_n_steps=3).on_train_batch_end
    )


def test_at_and_every_n_epochs(tmp_path, binary):
    model, x, y = binary
    at = make(tmp_path, x, y, at=[0, 2], quantities=["neuron_mean"])
    model.fit(x, y, epochs=4, verbose=0, callbacks=[at])
    assert sorted(ki.load(tmp_path / "run").step.unique()) == [0, 2]


def test_record_from_a_custom_loop_and_steps_must_grow(tmp_path, binary):
    model, x, y = binary
    callback = make(tmp_path, x, y, quantities=["neuron_mean", "model_auc"])
    with pytest.raises(ki.ConfigError, match="set_model"):
        callback.record(0)
    callback.set_model(model)
    callback.record(10, logs={"loss": 0.5})
    with pytest.warns(ki.InspectWarning, match=r"step 10 is not after the last step .* \(10\)"):
        callback.record(10)
    callback.record(20)
    callback.close()
    frame = ki.load(tmp_path / "run")
    assert sorted(frame.step.unique()) == [10, 20]
    assert frame[frame.quantity == "loss"].value.tolist() == [0.5]


def test_a_failing_quantity_is_reported_once_and_skipped(tmp_path, binary, monkeypatch):
    model, x, y = binary

    def broken(corr, unit_std):
        raise RuntimeError("boom")

    monkeypatch.setattr(correlation, "correlation_mean_abs", broken)
    callback = make(tmp_path, x, y)
    with pytest.warns(ki.InspectWarning, match="correlation_matrix failed .*boom") as caught:
        model.fit(x, y, epochs=3, verbose=0, callbacks=[callback])
    failures = [
        w
        for w in caught
        if issubclass(w.category, ki.InspectWarning) and "failed" in str(w.message)
    ]
    # One warning per (dataset, layer), not per checkpoint; the one-unit output layer has no
    # correlations to fail.
    assert len(failures) == 2 * 2
    frame = ki.load(tmp_path / "run")
    assert "correlation_mean_abs" not in set(frame.quantity)
    assert {"neuron_mean", "probe_auc", "model_auc"} <= set(frame.quantity)
    assert sorted(frame.step.unique()) == [0, 1, 2]

    strict = make(tmp_path / "strict", x, y, strict=True)
    with pytest.raises(ki.QuantityError, match="boom"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[strict])


def test_non_finite_activations_are_counted_not_written(tmp_path):
    x = np.random.default_rng(0).normal(size=(50, 3)).astype("float32")
    x[:5, 0] = np.inf
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="dense")])
    callback = ki.InspectCallback(tmp_path, {"serving": x}, quantities="light")
    callback.set_model(model)
    with pytest.warns(ki.InspectWarning, match="non-finite values") as caught:
        callback.record(0)
        callback.close()  # waits for the background checkpoint
    # said once for the whole run, not per layer and dataset
    said = [str(w.message) for w in caught if "non-finite values" in str(w.message)]
    assert len(said) == 1 and "on 5 of 50 rows of dataset 'serving'" in said[0]
    callback.close()
    frame = ki.load(tmp_path)
    counted = frame[frame.quantity == "nonfinite_rows"]
    assert counted.value.tolist() == [5.0, 5.0]
    assert all(np.isfinite(v).all() for v in frame.value)
    means = frame[frame.quantity == "neuron_mean"].value.iloc[0]
    expected = keras.ops.convert_to_numpy(model(x[5:])).mean(axis=0)
    np.testing.assert_allclose(means, expected, rtol=1e-5)


def test_label_free_datasets_get_label_free_quantities(tmp_path, binary):
    model, x, y = binary
    callback = make(tmp_path, x, y, datasets={"train": (x, y), "serving": x})
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    frame = ki.load(tmp_path / "run")
    serving = set(frame[frame.dataset == "serving"].quantity)
    assert not {"model_auc", "probe_auc"} & serving
    assert {"neuron_std", "correlation_matrix"} <= serving
    hist = frame[(frame.quantity == "model_score_histogram") & (frame.dataset == "serving")]
    assert hist["class"].tolist() == ["all"]


def test_background_and_inline_checkpoints_record_the_same_values(tmp_path, binary):
    model, x, y = binary
    frames = []
    for asynchronous in (True, False):
        keras.utils.set_random_seed(0)
        fresh, _, _ = models.sequential_no_input()
        fresh.compile("adam", "binary_crossentropy")
        callback = make(tmp_path / str(asynchronous), x, y, asynchronous=asynchronous)
        fresh.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
        assert (callback._worker is None) is (not asynchronous)
        frames.append(ki.load(tmp_path / str(asynchronous)).drop(columns=["wall_time", "run"]))
    background, inline = frames
    assert len(background) == len(inline) > 0
    for a, b in zip(background.value, inline.value, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_subclassed_model_gets_the_informative_line_of_the_forward_error(tmp_path):
    model, x, y = models.subclassed_regression()
    callback = ki.InspectCallback(tmp_path, {"train": (x[:, :3], y)})
    callback.set_model(model)
    with pytest.raises(ki.ConfigError, match=r"does not fit model .*expected axis -1 .* value 4"):
        callback.on_train_begin()


def test_a_failing_capture_pass_skips_that_checkpoint_once_and_training_goes_on(
    tmp_path, binary, monkeypatch
):
    model, x, y = binary
    callback = make(tmp_path, x, y)
    calls = []

    def flaky(self, sample):
        calls.append(sample.name)
        if len(calls) in (3, 5):  # both checkpoints after the first fail
            raise MemoryError("out of device memory")
        return original(self, sample)

    from keras_inspect.bind import Binding

    original = Binding.summarize
    monkeypatch.setattr(Binding, "summarize", flaky)
    with pytest.warns(ki.InspectWarning, match="capture pass failed at step 1 .*MemoryError"):
        model.fit(x, y, epochs=4, verbose=0, callbacks=[callback])
    frame = ki.load(tmp_path / "run")
    assert sorted(frame[frame.quantity == "neuron_mean"].step.unique()) == [0, 3]


def test_close_does_not_wait_for_a_slow_projection_which_is_written_later(
    tmp_path, binary, monkeypatch
):
    import threading

    from keras_inspect import projector, slow_work

    model, x, y = binary
    release = threading.Event()

    def slow(features, previous=None):
        release.wait(timeout=60)
        return features[:, :2].astype(float)

    monkeypatch.setitem(projector.METHODS, "pca", slow)
    monkeypatch.setattr(slow_work, "GRACE", 0.05)
    callback = make(tmp_path, x, y, quantities=["neuron_mean", "projection"], projection="pca")
    with pytest.warns(ki.InspectWarning, match=r"projection of step\(s\) \[0\] is still running"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    assert callback._projector.unfinished == [0]
    assert "projection" not in set(ki.load(tmp_path / "run").quantity)
    assert not callback.wait(timeout=0.01)
    release.set()
    assert callback.wait(timeout=60)
    frame = ki.load(tmp_path / "run")
    assert set(frame[frame.quantity == "projection"].dataset) == {"train", "test1"}
    assert callback._sink._writer is None  # the late event file was closed


def test_slow_map_quantities_are_computed_for_every_checkpoint_and_do_not_hold_close(
    tmp_path, monkeypatch
):
    import threading

    from keras_inspect import slow_work
    from keras_inspect.checkpoint_maps import MapRecords

    model, x, y = models.sequential_conv2d()
    model.compile("adam", "sparse_categorical_crossentropy")
    release = threading.Event()
    original = MapRecords.slow_records

    def slow(self, sample, summary, labels):
        release.wait(timeout=60)
        return original(self, sample, summary, labels)

    monkeypatch.setattr(MapRecords, "slow_records", slow)
    monkeypatch.setattr(slow_work, "GRACE", 0.05)
    callback = ki.InspectCallback(
        tmp_path, {"train": (x, y)}, quantities=["neuron_mean", "entropy_intra"]
    )
    # Step 0's entropies block until released: step 1 waits for the lane's slot, the worker
    # waits to hand over step 2, and fit's close() must still return.
    with pytest.warns(ki.InspectWarning) as caught:
        model.fit(x, y, epochs=3, verbose=0, callbacks=[callback])
    said = [str(w.message) for w in caught]
    assert not release.is_set()
    assert any("step(s) [0, 1, 2] is still running" in m and "inspector.wait()" in m for m in said)
    assert not any("skipped" in m for m in said), said
    assert sorted(ki.load(tmp_path).query("quantity == 'neuron_mean'").step.unique()) == [0, 1, 2]
    release.set()
    assert callback.wait(timeout=60)
    frame = ki.load(tmp_path)
    assert sorted(frame[frame.quantity == "entropy_intra"].step.unique()) == [0, 1, 2]


def test_a_process_other_than_0_trains_without_recording(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    model.compile("adam", "mse")
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    other = ki.InspectCallback(str(tmp_path / "other"), {"train": x}, process_index=1)
    model.fit(x, x[:, :2], epochs=2, verbose=0, callbacks=[other])
    other.record(5)  # a custom loop's call is a no-op there too
    assert not (tmp_path / "other").exists()  # it bound (same errors as process 0), no more
    first = ki.InspectCallback(str(tmp_path / "first"), {"train": x}, process_index=0)
    model.fit(x, x[:, :2], epochs=1, verbose=0, callbacks=[first])
    assert set(ki.load(str(tmp_path / "first")).quantity) >= {"neuron_mean", "layer_std"}


@pytest.mark.parametrize("index", [-1, 1.0, True, "0"])
def test_a_malformed_process_index_is_refused(tmp_path, index):
    with pytest.raises(ki.ConfigError, match="process_index must be None"):
        ki.InspectCallback(str(tmp_path), {"train": np.ones((4, 3))}, process_index=index)
