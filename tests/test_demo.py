"""The demo (``make demo``) never goes silent, and its runs are all different.

A user watching ``make demo`` sees a line at least every 10 s, also while the callback finishes
its t-SNE projections and entropies after ``fit`` (issue 19, point 7): the ticker of
``examples/progress.py`` guarantees it, and the slow test below times the real demo's lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

import keras_inspect as ki
from examples.progress import Progress

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_SILENCE_S = 10.0  # the demo's promise
CTR_RUNS = {"ctr", "compare/ctr_3_layers", "compare/ctr_4_layers_seed1"}


def test_the_ticker_repeats_the_status_into_a_silence(capsys):
    with Progress(every=0.2) as progress:
        progress.say("step 1")
        progress.status("training epoch 1/3")
        time.sleep(0.7)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("] step 1")
    ticks = [line for line in lines if line.endswith("] training epoch 1/3")]
    assert len(ticks) >= 2, lines  # one per 0.2 s of silence


def test_a_status_alone_prints_nothing_until_the_silence(capsys):
    with Progress(every=60.0) as progress:
        progress.status("training epoch 1/3")  # Keras prints its own line per epoch
    assert capsys.readouterr().out == ""


def _timed_lines(command: list[str], timeout_s: float) -> tuple[list[tuple[float, str]], int]:
    """Run ``command``; return its stdout lines, each with the seconds since the start at which
    it arrived, and its exit code. A watchdog kills it after ``timeout_s`` (a hung demo fails
    the test instead of hanging the suite)."""
    started = time.monotonic()
    with subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # TensorFlow's start-up chatter; the progress is on stdout
        stdin=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2"),
    ) as process:
        watchdog = threading.Timer(timeout_s, process.kill)
        watchdog.start()
        try:
            lines = [(time.monotonic() - started, line.rstrip("\n")) for line in process.stdout]
            return lines, process.wait()
        finally:
            watchdog.cancel()


def _longest_silence(lines: list[tuple[float, str]]) -> tuple[float, str]:
    """The longest wait for a line (from the start on), and the line that ended it."""
    times = [0.0] + [t for t, _ in lines]
    gaps = [(b - a, text) for a, b, (_, text) in zip(times[:-1], times[1:], lines, strict=True)]
    return max(gaps)


@pytest.mark.slow
def test_the_quick_demo_never_goes_silent_and_trains_different_runs(tmp_path):
    logdir = tmp_path / "logs"
    command = [sys.executable, "examples/demo.py", "--quick", "--no-serve", "--logdir", str(logdir)]
    lines, code = _timed_lines(command, timeout_s=600)
    printed = "\n".join(text for _, text in lines)
    assert code == 0, printed[-3000:]
    gap, after = _longest_silence(lines)
    assert gap <= MAX_SILENCE_S, f"{gap:.1f} s without a line before {after!r}"
    assert "everything is trained and written" in lines[-1][1]

    frame = ki.load(logdir)
    assert set(frame.run) == CTR_RUNS | {"timeseries", "digits"}
    # Every panel's quantity is there once training and the background work are done.
    assert set(ki.PRESETS["full"]) <= set(frame.quantity)
    losses = {
        run: tuple(frame[(frame.run == run) & (frame.quantity == "loss")].sort_values("step").value)
        for run in CTR_RUNS
    }
    assert len(set(losses.values())) == len(CTR_RUNS), losses  # no run repeats another
    layers = frame[frame.quantity == "neuron_mean"].groupby("run").layer.unique()
    assert "dense_4" in set(layers["compare/ctr_4_layers_seed1"])  # ctr's network, reseeded
    assert "dense_4" not in set(layers["compare/ctr_3_layers"])  # ctr without layer 4
