"""No file-system failure reaches training: a full disk, inspect/ turned into a file or deleted,
a read-only folder. Each is said once, writing resumes, and what was written stays readable."""

from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading

import keras
import pytest
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer

import keras_inspect as ki
from keras_inspect import eventfile
from keras_inspect.sink import RecordSink
from keras_inspect.writer import InspectWriter
from tb_plugin.metadata import PLUGIN_NAME, keras_log_tag
from tests import models
from tests.test_eventfile import whole_records

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make(log_dir, x, y, **kwargs):
    datasets = {"train": (x, y), "test1": (x[:40], y[:40])}
    return ki.InspectCallback(log_dir, datasets, max_samples=64, **kwargs)


class FullDisk:
    """The disk is full for the writes of chosen steps: half of a write lands, then ENOSPC.

    ``full_at`` holds steps (any writer) or (thread name, step) pairs. The step is the one the
    calling thread is writing (set by the sink's two write methods), so the outcome does not
    depend on how the worker's and the lanes' writes interleave.
    """

    def __init__(self, monkeypatch, full_at):
        self.full_at = set(full_at)
        self.failed = 0
        self._writing = threading.local()
        real = eventfile._write_all

        def write_all(fd, data):
            step = getattr(self._writing, "step", None)
            here = (threading.current_thread().name, step)
            if step in self.full_at or here in self.full_at:
                self.failed += 1
                real(fd, data[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(fd, data)

        monkeypatch.setattr(eventfile, "_write_all", write_all)
        for name in ("write_checkpoint", "write_records"):
            monkeypatch.setattr(RecordSink, name, self._marking(getattr(RecordSink, name)))

    def _marking(self, method):
        def marked(sink, step, *args, **kwargs):
            self._writing.step = step
            try:
                return method(sink, step, *args, **kwargs)
            finally:
                self._writing.step = None

        return marked


class Meddle(keras.callbacks.Callback):
    """Acts on the file system after an epoch, once the checkpoints before it are written.

    Goes before the inspector in ``callbacks``, so the action comes before that epoch's
    checkpoint.
    """

    def __init__(self, inspector, actions):
        super().__init__()
        self.inspector = inspector
        self.actions = actions

    def on_epoch_end(self, epoch, logs=None):
        if self.inspector._worker is not None:
            self.inspector._worker.drain()
        if epoch in self.actions:
            self.actions[epoch]()


def said(caught):
    """The messages of the InspectWarnings caught (LeftOutWarnings are about presets)."""
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, ki.InspectWarning)
        and not issubclass(w.category, ki.LeftOutWarning)
    ]


