"""Tests of keras_inspect/reader.py (ki.load)."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util.tensor_util import make_tensor_proto

from keras_inspect.errors import ConfigError
from keras_inspect.reader import COLUMNS, load
from keras_inspect.writer import InspectWriter
from tb_plugin.metadata import EXTRA_AXES, PLUGIN_NAME, keras_log_tag, scalar_tag


def _write(run_dir, entries):
    """Writes (step, quantity, value, axes) entries with one InspectWriter."""
    with InspectWriter(run_dir) as writer:
        for step, quantity, value, axes in entries:
            writer.write(step, quantity, value, **axes)


def _row(frame, **where):
    mask = np.ones(len(frame), dtype=bool)
    for column, wanted in where.items():
        mask &= (frame[column] == wanted).to_numpy()
    (index,) = np.flatnonzero(mask)
    return frame.iloc[index]


def test_scalar_round_trip(tmp_path):
    _write(tmp_path / "run", [(0, "model_auc", 0.8125, {"dataset": "test1"})])
    frame = load(tmp_path)
    assert list(frame.columns) == list(COLUMNS)
    row = frame.iloc[0]
    assert (row["run"], row["step"], row["dataset"], row["layer"], row["quantity"]) == (
        "run",
        0,
        "test1",
        "",
        "model_auc",
    )
    assert type(row["value"]) is float
    assert row["value"] == 0.8125
    assert abs(row["wall_time"] - time.time()) < 60


def test_vector_round_trip(tmp_path):
    values = np.linspace(-1, 1, 7)
    _write(tmp_path / "run", [(0, "neuron_mean", values, {"dataset": "train", "layer": "d1"})])
    value = load(tmp_path).iloc[0]["value"]
    assert value.dtype == np.float32
    np.testing.assert_array_equal(value, values.astype(np.float32))


def test_matrix_round_trip_comes_back_as_float32(tmp_path):
    matrix = np.random.default_rng(0).uniform(-1, 1, size=(5, 6))
    _write(
        tmp_path / "run", [(0, "correlation_matrix", matrix, {"dataset": "train", "layer": "d"})]
    )
    value = load(tmp_path).iloc[0]["value"]
    assert value.dtype == np.float32
    assert value.shape == (5, 6)
    np.testing.assert_allclose(value, matrix, atol=1e-3)
    value[0, 0] = 2.0  # arrays are the caller's to modify


def test_large_matrix_round_trip_stays_exact(tmp_path):
    matrix = np.array([[1.5, 1e5], [-3.0, 0.0]])
    _write(tmp_path / "run", [(0, "projection", matrix, {"dataset": "train", "layer": "d"})])
    np.testing.assert_array_equal(load(tmp_path).iloc[0]["value"], matrix.astype(np.float32))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.array([[3, 1], [0, 4]]), np.array([[3, 1], [0, 4]])),
        (np.array([True, False, True]), np.array([1, 0, 1])),
    ],
)
def test_integer_round_trip(tmp_path, value, expected):
    _write(tmp_path / "run", [(0, "confusion_matrix", value, {"dataset": "test1"})])
    loaded = load(tmp_path).iloc[0]["value"]
    assert loaded.dtype == np.int32
    np.testing.assert_array_equal(loaded, expected)


@pytest.mark.parametrize("axis", EXTRA_AXES)
def test_each_extra_axis_becomes_a_column(tmp_path, axis):
    _write(
        tmp_path / "run",
        [
            (0, "q", 0.5, {"dataset": "train", axis: "v0"}),
            (0, "q", 0.25, {"dataset": "train", axis: "v1"}),
            (0, "layer_std", 0.1, {"dataset": "train", "layer": "d"}),
        ],
    )
    frame = load(tmp_path)
    assert list(frame.columns) == [*COLUMNS, axis]
    assert _row(frame, **{axis: "v1"})["value"] == 0.25
    assert _row(frame, quantity="layer_std")[axis] is None


def test_extra_columns_keep_a_fixed_order(tmp_path):
    _write(
        tmp_path / "run",
        [
            (0, "channel_capacity", 0.5, {"dataset": "t", "pair": "a->b"}),
            (0, "feature_saliency", 0.5, {"dataset": "t", "group": "user"}),
            (0, "model_score_histogram", np.ones(3), {"dataset": "t", "class": 1}),
        ],
    )
    frame = load(tmp_path)
    assert list(frame.columns) == [*COLUMNS, "group", "class", "pair"]
    assert _row(frame, quantity="model_score_histogram")["class"] == "1"


def test_keras_logs_are_rows_and_mirrors_are_not(tmp_path):
    with InspectWriter(tmp_path / "run") as writer:
        for step in range(2):
            writer.write(step, "model_auc", 0.75, dataset="test1")
            writer.write_scalar(step, scalar_tag("model_auc", "test1"), 0.75)
            writer.write_scalar(step, keras_log_tag("loss"), 1.0 / (step + 1))
            writer.write_scalar(step, keras_log_tag("val_loss"), 2.0)
            writer.write_scalar(step, "keras_inspect/checkpoint_seconds", 0.1)
    frame = load(tmp_path)
    assert sorted(frame["quantity"]) == [
        "loss",
        "loss",
        "model_auc",
        "model_auc",
        "val_loss",
        "val_loss",
    ]
    loss = frame[frame["quantity"] == "loss"]
    assert list(loss["value"]) == [1.0, 0.5]
    assert set(loss["dataset"]) == {""}
    assert set(loss["layer"]) == {""}


def test_rows_are_sorted(tmp_path):
    _write(
        tmp_path / "b",
        [
            (1, "z", 1.0, {"dataset": "train"}),
            (0, "z", 1.0, {"dataset": "test"}),
            (0, "a", 1.0, {"dataset": "test", "layer": "l2"}),
            (0, "a", 1.0, {"dataset": "test", "layer": "l1"}),
            (0, "a", 1.0, {"dataset": "serve", "layer": "l9"}),
        ],
    )
    _write(tmp_path / "a", [(5, "z", 1.0, {"dataset": "train"})])
    frame = load(tmp_path)
    keys = list(
        zip(
            frame["run"],
            frame["step"],
            frame["quantity"],
            frame["dataset"],
            frame["layer"],
            strict=True,
        )
    )
    assert keys == [
        ("a", 5, "z", "train", ""),
        ("b", 0, "a", "serve", "l9"),
        ("b", 0, "a", "test", "l1"),
        ("b", 0, "a", "test", "l2"),
        ("b", 0, "z", "test", ""),
        ("b", 1, "z", "train", ""),
    ]
    assert list(frame.index) == list(range(6))


def test_nested_runs(tmp_path):
    _write(tmp_path / "a" / "b", [(0, "model_auc", 0.5, {"dataset": "t"})])
    _write(tmp_path / "c", [(0, "model_auc", 0.5, {"dataset": "t"})])
    _write(tmp_path / "a" / "b" / "d", [(0, "model_auc", 0.5, {"dataset": "t"})])
    assert sorted(load(tmp_path)["run"]) == ["a/b", "a/b/d", "c"]
    assert sorted(load(tmp_path / "a")["run"]) == ["b", "b/d"]


def test_logdir_that_is_itself_a_run(tmp_path):
    _write(tmp_path / "my_run", [(0, "model_auc", 0.5, {"dataset": "t"})])
    assert list(load(tmp_path / "my_run")["run"]) == ["my_run"]
    assert list(load(str(tmp_path / "my_run" / "inspect"))["run"]) == ["my_run"]


def test_relative_logdir(tmp_path, monkeypatch):
    _write(tmp_path / "logs" / "r1", [(0, "model_auc", 0.5, {"dataset": "t"})])
    monkeypatch.chdir(tmp_path / "logs" / "r1")
    assert list(load(".")["run"]) == ["r1"]


def test_restarted_writer_adds_a_file_to_the_same_run(tmp_path):
    _write(tmp_path / "run", [(0, "model_auc", 0.5, {"dataset": "t"})])
    _write(tmp_path / "run", [(1, "model_auc", 0.6, {"dataset": "t"})])
    assert len(os.listdir(tmp_path / "run" / "inspect")) == 2
    assert list(load(tmp_path)["step"]) == [0, 1]


def test_keeps_every_point(tmp_path):
    # TensorBoard's Python loader keeps only 10 points per third-party tag by default.
    _write(
        tmp_path / "run",
        [(step, "layer_std", 0.5, {"dataset": "t", "layer": "d"}) for step in range(600)],
    )
    assert list(load(tmp_path)["step"]) == list(range(600))


def test_a_series_written_in_parts_reads_as_one(tmp_path):
    from tb_plugin.metadata import PART_MIN_SIZE, PART_POINTS

    steps = range(2 * PART_POINTS + 5)
    matrices = [np.full((PART_MIN_SIZE + 1,), step, np.float32) for step in steps]
    _write(
        tmp_path / "run",
        [
            (step, "neuron_mean", matrix, {"dataset": "t", "layer": "d"})
            for step, matrix in zip(steps, matrices, strict=True)
        ],
    )
    frame = load(tmp_path)
    assert list(frame.step) == list(steps)
    assert set(frame.layer) == {"d"} and set(frame.dataset) == {"t"}
    for value, expected in zip(frame.value, matrices, strict=True):
        np.testing.assert_array_equal(value, expected)


def test_keras_tensorboard_directories_are_not_runs(tmp_path):
    _write(tmp_path / "run", [(0, "model_auc", 0.5, {"dataset": "t"})])
    other = EventFileWriter(str(tmp_path / "run" / "train"))
    other.close()
    assert set(load(tmp_path)["run"]) == {"run"}


def _write_raw(inspect_dir, tag, content, step=0):
    writer = EventFileWriter(str(inspect_dir))
    value = summary_pb2.Summary.Value(tag=tag, tensor=make_tensor_proto(np.float32(1.0)))
    value.metadata.plugin_data.plugin_name = PLUGIN_NAME
    value.metadata.plugin_data.content = content
    value.metadata.data_class = summary_pb2.DATA_CLASS_SCALAR
    writer.add_event(
        event_pb2.Event(
            step=step, wall_time=time.time(), summary=summary_pb2.Summary(value=[value])
        )
    )
    writer.close()


def test_newer_format_is_skipped_with_one_warning_per_run(tmp_path):
    _write(tmp_path / "run", [(0, "model_auc", 0.5, {"dataset": "t"})])
    newer = json.dumps({"v": 2, "quantity": "model_auc", "dataset": "future"}).encode()
    _write_raw(tmp_path / "run" / "inspect", "future/a", newer)
    _write_raw(tmp_path / "run" / "inspect", "future/b", b"not json")
    with pytest.warns(UserWarning, match=r"skipped 2 series of run 'run'.*newer") as caught:
        frame = load(tmp_path)
    assert len(caught) == 1
    assert list(frame["dataset"]) == ["t"]


def test_run_with_only_newer_data_gives_an_empty_frame(tmp_path):
    _write_raw(tmp_path / "run" / "inspect", "future", b'{"v":9,"quantity":"x"}')
    with pytest.warns(UserWarning, match="Upgrade keras_inspect"):
        frame = load(tmp_path)
    assert frame.empty
    assert list(frame.columns) == list(COLUMNS)


def test_missing_logdir(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(
        ConfigError, match=r"nope'\): found nothing there.*InspectCallback\(log_dir"
    ):
        load(missing)


def test_logdir_that_is_a_file(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ConfigError, match="found a file there"):
        load(tmp_path / "file.txt")


def test_empty_logdir(tmp_path):
    with pytest.raises(ConfigError, match=r"no keras_inspect run: the directory is empty.*parent"):
        load(tmp_path)


def test_logdir_with_only_keras_tensorboard_logs(tmp_path):
    EventFileWriter(str(tmp_path / "run" / "train")).close()
    with pytest.raises(ConfigError, match=r"event files only in 'run/train'.*Keras' TensorBoard"):
        load(tmp_path)


def test_logdir_without_event_files(tmp_path):
    (tmp_path / "run" / "inspect").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no event files at all") as caught:
        load(tmp_path)
    assert isinstance(caught.value, ValueError)
