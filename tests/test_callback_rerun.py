"""A second training into the same ``log_dir`` continues the step count; nothing is doubled.

A re-run notebook cell (a new callback, ``fit`` counting epochs from 0 again) used to write
steps 0, 1, 2 a second time: ``ki.load`` returned both trainings' rows and TensorBoard's two
loaders disagreed about the repeated steps.
"""

from __future__ import annotations

import json
import time
import warnings

import pytest

import keras_inspect as ki
from benchmarks.plugin_latency import TensorBoard, fetch
from keras_inspect.resume import Previous, previous_checkpoints
from tests import models

CELL = ["run", "step", "dataset", "layer", "quantity"]


def _fit(model, x, y, log_dir, epochs, **fit_kwargs):
    callback = ki.InspectCallback(
        log_dir, {"train": (x, y), "test": (x[:32], y[:32])}, quantities="light"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ki.InspectWarning)
        model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=[callback],
                  **fit_kwargs)
    said = [str(w.message) for w in caught if issubclass(w.category, ki.InspectWarning)]
    return [m for m in said if "already holds" in m]


def _compiled():
    model, x, y = models.sequential_no_input()
    model.compile("adam", "binary_crossentropy")
    return model, x, y


def _cells(frame):
    extra = [c for c in ("group", "class", "sample", "pair", "type") if c in frame]
    return frame[CELL + extra].astype(str)


def test_a_second_fit_continues_after_the_last_step_and_says_so_once(tmp_path):
    model, x, y = _compiled()
    assert _fit(model, x, y, tmp_path, epochs=3) == []
    assert previous_checkpoints(str(tmp_path)) == Previous(last_step=2, trainings=1)
    said = _fit(model, x, y, tmp_path, epochs=2)
    assert len(said) == 1
    assert "up to step 2" in said[0] and "epoch 0 is step 3" in said[0]
    assert "initial_epoch=3" in said[0]
    frame = ki.load(tmp_path)
    assert not _cells(frame).duplicated().any()
    assert sorted(set(frame.step)) == [0, 1, 2, 3, 4]
    by_step = frame.groupby("step").training.unique().map(list).to_dict()
    assert by_step == {0: [0], 1: [0], 2: [0], 3: [1], 4: [1]}
    losses = frame[frame.quantity == "loss"]
    assert list(losses.step) == [0, 1, 2, 3, 4]
    assert previous_checkpoints(str(tmp_path)) == Previous(last_step=4, trainings=2)


def test_initial_epoch_after_the_last_step_is_kept_as_it_is(tmp_path):
    model, x, y = _compiled()
    _fit(model, x, y, tmp_path, epochs=2)
    assert _fit(model, x, y, tmp_path, epochs=4, initial_epoch=2) == []
    frame = ki.load(tmp_path)
    assert sorted(set(frame.step)) == [0, 1, 2, 3]
    assert set(frame[frame.step >= 2].training) == {1}


def test_the_same_callback_fitted_twice_continues_too(tmp_path):
    model, x, y = _compiled()
    callback = ki.InspectCallback(tmp_path, {"train": (x, y)}, quantities="light")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    with pytest.warns(ki.InspectWarning, match="up to step 1, so this training's steps"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    frame = ki.load(tmp_path)
    assert sorted(set(frame.step)) == [0, 1, 2, 3]
    assert sorted(set(frame.training)) == [0, 1]
    assert not _cells(frame).duplicated().any()


def test_a_step_schedule_continues_the_batch_count(tmp_path):
    model, x, y = _compiled()
    for _ in range(2):
        callback = ki.InspectCallback(
            tmp_path, {"train": (x, y)}, quantities="light", every_n_steps=2
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "keras_inspect: .* already holds")
            model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[callback])
    steps = sorted(set(ki.load(tmp_path).step))
    first = list(range(2, -(-len(x) // 32) + 1, 2))  # batch counts 2, 4, ... of one fit
    assert first, "the test needs at least two batches"
    # the second fit's batch count goes on after the first fit's last checkpoint
    assert steps == first + [first[-1] + count for count in first]


@pytest.mark.slow
def test_both_tensorboard_loaders_see_each_step_once(tmp_path):
    model, x, y = _compiled()
    _fit(model, x, y, tmp_path / "run", epochs=2)
    _fit(model, x, y, tmp_path / "run", epochs=2)
    answers = {}
    for mode in ("true", "false"):
        with TensorBoard(str(tmp_path), mode, reload_interval=1) as board:
            board.wait_ready()
            answers[mode] = _steps_served(board)
    assert answers["true"] == answers["false"] == {"runs": [0, 1, 2, 3], "loss": [0, 1, 2, 3]}


def _steps_served(board, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body, _ = fetch(board.route("runs"))
        runs = json.loads(body)["runs"] if status == 200 else []
        if runs and runs[0]["steps"] == [0, 1, 2, 3]:
            break
        time.sleep(0.5)
    status, body, _ = fetch(board.route("logs", run="run"))
    assert status == 200, body
    series = json.loads(body)["runs"][0]["series"]
    loss = next(s for s in series if s["name"] == "loss" and s["source"] == "inspect")
    return {"runs": runs[0]["steps"] if runs else None, "loss": loss["steps"]}


def test_a_marked_step_belongs_to_its_training_and_older_runs_to_training_0(tmp_path):
    from keras_inspect.writer import InspectWriter
    from tb_plugin.metadata import TRAINING_TAG, keras_log_tag

    with InspectWriter(tmp_path) as writer:
        for step in range(4):
            writer.write_scalar(step, keras_log_tag("loss"), 1.0 / (step + 1))
        writer.write_scalar(2, TRAINING_TAG, 1.0)
    frame = ki.load(tmp_path)
    assert list(frame.training) == [0, 0, 1, 1]
    assert previous_checkpoints(str(tmp_path)) == Previous(last_step=3, trainings=2)


def test_an_empty_or_missing_folder_holds_nothing(tmp_path):
    assert previous_checkpoints(str(tmp_path / "nowhere")) == Previous()
    (tmp_path / "inspect").mkdir()
    (tmp_path / "inspect" / "events.out.tfevents.1.host.1.0.v2").write_bytes(b"\x01\x02")
    assert previous_checkpoints(str(tmp_path)) == Previous()

