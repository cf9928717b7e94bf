"""What InspectCallback costs on the CTR example, measured side by side in one run.

Identical models train in interleaved rounds (one epoch each per round, in rotating order,
so machine noise hits all three alike):

* ``plain``: ``fit`` alone;
* ``inspect``: ``fit`` with :class:`keras_inspect.InspectCallback` (``--quantities``, the
  ``standard`` preset by default, which includes feature-group saliency and filter importance
  from the capture pass's gradients; every epoch, ``train``/``test1``/``test5`` x ``--samples``
  rows), quantities on its background thread;
* ``inspect_sync``: the same with ``asynchronous=False`` (everything on the training thread);
* ``tb_hist``: ``fit`` with ``keras.callbacks.TensorBoard(histogram_freq=1)``.

It prints per-epoch medians and their ratios to ``plain``, the callback's own time per checkpoint
by phase (measured inside it), and the floor: one compiled forward + backward pass over the same
rows, which no inspection can avoid. Targets (SPEC.md): inspection overhead <= 10 % of a plain
epoch and below TensorBoard's histograms; the synchronous part <= 3 x the floor; one trace per
input signature.

    python benchmarks/overhead.py            # 100 k rows per epoch, batch 1000, 8 rounds
    python benchmarks/overhead.py --jit      # the same with XLA-compiled training steps
    python benchmarks/overhead.py --quick    # a smoke run in seconds
    python benchmarks/overhead.py --quantities full   # with input saliency and filter clusters
    python benchmarks/overhead.py --model digits --quantities full   # a CNN: entropies per
                                                   # channel and channel capacity too

``--model digits`` is the digits CNN of ``examples/digits_cnn.py`` with its 1,257 training
images repeated (with a little pixel noise) to ``--rows`` rows per epoch, inspected on its
``train`` and ``test`` splits.

``--backend jax|torch|tensorflow|all`` measures on that Keras backend (``all``: each in turn),
each model in its own process (a process has one backend), and ends with a table of the epoch
overhead per backend and model; without ``--model`` it measures both the CTR model and the
digits CNN:

    python benchmarks/overhead.py --backend all --rounds 6

``tb_hist`` (Keras' TensorBoard callback writes through TensorFlow) is measured on the
TensorFlow backend only.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_inspect as ki  # noqa: E402
from examples import digits_cnn  # noqa: E402
from examples.ctr_drift import VOCAB_SIZES, build_model, make_ctr_data  # noqa: E402

BACKENDS = ("tensorflow", "jax", "torch")


class EpochClock(keras.callbacks.Callback):
    """Wall time of each epoch, from the first callback's begin to the last callback's end."""

    def __init__(self, role: str, shared: dict) -> None:
        super().__init__()
        self.role, self.shared = role, shared

    def on_epoch_begin(self, epoch, logs=None):
        if self.role == "start":
            self.shared["start"] = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self.role == "end":
            self.shared.setdefault("epochs", []).append(time.perf_counter() - self.shared["start"])


def configs() -> tuple[str, ...]:
    """The configurations measured on the active backend."""
    base = ("plain", "inspect", "inspect_sync")
    return (*base, "tb_hist") if keras.backend.backend() == "tensorflow" else base


def models_compile() -> bool:
    """Whether the capture passes are traced on the active backend (PyTorch runs eagerly)."""
    return keras.backend.backend() != "torch"


def floor_seconds(model: keras.Model, samples: list, repeats: int = 15) -> float:
    """Median time of one compiled forward + backward pass (the gradient of the summed output
    with respect to every trainable weight) over every sample's rows, compiled the way the
    backend compiles a training step (PyTorch: eager)."""
    step = _gradient_step(model)
    for x in samples:
        step(x)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for x in samples:
            step(x)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _gradient_step(model: keras.Model):
    """x -> d sum(model(x)) / d trainable weights, waiting for the result."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(reduce_retracing=True)
        def step(x):
            with tf.GradientTape() as tape:
                total = tf.reduce_sum(model(x, training=False))
            return tape.gradient(total, model.trainable_variables)

        return lambda x: step(tf.nest.map_structure(tf.constant, x))
    if backend == "jax":
        import jax

        def total(trainable, others, x):
            out, _ = model.stateless_call(trainable, others, x, training=False)
            return out.sum()

        grad = jax.jit(jax.grad(total))
        trainable = [v.value for v in model.trainable_variables]
        others = [v.value for v in model.non_trainable_variables]
        return lambda x: jax.block_until_ready(grad(trainable, others, x))
    import torch

    def step(x):
        x = keras.tree.map_structure(keras.ops.convert_to_tensor, x)
        total = model(x, training=False).sum()
        weights = [v.value for v in model.trainable_variables]
        return torch.autograd.grad(total, weights, allow_unused=True)

    return step


