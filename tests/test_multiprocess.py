"""More than one process or device: two JAX processes on 127.0.0.1 train data-parallel with the
callback (``examples/multiprocess_jax.py``): each checkpoint is recorded once, with the values
one process computes on the same weights, and neither a failing capture nor a configuration
error leaves a process waiting; two torch.distributed ranks; a model sharded over two devices
of one process; MirroredStrategy over two logical CPUs."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import keras_inspect as ki
from tests import models

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "multiprocess_jax.py")
TIMEOUT = 240  # the job's own bound is 180 s; this one catches a launcher that hangs


def run(*args: str, backend: str = "jax") -> subprocess.CompletedProcess:
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


RECOMPUTE = """
import sys
import numpy as np
import keras_inspect as ki
from tests import models
from examples.multiprocess_jax import build_model, load_data
(x, y), (x_test, y_test) = load_data()
model = build_model()
weights = np.load(sys.argv[1])
model.set_weights([weights[f"arr_{i}"] for i in range(len(weights.files))])
inspector = ki.InspectCallback(
    sys.argv[2], {"train": (x, y), "test": (x_test, y_test)}, projection="pca",
    asynchronous=False,
)
inspector.set_model(model)
inspector.record(int(sys.argv[3]))
inspector.close()
"""


@pytest.mark.parametrize(
    "split",
    [[], ["--model-parallel"]],
    ids=["data_parallel", "model_parallel"],  # weights replicated / sharded across processes
)
def test_two_jax_processes_record_each_checkpoint_once_with_one_process_values(tmp_path, split):
    logdir, weights = tmp_path / "job", tmp_path / "final.npz"
    done = run(EXAMPLE, "--logdir", str(logdir), "--save-weights", str(weights), *split)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "process 0 of 2: trained 3 epochs" in done.stdout
    assert "process 1 of 2: trained 3 epochs" in done.stdout
    assert len(glob.glob(str(logdir / "**" / "*tfevents*"), recursive=True)) == 1
    frame = ki.load(str(logdir))
    keys = [c for c in frame.columns if c not in ("value", "wall_time")]
    assert not frame.duplicated(keys).any()  # nothing written twice
    assert sorted(frame.step.unique()) == [0, 1, 2]
    # the last checkpoint's values, recomputed by one process on the final weights
    again = tmp_path / "one"
    single = run("-c", RECOMPUTE, str(weights), str(again), "2")
    assert single.returncode == 0, single.stderr[-4000:]
    alone = ki.load(str(again))
    compared = 0
    for quantity in ("neuron_mean", "neuron_std", "model_auc", "probe_auc", "feature_saliency"):
        for row in alone[alone.quantity == quantity].itertuples():
            match = frame[
                (frame.step == 2)
                & (frame.quantity == quantity)
                & (frame.dataset == row.dataset)
                & (frame.layer == row.layer)
                & (frame.group.map(_name) == _name(row.group))  # a group per input column
            ]
            assert len(match) == 1, (quantity, row.dataset, row.layer)
            expected = np.asarray(row.value, np.float64)
            # float32 features in another compiled program: a logistic probe's fit moves its
            # AUC by ~1e-4 (measured); the moments agree to float32 rounding
            tolerance = 1e-3 if quantity == "probe_auc" else 1e-5
            np.testing.assert_allclose(
                np.asarray(match.value.iloc[0], np.float64),
                expected,
                atol=tolerance * max(1.0, np.abs(expected).max()),
                err_msg=f"{quantity} {row.dataset} {row.layer}",
            )
            compared += 1
    assert compared >= 10


def test_a_capture_failing_on_process_0_ends_both_processes_cleanly(tmp_path):
    done = run(EXAMPLE, "--logdir", str(tmp_path / "job"), "--inject-failure", "--epochs", "2")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "process 0 of 2: trained 2 epochs" in done.stdout
    assert "process 1 of 2: trained 2 epochs" in done.stdout
    # reported once, on the process that records
    assert done.stdout.count("injected failure of the capture") == 1, done.stdout


def test_a_configuration_error_stops_every_process_without_a_hang(tmp_path):
    done = run(EXAMPLE, "--logdir", str(tmp_path / "job"), "--layers", "no_such_layer")
    assert done.returncode != 0
    assert "did not finish" not in done.stdout  # both ended on their own, no kill
    for index in (0, 1):
        section = done.stdout.split(f"--- process {index}")[1].split("--- process")[0]
        assert "ConfigError" in section and "no_such_layer" in section, done.stdout


def test_processes_that_inspect_different_data_are_told_process_0s_is_used(tmp_path):
    logdir = tmp_path / "job"
    done = run(EXAMPLE, "--logdir", str(logdir), "--inspect-own-shard", "--epochs", "1")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert done.stdout.count("passed different datasets") == 1, done.stdout
    assert "process 0's are the ones inspected" in done.stdout
    frame = ki.load(str(logdir))
    assert set(frame.dataset) - {""} == {"train"}
    assert len(glob.glob(str(logdir / "**" / "*tfevents*"), recursive=True)) == 1


SHARDED = """
import sys
import jax, keras, numpy as np
import keras_inspect as ki
from examples.multiprocess_jax import build_model, load_data
(x, y), (x_test, y_test) = load_data()
weights = [
    np.random.default_rng(0).normal(0, 0.3, w.shape).astype(w.dtype)
    for w in build_model().get_weights()
]