def tensorboard_steps(log_dir):
    """Steps per tag as TensorBoard's own data provider reads ``<log_dir>/inspect``."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        tensor_size_guidance={PLUGIN_NAME: 0, "scalars": 0}
    )
    multiplexer.AddRunsFromDirectory(str(log_dir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(log_dir))
    ctx = context.RequestContext()
    steps = {}
    for plugin in (PLUGIN_NAME, "scalars"):
        for read in (provider.read_tensors, provider.read_scalars):
            found = read(ctx, experiment_id="", plugin_name=plugin, downsample=10**6)
            for tag, data in found.get("inspect", {}).items():
                steps[tag] = [datum.step for datum in data]
    return steps


def check_readable(log_dir, steps):
    """Every event file is whole; ki.load and TensorBoard see exactly ``steps``, complete."""
    files = sorted(glob.glob(os.path.join(str(log_dir), "inspect", "events.out.tfevents.*")))
    for path in files:
        whole_records(path)
    frame = ki.load(log_dir)
    assert sorted(frame.step.unique()) == steps
    cells = {
        step: set(map(tuple, group[["quantity", "dataset", "layer"]].values))
        for step, group in frame.groupby("step")
    }
    later = [cells[step] for step in steps[1:]]
    assert all(found == later[0] for found in later)  # no checkpoint half written
    # The first one has the model's records too; CKA to the previous checkpoint starts at the
    # second.
    assert cells[steps[0]] >= {cell for cell in later[0] if cell[0] != "cka_previous"}
    seen = tensorboard_steps(log_dir)
    assert seen[keras_log_tag("loss")] == steps
    assert all(set(found) <= set(steps) for found in seen.values())
    return files


def test_a_full_disk_skips_checkpoints_says_so_twice_and_writing_resumes(
    tmp_path, binary, monkeypatch
):
    model, x, y = binary
    disk = FullDisk(monkeypatch, full_at={2, 3})
    inspector = make(tmp_path, x, y)
    with pytest.warns(ki.InspectWarning) as caught:
        model.fit(x, y, epochs=6, verbose=0, callbacks=[inspector])
    messages = said(caught)
    assert len(messages) == 2, messages
    assert messages[0] == (
        f"keras_inspect: could not write step 2 to {tmp_path / 'inspect'}: no space left on "
        "device (ENOSPC). Training goes on without it; writing is retried at the next "
        "checkpoint (and said once when it works again). Later failures of this kind are not "
        "reported."
    )
    assert messages[1] == (
        f"keras_inspect: writing to {tmp_path / 'inspect'} works again at step 4 after no "
        "space left on device (ENOSPC); steps 2, 3 were not recorded. Later gaps of this kind "
        "are not reported."
    )
    assert disk.failed == 2  # step 2's checkpoint, then step 3's new file
    files = check_readable(tmp_path, [0, 1, 4, 5])
    assert len(files) == 2  # the file of the failure was left for a new one
    assert inspector._sink.lost_steps == [2, 3]


def test_the_models_records_wait_for_the_first_checkpoint_on_disk(tmp_path, binary, monkeypatch):
    model, x, y = binary
    FullDisk(monkeypatch, full_at={0})
    inspector = make(tmp_path, x, y)
    with pytest.warns(ki.InspectWarning) as caught:
        model.fit(x, y, epochs=2, verbose=0, callbacks=[inspector])
    assert len(said(caught)) == 2  # failed at 0, works again at 1
    frame = ki.load(tmp_path)
    assert set(frame[frame.quantity == "model_layers"].step) == {1}


def test_strict_raises_the_os_error_itself_and_keeps_the_files_readable(
    tmp_path, binary, monkeypatch
):
    model, x, y = binary
    FullDisk(monkeypatch, full_at={2})
    inspector = make(tmp_path, x, y, strict=True)
    with pytest.raises(OSError, match="No space left on device") as raised:
        model.fit(x, y, epochs=4, verbose=0, callbacks=[inspector])
    assert raised.value.errno == errno.ENOSPC
    check_readable(tmp_path, [0, 1])


def test_inspect_turned_into_a_file_is_said_once_per_cause_and_writing_resumes(tmp_path, binary):
    model, x, y = binary
    inspect_dir = tmp_path / "inspect"
    inspector = make(tmp_path, x, y)

    def replace():
        inspect_dir.rename(tmp_path / "moved")
        inspect_dir.write_text("not a folder")

    meddle = Meddle(inspector, {2: replace, 4: inspect_dir.unlink})
    with pytest.warns(ki.InspectWarning) as caught:
        model.fit(x, y, epochs=6, verbose=0, callbacks=[meddle, inspector])
    messages = said(caught)
    assert len(messages) == 3, messages
    assert "the event file in" in messages[0] and "was deleted or replaced" in messages[0]
    assert messages[1].startswith(
        f"keras_inspect: could not write step 2 to {inspect_dir}: {inspect_dir} (or a folder "
        "above it) is a file, not a folder. Training goes on without it; writing is retried"
    )
    assert "works again at step 4 after" in messages[2]
    assert "steps 2, 3 were not recorded" in messages[2]
    check_readable(tmp_path, [4, 5])
    (moved,) = glob.glob(str(tmp_path / "moved" / "events.out.tfevents.*"))
    assert set(whole_records(moved)) == {0, 1}


def test_a_deleted_inspect_folder_is_made_again_and_said_once(tmp_path, binary):
    model, x, y = binary
    inspector = make(tmp_path, x, y)
    meddle = Meddle(inspector, {3: lambda: shutil.rmtree(tmp_path / "inspect")})
    with pytest.warns(ki.InspectWarning) as caught:
        model.fit(x, y, epochs=6, verbose=0, callbacks=[meddle, inspector])
    messages = said(caught)
    assert messages == [
        f"keras_inspect: the event file in {tmp_path / 'inspect'} was deleted or replaced (or "
        "the folder itself) during training; from step 3 on, records go to a new event file "
        "there (the folder is made again if missing). What the lost file held is gone. "
        "Training goes on."
    ]
    check_readable(tmp_path, [3, 4, 5])


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root writes into read-only folders; the tmpfs test mounts a read-only one instead",
)
def test_a_read_only_folder_is_said_once_and_writing_starts_when_it_is_writable(tmp_path, binary):
    model, x, y = binary
    log_dir = tmp_path / "run"
    log_dir.mkdir()
    log_dir.chmod(0o555)
    inspector = make(log_dir, x, y)
    meddle = Meddle(inspector, {2: lambda: log_dir.chmod(0o755)})
    try:
        with pytest.warns(ki.InspectWarning) as caught:
            model.fit(x, y, epochs=4, verbose=0, callbacks=[meddle, inspector])
    finally:
        log_dir.chmod(0o755)
    messages = said(caught)
    assert len(messages) == 2, messages
    assert "could not write step 0" in messages[0] and "(EACCES)" in messages[0]
    assert "works again at step 2" in messages[1] and "steps 0, 1 were not" in messages[1]
    check_readable(log_dir, [2, 3])


def test_a_slow_lanes_failed_write_is_said_like_a_checkpoints(tmp_path, monkeypatch):
    model, x, y = models.sequential_conv2d()
    model.compile("adam", "sparse_categorical_crossentropy")
    FullDisk(monkeypatch, full_at={("keras-inspect-maps", 1)})
    inspector = ki.InspectCallback(
        tmp_path, {"train": (x, y)}, quantities=["neuron_mean", "entropy_intra"]
    )

    class Wait(keras.callbacks.Callback):  # each step's entropies before the next checkpoint
        def on_epoch_begin(self, epoch, logs=None):
            inspector.wait(timeout=60)

    with pytest.warns(ki.InspectWarning) as caught:
        model.fit(x, y, epochs=4, verbose=0, callbacks=[Wait(), inspector])
    assert inspector.wait(timeout=60)
    messages = said(caught)
    assert len(messages) == 2, messages
    assert "could not write step 1" in messages[0] and "(ENOSPC)" in messages[0]
    assert "works again at step 2" in messages[1] and "step 1 was not recorded" in messages[1]
    frame = ki.load(tmp_path)
    assert sorted(frame[frame.quantity == "neuron_mean"].step.unique()) == [0, 1, 2, 3]
    assert sorted(frame[frame.quantity == "entropy_intra"].step.unique()) == [0, 2, 3]
    for path in glob.glob(str(tmp_path / "inspect" / "events.out.tfevents.*")):
        whole_records(path)


def test_close_on_a_full_disk_does_not_raise(tmp_path, binary, monkeypatch):
    model, x, y = binary

    def full_close(writer):
        InspectWriter.abandon(writer)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(InspectWriter, "close", full_close)
    inspector = make(tmp_path, x, y)
    with pytest.warns(ki.InspectWarning) as caught:
        model.fit(x, y, epochs=2, verbose=0, callbacks=[inspector])
    messages = said(caught)
    assert len(messages) == 1, messages
    assert messages[0].startswith(
        "keras_inspect: could not write the last records (closing the event file) to "
    )
    inspector.close()  # again: nothing left to fail
    check_readable(tmp_path, [0, 1])


def test_the_worker_never_raises_an_os_error_on_the_training_thread(tmp_path, binary, monkeypatch):
    from keras_inspect.slow_work import SlowWork

    model, x, y = binary

    def broken_offer(self, step, samples, summaries):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(SlowWork, "offer", broken_offer)
    inspector = make(tmp_path, x, y)
    with pytest.warns(ki.InspectWarning) as caught:
        model.fit(x, y, epochs=3, verbose=0, callbacks=[inspector])
    messages = said(caught)
    assert len(messages) == 1, messages
    assert "'keras-inspect' thread stopped at a file-system error" in messages[0]
    assert "(EIO)" in messages[0]
    check_readable(tmp_path, [0, 1, 2])


# A real full file system: a small tmpfs in a private mount namespace ------------------------

_TMPFS_SCRIPT = """
import errno, json, os, shutil, sys, warnings