def ctr_setup(args):
    """The CTR example: x, y of an epoch, the inspected datasets, a model builder, layers."""
    data = make_ctr_data(args.rows, args.samples, days=5, seed=0)
    probe_sets = {"train": data["train"], "test1": data["test1"], "test5": data["test5"]}
    return (*data["train"], probe_sets, lambda: build_model(VOCAB_SIZES), r"dense_\d|ctr")


def digits_setup(args):
    """The digits CNN, its training images repeated with noise to ``args.rows`` rows."""
    data = digits_cnn.load_data(0)
    images, labels = data["train"]
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(images), args.rows)
    x = np.clip(images[rows] + rng.normal(0, 0.05, images[rows].shape), 0, 1).astype("float32")
    probe_sets = {"train": data["train"], "test": data["test"]}
    return x, labels[rows], probe_sets, digits_cnn.build_model, None


SETUPS = {"ctr": ctr_setup, "digits": digits_setup}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="training rows per epoch")
    parser.add_argument("--samples", type=int, default=2048, help="rows per inspected dataset")
    parser.add_argument("--rounds", type=int, default=8, help="epochs per configuration")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--quantities", default="standard", help="preset of the callback")
    parser.add_argument(
        "--model",
        choices=sorted(SETUPS),
        default=None,
        help="what trains (default: ctr; with --backend, both)",
    )
    parser.add_argument(
        "--backend",
        choices=[*BACKENDS, "all"],
        default=None,
        help="measure on this Keras backend (each model in its own process)",
    )
    parser.add_argument(
        "--jit",
        action="store_true",
        help="compile training steps with XLA (faster epochs, so a larger ratio)",
    )
    args = parser.parse_args(argv)
    if args.backend is not None:
        return across_backends(args, list(argv if argv is not None else sys.argv[1:]))
    args.model = args.model or "ctr"
    if args.quick:
        args.rows, args.samples, args.rounds, args.batch_size = 4000, 256, 3, 500
    measured = configs()

    x, y, probe_sets, build, layers = SETUPS[args.model](args)
    logroot = tempfile.mkdtemp(prefix="ki_overhead_")
    models, callbacks, clocks = {}, {}, {}
    for name in measured:
        keras.utils.set_random_seed(0)
        models[name] = build()
        if args.jit:
            model = models[name]
            model.compile(
                optimizer=model.optimizer,
                loss=model.loss,
                metrics=["auc"] if args.model == "ctr" else ["accuracy"],
                jit_compile=True,
            )
        clocks[name] = {}
        extra = []
        if name.startswith("inspect"):
            extra = [
                ki.InspectCallback(
                    os.path.join(logroot, name),
                    probe_sets,
                    max_samples=args.samples,
                    seed=0,
                    layers=layers,
                    quantities=args.quantities,
                    asynchronous=name == "inspect",
                )
            ]
        elif name == "tb_hist":
            extra = [keras.callbacks.TensorBoard(os.path.join(logroot, name), histogram_freq=1)]
        callbacks[name] = [
            EpochClock("start", clocks[name]),
            *extra,
            EpochClock("end", clocks[name]),
        ]

    print(
        f"{args.model} model on {keras.backend.backend()}: "
        f"{models['plain'].count_params():,} parameters; {args.rows:,} rows "
        f"per epoch, batch {args.batch_size}{', XLA' if args.jit else ''}; inspected: "
        f"{len(probe_sets)} datasets x up to {args.samples} rows, quantities={args.quantities!r}"
    )
    for round_index in range(args.rounds):
        shift = round_index % len(measured)
        order = measured[shift:] + measured[:shift]
        for name in order:
            models[name].fit(
                x,
                y,
                batch_size=args.batch_size,
                epochs=round_index + 1,
                initial_epoch=round_index,
                verbose=0,
                callbacks=callbacks[name],
            )
        print(f"  round {round_index + 1}/{args.rounds} done", flush=True)

    # The first epoch of each configuration includes compilation; leave it out.
    medians = {
        n: statistics.median(clocks[n]["epochs"][1:] or clocks[n]["epochs"]) for n in measured
    }
    inspectors = {
        n: next(c for c in callbacks[n] if isinstance(c, ki.InspectCallback))
        for n in ("inspect", "inspect_sync")
    }
    phases = {}
    for name, inspector in inspectors.items():
        timings = inspector.timings[1:] or inspector.timings
        phases[name] = {k: statistics.median(t[k] for t in timings) for k in timings[0]}
        phases[name]["on training thread"] = statistics.median(
            inspector.checkpoint_seconds[1:] or inspector.checkpoint_seconds
        )
    samples = [s.x for s in inspectors["inspect"].samples.values()]
    floor = floor_seconds(models["plain"], samples)
    print("\nper-epoch medians (s)")
    for name in measured:
        ratio = medians[name] / medians["plain"]
        print(f"  {name:<13} {medians[name]:7.3f}   x{ratio:5.3f}   ({(ratio - 1) * 100:+5.1f} %)")
    print("\ninside the callback, per checkpoint (median, ms)   inspect  inspect_sync")
    for key in ("capture", "statistics", "probes", "write", "total", "on training thread"):
        print(
            f"  {key:<19}{phases['inspect'][key] * 1000:27.1f}"
            f"{phases['inspect_sync'][key] * 1000:14.1f}"
        )
    print(f"\nfloor: one compiled forward+backward pass over the same rows: {floor * 1000:.1f} ms")
    for name in ("inspect", "inspect_sync"):
        sync = phases[name]["on training thread"]
        print(
            f"{name:<13} epoch overhead {(medians[name] / medians['plain'] - 1) * 100:+5.1f} % "
            "(target <= 10 %, below tb_hist); "
            f"training-thread part {sync / floor:4.2f} x floor (target <= 3 x)"
        )
    if "tb_hist" in medians:
        tb_overhead = (medians["tb_hist"] / medians["plain"] - 1) * 100
        print(f"tb_hist       epoch overhead {tb_overhead:+5.1f} %")
    what = "calls: PyTorch runs eagerly" if not models_compile() else "one per input signature"
    print(f"capture traces: {inspectors['inspect']._capture.trace_count} ({what})")
    return {
        "medians": medians,
        "phases": phases,
        "floor": floor,
        "traces": inspectors["inspect"]._capture.trace_count,
    }


