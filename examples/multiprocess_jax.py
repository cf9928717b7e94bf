"""Data-parallel training on two JAX processes, inspected once.

The same script runs on every process of a ``jax.distributed`` job; ``InspectCallback`` asks
JAX which process it is in (``jax.process_index()``), and only process 0 runs the capture and
writes, so each checkpoint is recorded once. This script starts itself as ``--processes``
workers on 127.0.0.1 (a free port; CPU devices, Gloo collectives), trains a small classifier on
scikit-learn's digits with ``keras.distribution.DataParallel`` (each process feeds its own half
of every batch), and prints where the event files are::

    python examples/multiprocess_jax.py --logdir logs/multiprocess
    tensorboard --logdir logs/multiprocess

On real hardware the launch is the cluster's (one process per host); the training script is
the worker half of this one.
"""

from __future__ import annotations

import argparse
import glob
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_data():
    """Digits as 64 pixel columns in [0, 1]: train and test splits."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    return (x[:1500], y[:1500]), (x[1500:], y[1500:])


def build_model():
    import keras

    return keras.Sequential(
        [
            keras.Input((64,), name="pixels"),
            keras.layers.Dense(32, activation="relu", name="dense_1"),
            keras.layers.Dense(16, activation="relu", name="dense_2"),
            keras.layers.Dense(10, activation="softmax", name="digit"),
        ],
        name="digits_mlp",
    )


def worker(args: argparse.Namespace) -> None:
    """One process of the job: join it, train data-parallel with the callback."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{args.port}",
        num_processes=args.processes,
        process_id=args.worker,
        initialization_timeout=int(args.timeout),
    )
    import keras
    import numpy as np

    import keras_inspect as ki

    keras.distribution.set_distribution(keras.distribution.DataParallel(auto_shard_dataset=False))
    keras.utils.set_random_seed(0)  # the same initial weights on every process
    (x, y), (x_test, y_test) = load_data()
    index, count = jax.process_index(), jax.process_count()
    model = build_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    datasets = {"train": (x, y), "test": (x_test, y_test)}  # the same on every process
    if args.inspect_own_shard:  # for the tests: what a user should not do
        datasets = {"train": (x[index::count], y[index::count])}
    inspector = ki.InspectCallback(
        args.logdir,
        datasets,
        layers=args.layers,
        quantities=args.quantities,
        projection="pca",
    )
    callbacks = [inspector]
    if args.inject_failure:
        callbacks.insert(0, failing_capture(inspector))
    # Data parallel: this process's half of every global batch; model parallel: all of it.
    share = slice(None) if args.model_parallel else slice(index, None, count)
    model.fit(
        x[share],
        y[share],
        batch_size=args.batch_size if args.model_parallel else args.batch_size // count,
        epochs=args.epochs,
        verbose=0,
        callbacks=callbacks,
    )
    inspector.wait(args.timeout)
    if args.save_weights and index == 0:
        np.savez(args.save_weights, *[np.asarray(w) for w in model.get_weights()])
    print(f"process {index} of {count}: trained {args.epochs} epochs", flush=True)


def failing_capture(inspector):
    """For the tests: a callback, placed before ``inspector``, that makes its capture raise
    at every checkpoint (on the process that records)."""
    import keras

    def broken(x):
        raise RuntimeError("injected failure of the capture")

    class Failing(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if inspector._binding is not None:
                inspector._binding.capture.summarize = broken

    return Failing()


def launch(args: argparse.Namespace, argv: list[str]) -> int:
    """Start the workers, wait for them (at most ``--timeout`` seconds), report."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                *argv,
                "--worker",
                str(i),
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(args.processes)
    ]
    deadline = time.monotonic() + args.timeout
    codes = []
    for i, process in enumerate(workers):
        try:
            out, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in workers:
                other.kill()
            print(f"process {i} did not finish in {args.timeout} s: stopped every process")
            return 1
        codes.append(process.returncode)
        lines = [line for line in out.splitlines() if _worth_showing(line)]
        print(f"--- process {i} (exit {process.returncode})\n" + "\n".join(lines[-15:]))
    files = sorted(glob.glob(os.path.join(args.logdir, "**", "*tfevents*"), recursive=True))
    print(f"event files under {args.logdir}: {len(files)}")
    for path in files:
        print(f"  {path}")
    return max(codes)


def _worth_showing(line: str) -> bool:
    return not line.startswith(("I0000", "W0000", "E0000", "WARNING: All log messages"))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="logs/multiprocess")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch")
    parser.add_argument("--quantities", default="standard")
    parser.add_argument("--layers", default=None, help="a regular expression of layer names")
    parser.add_argument(
        "--model-parallel",
        action="store_true",
        help="split each Dense layer's units over the processes instead of the batch",
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds for the job")
    parser.add_argument("--save-weights", default="", help="process 0 saves the final weights")
    parser.add_argument("--inject-failure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--inspect-own-shard", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is None:
        return launch(args, argv)
    worker(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
