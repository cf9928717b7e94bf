"""Tests of keras_inspect/writer.py: encodings, metadata, step rules, and TensorBoard's view."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader
from tensorboard.compat.proto import summary_pb2, types_pb2

from keras_inspect.writer import InspectWriter
from tb_plugin.metadata import (
    PART_MIN_SIZE,
    PART_NUMBERS,
    PART_POINTS,
    PLUGIN_NAME,
    decode_content,
    decode_part,
    keras_log_tag,
    make_tag,
    part_tag,
    scalar_tag,
)


def _values(log_dir):
    """All summary values in <log_dir>/inspect as (step, wall_time, Summary.Value), in order."""
    found = []
    for path in sorted(glob.glob(os.path.join(log_dir, "inspect", "events.out.tfevents.*"))):
        for event in LegacyEventFileLoader(path).Load():
            for value in event.summary.value:
                found.append((event.step, event.wall_time, value))
    return found


def _only(log_dir):
    (entry,) = _values(log_dir)
    return entry[2]


@pytest.mark.parametrize("value", [0.25, np.float64(0.25), np.float32(0.25), np.array(0.25), 3])
def test_number_is_a_float32_scalar(tmp_path, value):
    with InspectWriter(tmp_path) as writer:
        writer.write(0, "model_auc", value, dataset="test1")
    stored = _only(tmp_path)
    assert stored.tag == "model_auc/test1"
    assert stored.tensor.dtype == types_pb2.DT_FLOAT
    assert not stored.tensor.tensor_shape.dim
    assert stored.metadata.data_class == summary_pb2.DATA_CLASS_SCALAR
    assert stored.metadata.plugin_data.plugin_name == PLUGIN_NAME


def test_vector_is_a_float32_tensor(tmp_path):
    with InspectWriter(tmp_path) as writer:
        writer.write(0, "neuron_mean", np.arange(5.0), dataset="train", layer="dense_1")
    stored = _only(tmp_path)
    assert stored.tensor.dtype == types_pb2.DT_FLOAT
    assert [d.size for d in stored.tensor.tensor_shape.dim] == [5]
    assert stored.metadata.data_class == summary_pb2.DATA_CLASS_TENSOR


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 4)])
def test_matrix_is_a_float16_tensor(tmp_path, shape):
    with InspectWriter(tmp_path) as writer:
        writer.write(0, "correlation_matrix", np.ones(shape), dataset="train", layer="d")
    stored = _only(tmp_path)
    assert stored.tensor.dtype == types_pb2.DT_HALF
    assert len(stored.tensor.tensor_content) == 2 * int(np.prod(shape))
    assert stored.metadata.data_class == summary_pb2.DATA_CLASS_TENSOR


def test_matrix_beyond_float16_range_stays_float32(tmp_path):
    with InspectWriter(tmp_path) as writer:
        writer.write(0, "projection", np.array([[1.0, 70000.0]]), dataset="train", layer="d")
    assert _only(tmp_path).tensor.dtype == types_pb2.DT_FLOAT


@pytest.mark.parametrize(
    "value", [np.eye(3, dtype=np.int64), np.array([True, False]), np.arange(4, dtype=np.uint8)]
)
def test_integer_and_bool_arrays_are_int32_tensors(tmp_path, value):
    with InspectWriter(tmp_path) as writer:
        writer.write(0, "confusion_matrix", value, dataset="test1")
    stored = _only(tmp_path)
    assert stored.tensor.dtype == types_pb2.DT_INT32
    assert stored.metadata.data_class == summary_pb2.DATA_CLASS_TENSOR


def test_content_carries_the_axes(tmp_path):
    with InspectWriter(tmp_path) as writer:
        writer.write(2, "model_score_histogram", np.ones(8), dataset="test1", **{"class": "1"})
    stored = _only(tmp_path)
    assert stored.tag == make_tag("model_score_histogram", "test1", **{"class": "1"})
    assert decode_content(stored.metadata.plugin_data.content) == {
        "quantity": "model_score_histogram",
        "dataset": "test1",
        "layer": "",
        "class": "1",
    }


def test_metadata_only_on_first_event_of_each_tag(tmp_path):
    with InspectWriter(tmp_path) as writer:
        for step in range(3):
            writer.write(step, "layer_std", 0.5, dataset="train", layer="a")
            writer.write(step, "layer_std", 0.5, dataset="train", layer="b")
            writer.write_scalar(step, keras_log_tag("loss"), 1.0)
    has_metadata = [(value.tag, value.HasField("metadata")) for _, _, value in _values(tmp_path)]
    assert [tag for tag, present in has_metadata if present] == [
        "layer_std/train/a",
        "layer_std/train/b",
        "keras/loss",
    ]
    assert len(has_metadata) == 9


def test_large_arrays_are_written_in_parts_of_consecutive_checkpoints(tmp_path):
    big = np.zeros((65, 65), np.float32)  # 4,225 numbers: above PART_MIN_SIZE
    small = np.zeros((64, 64), np.float32)  # 4,096: not above
    assert small.size == PART_MIN_SIZE < big.size
    steps = [10 * i for i in range(PART_POINTS + 3)]
    with InspectWriter(tmp_path) as writer:
        for step in steps:
            writer.write(step, "correlation_matrix", big, dataset="train", layer="wide")
            writer.write(step, "correlation_matrix", small, dataset="train", layer="narrow")
    base = make_tag("correlation_matrix", "train", "wide")
    second = steps[PART_POINTS]  # the first step of the second part
    tags = [(step, value.tag) for step, _, value in _values(tmp_path) if "wide" in value.tag]
    assert tags == [(step, part_tag(base, 0 if step < second else second)) for step in steps]
    firsts = [v for _, _, v in _values(tmp_path) if v.HasField("metadata") and "wide" in v.tag]
    assert [decode_part(v.metadata.plugin_data.content) for v in firsts] == [0, second]
    assert decode_content(firsts[1].metadata.plugin_data.content) == {
        "quantity": "correlation_matrix",
        "dataset": "train",
        "layer": "wide",
    }
    narrow = {value.tag for _, _, value in _values(tmp_path) if "narrow" in value.tag}
    assert narrow == {make_tag("correlation_matrix", "train", "narrow")}


def test_a_part_holds_at_most_part_numbers_numbers(tmp_path):
    gram = np.zeros((256, 256), np.float32)  # a CKA Gram matrix: 65,536 numbers
    points = PART_NUMBERS // gram.size
    assert points == 8 < PART_POINTS
    with InspectWriter(tmp_path) as writer:
        for step in range(20):
            writer.write(step, "cka_gram", gram, dataset="train", layer="dense")
    base = make_tag("cka_gram", "train", "dense")
    tags = [(step, value.tag) for step, _, value in _values(tmp_path)]
    assert tags == [(step, part_tag(base, step - step % points)) for step in range(20)]


def test_steps_must_increase_across_the_parts_of_a_series(tmp_path):
    big = np.zeros(PART_MIN_SIZE + 1, np.float32)
    with InspectWriter(tmp_path) as writer:
        for step in range(PART_POINTS):
            writer.write(step, "neuron_mean", big, dataset="train", layer="wide")
        # The next point would open a new part (a new tag): its step must still be later.
        with pytest.raises(ValueError, match="not after the last step written"):
            writer.write(3, "neuron_mean", big, dataset="train", layer="wide")


def test_a_restarted_writer_starts_a_new_part(tmp_path):
    big = np.zeros(PART_MIN_SIZE + 1, np.float32)
    for steps in (range(0, 3), range(3, 5)):
        with InspectWriter(tmp_path) as writer:
            for step in steps:
                writer.write(step, "neuron_mean", big, dataset="train", layer="wide")
    base = make_tag("neuron_mean", "train", "wide")
    tags = [value.tag for _, _, value in _values(tmp_path)]
    assert sorted(set(tags)) == [part_tag(base, 0), part_tag(base, 3)]


def test_native_scalar(tmp_path):
    with InspectWriter(tmp_path) as writer:
        writer.write_scalar(1, scalar_tag("model_auc", "test1"), np.float64(0.75))
    stored = _only(tmp_path)
    assert stored.tag == "model_auc/dataset=test1"
    assert stored.metadata.plugin_data.plugin_name == "scalars"
    assert stored.metadata.data_class == summary_pb2.DATA_CLASS_SCALAR
    assert stored.tensor.dtype == types_pb2.DT_FLOAT
    assert stored.tensor.float_val == [0.75]


def test_events_carry_step_and_wall_time(tmp_path):
    before = time.time()
    with InspectWriter(tmp_path) as writer:
        writer.write(7, "model_auc", 0.5, dataset="test1")
    ((step, wall_time, _),) = _values(tmp_path)
    assert step == 7
    assert before <= wall_time <= time.time()


def test_file_is_created_lazily_in_the_inspect_subdirectory(tmp_path):
    writer = InspectWriter(tmp_path / "run")
    assert writer.directory == os.path.join(tmp_path, "run", "inspect")
    assert not (tmp_path / "run").exists()
    writer.flush()
    writer.close()
    assert not (tmp_path / "run").exists()
    with InspectWriter(tmp_path / "run") as writer:
        writer.write(0, "model_auc", 0.5, dataset="test1")
        writer.flush()
        assert len(glob.glob(str(tmp_path / "run" / "inspect" / "events.out.tfevents.*"))) == 1


@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), np.array([1.0, np.nan]), np.array([[1.0], [-np.inf]])]
)
def test_non_finite_values_are_refused(tmp_path, bad):
    with InspectWriter(tmp_path) as writer:
        with pytest.raises(
            ValueError,
            match=r"quantity='neuron_mean', dataset='train', layer='dense_1'.*NaN or Inf",
        ):
            writer.write(0, "neuron_mean", bad, dataset="train", layer="dense_1")
        # A refused value does not use up the step.
        writer.write(0, "neuron_mean", 1.0, dataset="train", layer="dense_1")
    assert len(_values(tmp_path)) == 1


def test_non_finite_scalar_is_refused(tmp_path):
    with InspectWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="scalar 'keras/loss' contains NaN or Inf"):
            writer.write_scalar(0, "keras/loss", float("nan"))


def test_value_beyond_float32_range_is_refused(tmp_path):
    with InspectWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="exceeds the float32 range"):
            writer.write(0, "q", np.array([1e300]), dataset="d")


def test_integers_beyond_int32_are_refused(tmp_path):
    with InspectWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="does not fit in int32"):
            writer.write(0, "q", np.array([2**40]), dataset="d")


@pytest.mark.parametrize("bad", ["0.5", np.array(["a"]), [1 + 2j], None])
def test_non_numeric_values_are_refused(tmp_path, bad):
    with InspectWriter(tmp_path) as writer:
        with pytest.raises(TypeError, match="quantity='q'"):
            writer.write(0, "q", bad, dataset="d")


@pytest.mark.parametrize("second", [3, 2])
def test_steps_must_increase_per_tag(tmp_path, second):
    with InspectWriter(tmp_path) as writer:
        writer.write(3, "model_auc", 0.5, dataset="test1")
        # Another tag has its own sequence.
        writer.write(0, "model_auc", 0.5, dataset="test2")
        with pytest.raises(ValueError, match=rf"Step {second} for 'model_auc/test1'.*last step"):
            writer.write(second, "model_auc", 0.5, dataset="test1")
        writer.write_scalar(3, "keras/loss", 1.0)
        with pytest.raises(ValueError, match="Step 3 for 'keras/loss'"):
            writer.write_scalar(3, "keras/loss", 1.0)


@pytest.mark.parametrize("step", [-1, 1.5, "1", True])
def test_step_must_be_a_non_negative_int(tmp_path, step):
    with InspectWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="must be an int >= 0"):
            writer.write(step, "model_auc", 0.5, dataset="test1")


def test_numpy_integer_steps_are_accepted(tmp_path):
    with InspectWriter(tmp_path) as writer:
        writer.write(np.int64(4), "model_auc", 0.5, dataset="test1")
    assert _values(tmp_path)[0][0] == 4


def test_unknown_extra_axis_is_refused(tmp_path):
    with InspectWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="Unknown extra axis 'unit'"):
            writer.write(0, "neuron_mean", [1.0], dataset="train", layer="d", unit="1")


def test_a_tag_belongs_to_one_plugin(tmp_path):
    with InspectWriter(tmp_path) as writer:
        writer.write(0, "model_auc", 0.5, dataset="test1")
        with pytest.raises(ValueError, match="already used by 'keras_inspect' data"):
            writer.write_scalar(1, "model_auc/test1", 0.5)


def test_write_scalar_needs_one_number(tmp_path):
    with InspectWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="must be a single number"):
            writer.write_scalar(0, "keras/loss", [1.0, 2.0])
        with pytest.raises(ValueError, match="non-empty string"):
            writer.write_scalar(0, "", 1.0)


def test_close_is_idempotent_and_final(tmp_path):
    writer = InspectWriter(tmp_path)
    writer.write(0, "model_auc", 0.5, dataset="test1")
    writer.close()
    writer.close()
    writer.flush()
    with pytest.raises(RuntimeError, match="is closed"):
        writer.write(1, "model_auc", 0.5, dataset="test1")
    assert len(_values(tmp_path)) == 1


def test_threads_can_share_a_writer(tmp_path):
    with InspectWriter(tmp_path) as writer:

        def work(layer):
            for step in range(20):
                writer.write(step, "layer_std", 0.5, dataset="train", layer=layer)

        threads = [threading.Thread(target=work, args=(f"l{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(_values(tmp_path)) == 80


def _write_sample_run(run_dir):
    with InspectWriter(run_dir) as writer:
        for step in range(3):
            writer.write(step, "model_auc", 0.5, dataset="test1")
            writer.write_scalar(step, scalar_tag("model_auc", "test1"), 0.5)
            writer.write_scalar(step, keras_log_tag("loss"), 1.0)
            writer.write(step, "neuron_mean", np.arange(4.0), dataset="train", layer="dense_1")
            writer.write(step, "correlation_matrix", np.eye(4), dataset="train", layer="dense_1")
            writer.write(step, "confusion_matrix", np.eye(2, dtype=int), dataset="test1")


def test_tensorboard_data_provider_sees_everything(tmp_path):
    _write_sample_run(tmp_path / "run1")
    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        tensor_size_guidance={PLUGIN_NAME: 0, "scalars": 0}
    )
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    ctx = context.RequestContext()

    tensors = provider.list_tensors(ctx, experiment_id="", plugin_name=PLUGIN_NAME)
    assert set(tensors) == {"run1/inspect"}
    assert set(tensors["run1/inspect"]) == {
        "neuron_mean/train/dense_1",
        "correlation_matrix/train/dense_1",
        "confusion_matrix/test1",
    }
    assert tensors["run1/inspect"]["neuron_mean/train/dense_1"].max_step == 2
    read = provider.read_tensors(ctx, experiment_id="", plugin_name=PLUGIN_NAME, downsample=1000)[
        "run1/inspect"
    ]
    assert [datum.step for datum in read["correlation_matrix/train/dense_1"]] == [0, 1, 2]
    assert read["correlation_matrix/train/dense_1"][0].numpy.dtype == np.float16

    scalars = provider.list_scalars(ctx, experiment_id="", plugin_name="scalars")
    assert set(scalars["run1/inspect"]) == {"keras/loss", "model_auc/dataset=test1"}
    # The headline value itself is a scalar of the plugin.
    own = provider.list_scalars(ctx, experiment_id="", plugin_name=PLUGIN_NAME)
    assert set(own["run1/inspect"]) == {"model_auc/test1"}
    for tag in ("keras/loss", "model_auc/dataset=test1", "model_auc/test1"):
        for event in multiplexer.Tensors("run1/inspect", tag):
            assert event.tensor_proto.dtype == types_pb2.DT_FLOAT


@pytest.mark.slow
def test_tensorboard_inspect_lists_the_tags(tmp_path):
    _write_sample_run(tmp_path / "run1")
    result = subprocess.run(
        [sys.executable, "-m", "tensorboard.main", "--inspect", "--logdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        check=True,
    )
    for tag in (
        "model_auc/test1",
        "model_auc/dataset=test1",
        "keras/loss",
        "neuron_mean/train/dense_1",
        "correlation_matrix/train/dense_1",
        "confusion_matrix/test1",
    ):
        assert tag in result.stdout.split(), tag


def test_a_failed_flush_keeps_what_was_flushed_and_a_new_writer_goes_on(tmp_path, monkeypatch):
    import errno

    import keras_inspect as ki
    from keras_inspect import eventfile

    big = np.arange(PART_MIN_SIZE + 1, dtype=np.float32)  # a series written in parts
    full = {"on": False}
    real = eventfile._write_all

    def write_all(fd, data):
        if full["on"]:
            real(fd, data[: len(data) // 3])
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(eventfile, "_write_all", write_all)

    def checkpoint(writer, step):
        writer.write(step, "neuron_mean", big, dataset="train", layer="wide")
        writer.write(step, "model_auc", 0.5, dataset="train")
        if step >= 2:  # a tag first written in the failing flush
            writer.write(step, "layer_std", 0.5, dataset="train", layer="wide")
        writer.write_scalar(step, keras_log_tag("loss"), 1.0)
        writer.flush()

    writer = InspectWriter(tmp_path)
    for step in (0, 1):
        checkpoint(writer, step)
    full["on"] = True
    with pytest.raises(OSError, match="No space left"):
        checkpoint(writer, 2)
    assert repr(writer).endswith("closed)")
    with pytest.raises(RuntimeError, match="is closed"):
        writer.write(3, "model_auc", 0.5, dataset="train")
    full["on"] = False
    with InspectWriter(tmp_path) as again:
        for step in (3, 4):
            checkpoint(again, step)
    frame = ki.load(tmp_path)
    for quantity in ("neuron_mean", "model_auc", "loss"):
        assert sorted(frame[frame.quantity == quantity].step) == [0, 1, 3, 4], quantity
    assert sorted(frame[frame.quantity == "layer_std"].step) == [3, 4]  # its metadata again
    # The parts of the big series: one per writer, each tag with its own metadata.
    base = make_tag("neuron_mean", "train", "wide")
    assert {v.tag for _, _, v in _values(tmp_path) if "wide" in v.tag and "neuron" in v.tag} == {
        part_tag(base, 0),
        part_tag(base, 3),
    }
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={PLUGIN_NAME: 0})
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    assert [e.step for e in multiplexer.Tensors("inspect", part_tag(base, 3))] == [3, 4]
    assert [e.step for e in multiplexer.Tensors("inspect", keras_log_tag("loss"))] == [0, 1, 3, 4]


def test_a_deleted_folder_is_noticed_and_abandon_never_raises(tmp_path):
    import shutil

    writer = InspectWriter(tmp_path)
    assert not writer.lost()  # no file yet
    writer.write(0, "model_auc", 0.5, dataset="train")
    writer.flush()
    assert not writer.lost()
    shutil.rmtree(tmp_path / "inspect")
    assert writer.lost()
    writer.abandon()
    writer.abandon()
    assert not writer.lost()


def test_remote_directories_go_through_tensorboards_writer_and_fail_as_os_errors(monkeypatch):
    from keras_inspect import eventfile

    class FakeEventFileWriter:  # stands in for gs:// through gfile
        instances = []

        def __init__(self, directory, max_queue_size):
            self.directory, self.events, self.broken = directory, [], False
            self.instances.append(self)

        def add_event(self, event):
            self.events.append(event)

        def flush(self):
            if self.broken:
                raise RuntimeError("503 Service Unavailable")

        def close(self):
            self.flush()

    monkeypatch.setattr(eventfile, "EventFileWriter", FakeEventFileWriter)
    writer = InspectWriter("gs://bucket/run")
    writer.write(0, "model_auc", 0.5, dataset="test1")
    writer.flush()
    (remote,) = FakeEventFileWriter.instances
    assert remote.directory == "gs://bucket/run/inspect"
    assert [e.step for e in remote.events] == [0]
    assert not writer.lost()
    remote.broken = True
    writer.write(1, "model_auc", 0.5, dataset="test1")
    with pytest.raises(OSError, match="RuntimeError: 503 Service Unavailable"):
        writer.flush()
    writer.close()  # closed by the failure; nothing raised