def record(model, logdir):
    model.set_weights(weights)
    inspector = ki.InspectCallback(
        logdir, {"train": (x, y), "test": (x_test, y_test)}, quantities="full",
        projection="pca", asynchronous=False,
    )
    inspector.set_model(model)
    inspector.record(0)
    inspector.close()
    assert inspector.wait(120)

record(build_model(), sys.argv[1] + "/whole")
mesh = keras.distribution.DeviceMesh((1, 2), ["batch", "model"], jax.devices())
layout = keras.distribution.LayoutMap(mesh)
layout[".*dense_.*/kernel"] = (None, "model")  # Dense units split over the two devices
layout[".*dense_.*/bias"] = ("model",)
keras.distribution.set_distribution(
    keras.distribution.ModelParallel(layout_map=layout, batch_dim_name="batch")
)
model = build_model()
assert not model.get_layer("dense_1").kernel.value.sharding.is_fully_replicated
record(model, sys.argv[1] + "/sharded")
"""


def test_a_model_sharded_over_two_devices_records_the_unsharded_values(tmp_path, monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    done = run("-c", SHARDED, str(tmp_path))
    assert done.returncode == 0, done.stderr[-4000:]
    whole = models.keyed_records(ki.load(str(tmp_path / "whole")))
    sharded = models.keyed_records(ki.load(str(tmp_path / "sharded")))
    assert set(sharded) == set(whole)
    for key, value in whole.items():
        a, b = np.asarray(value, np.float64), np.asarray(sharded[key], np.float64)
        scale = np.abs(a).max() if a.size else 0.0
        # float32 sums in another order; a PCA layout or a kNN entropy moves by up to 1.1e-4
        np.testing.assert_allclose(b, a, rtol=0, atol=5e-4 * scale + 1e-9, err_msg=str(key))


MIRRORED = """
import glob, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
import keras_inspect as ki
from examples.multiprocess_jax import build_model, load_data
(x, y), (x_test, y_test) = load_data()
datasets = {"train": (x, y), "test": (x_test, y_test)}
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = build_model()
    model.compile("adam", "sparse_categorical_crossentropy")
inspector = ki.InspectCallback(sys.argv[1] + "/mirrored", datasets, projection="pca")
model.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[inspector])
inspector.wait(120)
print("EVENT FILES", len(glob.glob(sys.argv[1] + "/mirrored/**/*tfevents*", recursive=True)))
alone = build_model()
alone.set_weights(model.get_weights())
again = ki.InspectCallback(sys.argv[1] + "/alone", datasets, projection="pca", asynchronous=False)
again.set_model(alone)
again.record(1)
again.close()
"""


def test_mirrored_strategy_on_two_cpu_devices_records_single_device_values(tmp_path):
    done = run("-c", MIRRORED, str(tmp_path), backend="tensorflow")
    assert done.returncode == 0, done.stderr[-4000:]
    assert "EVENT FILES 1" in done.stdout
    mirrored = ki.load(str(tmp_path / "mirrored"))
    alone = ki.load(str(tmp_path / "alone"))
    last = models.keyed_records(mirrored[mirrored.step == 1])
    compared = 0
    for key, value in models.keyed_records(alone).items():
        if key[3] in ("model_layers", "correlation_units"):
            continue
        a = np.asarray(value, np.float64)
        tolerance = 1e-3 if key[3] == "probe_auc" else 1e-5
        np.testing.assert_allclose(
            np.asarray(last[key], np.float64),
            a,
            atol=tolerance * max(1.0, np.abs(a).max() if a.size else 0.0),
            err_msg=str(key),
        )
        compared += 1
    assert compared >= 20


TORCH_RANK = """
import sys
rank, port, logdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
import torch
torch.distributed.init_process_group(
    "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2
)
import keras
import keras_inspect as ki
from examples.multiprocess_jax import build_model, load_data
keras.utils.set_random_seed(0)
(x, y), _ = load_data()
model = build_model()
model.compile("adam", "sparse_categorical_crossentropy")
own = {"train": (x[rank::2], y[rank::2])}  # each rank its own shard: told once
inspector = ki.InspectCallback(logdir, own, projection="pca")
model.fit(x[rank::2], y[rank::2], epochs=2, batch_size=64, verbose=0, callbacks=[inspector])
inspector.wait(60)
torch.distributed.destroy_process_group()
print("rank", rank, "done", flush=True)
"""


def test_torch_distributed_ranks_are_found_and_rank_0_records(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    ranks = [
        subprocess.Popen(
            [sys.executable, "-c", TORCH_RANK, str(rank), str(port), str(tmp_path)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = []
    try:
        for process in ranks:
            outputs.append(process.communicate(timeout=TIMEOUT))
    finally:
        for process in ranks:
            process.kill()
    for rank, (process, (out, err)) in enumerate(zip(ranks, outputs, strict=True)):
        assert process.returncode == 0 and f"rank {rank} done" in out, err[-3000:]
    assert "passed different datasets" in outputs[0][1]  # said on rank 0 only
    assert "passed different datasets" not in outputs[1][1]
    assert len(glob.glob(str(tmp_path / "**" / "*tfevents*"), recursive=True)) == 1
    assert sorted(ki.load(str(tmp_path)).step.unique()) == [0, 1]


def _name(group: object) -> str:
    """A group's name, or "" for a row without one (None or NaN, as pandas reads it)."""
    return group if isinstance(group, str) else ""