def across_backends(args: argparse.Namespace, argv: list[str]) -> dict:
    """Run this script once per (backend, model), each in its own process; print a table."""
    backends = BACKENDS if args.backend == "all" else (args.backend,)
    names = [args.model] if args.model else ["ctr", "digits"]
    rest, skip = [], False
    for arg in argv:  # the same options, without --backend / --model
        if skip:
            skip = False
        elif arg in ("--backend", "--model"):
            skip = True
        elif not arg.startswith(("--backend=", "--model=")):
            rest.append(arg)
    table: dict[tuple[str, str], dict] = {}
    for backend in backends:
        for name in names:
            env = dict(os.environ, KERAS_BACKEND=backend)
            command = [sys.executable, os.path.abspath(__file__), "--model", name, *rest]
            print(f"\n=== {name} on {backend}: {' '.join(command[1:])}", flush=True)
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            print(done.stdout, end="", flush=True)
            if done.returncode != 0:
                print(done.stderr[-3000:], flush=True)
                table[backend, name] = {"failed": done.returncode}
                continue
            table[backend, name] = _figures(done.stdout)
    print("\nepoch overhead of InspectCallback per backend (target <= 10 %)")
    print(f"  {'backend':<11} {'model':<7} {'inspect':>9} {'sync':>9} {'traces':>7}")
    for (backend, name), row in table.items():
        if "failed" in row:
            print(f"  {backend:<11} {name:<7} failed (exit {row['failed']})")
            continue
        print(
            f"  {backend:<11} {name:<7} {row['inspect']:+8.1f}% {row['inspect_sync']:+8.1f}% "
            f"{row['traces']:>7}"
        )
    return {"table": table}


def _figures(printed: str) -> dict:
    """The epoch overheads and trace count a run printed."""
    found = {
        name: float(re.search(rf"^{name}\s+epoch overhead\s+([+-][\d.]+) %", printed, re.M)[1])
        for name in ("inspect", "inspect_sync")
    }
    found["traces"] = int(re.search(r"capture traces: (\d+)", printed)[1])
    return found


if __name__ == "__main__":
    main()