sys.path.insert(0, {root!r})
import keras
import keras_inspect as ki
from tests import models
from tests.test_disk_failures import Meddle, said

full, read_only, out = sys.argv[1:4]


def fill():
    fd = os.open(os.path.join(full, "filler"), os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, bytes(65536)):
            pass
    except OSError as error:
        assert error.errno == errno.ENOSPC, error
    finally:
        os.close(fd)


def free():
    os.remove(os.path.join(full, "filler"))


result = {{}}
for name, log_dir, actions in (
    ("full", os.path.join(full, "run"), {{2: fill, 4: free}}),
    ("read_only", os.path.join(read_only, "run"), {{}}),
):
    model, x, y = models.sequential_no_input()
    model.compile("adam", "binary_crossentropy")
    inspector = ki.InspectCallback(log_dir, {{"train": (x, y)}}, max_samples=64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=6, verbose=0, callbacks=[Meddle(inspector, actions), inspector])
    result[name] = said(caught)
    if os.path.isdir(log_dir):
        shutil.copytree(log_dir, os.path.join(out, name))
with open(os.path.join(out, "result.json"), "w") as file:
    json.dump(result, file)
"""


def _mount_namespace_reason(probe_dir):
    """Why a tmpfs cannot be mounted in a private namespace here, or None when it can."""
    if shutil.which("unshare") is None:
        return "no unshare(1) on this machine"
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs '{probe_dir}'"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a user+mount namespace: {probe.stderr.strip()}"
    return None


@pytest.mark.slow
def test_a_real_full_tmpfs_and_a_read_only_one(tmp_path):
    full, read_only, out = (tmp_path / name for name in ("full", "read_only", "out"))
    for folder in (full, read_only, out):
        folder.mkdir()
    reason = _mount_namespace_reason(full)
    if reason is not None:
        pytest.skip(reason)
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(_TMPFS_SCRIPT.format(root=ROOT)))
    command = (
        f"mount -t tmpfs -o size=1m tmpfs '{full}' && "
        f"mount -t tmpfs -o size=64k,ro tmpfs '{read_only}' && "
        f"'{sys.executable}' '{script}' '{full}' '{read_only}' '{out}'"
    )
    run = subprocess.run(
        ["unshare", "-rm", "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())

    messages = result["full"]
    assert len(messages) == 2, messages
    assert "could not write step 2" in messages[0] and "(ENOSPC)" in messages[0]
    assert "works again at step 4" in messages[1] and "steps 2, 3 were not" in messages[1]
    frame = ki.load(out / "full")
    assert sorted(frame.step.unique()) == [0, 1, 4, 5]
    for path in glob.glob(str(out / "full" / "inspect" / "events.out.tfevents.*")):
        whole_records(path)  # the partial write of step 2 was cut back
    assert tensorboard_steps(out / "full")[keras_log_tag("loss")] == [0, 1, 4, 5]

    (message,) = result["read_only"]
    assert "could not write step 0" in message and "read-only file system (EROFS)" in message
    assert not (out / "read_only").exists()
