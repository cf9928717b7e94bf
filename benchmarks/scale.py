"""What one checkpoint costs on real-size networks: memory, training-thread time, bytes written.

For each configuration a fresh Python process builds the model (``benchmarks/real_models.py``
or the CTR example), trains one epoch to compile, then measures, side by side in that process:

* **extra peak memory**: the process's peak resident memory over ``fit`` with the callback
  (set-up, ``--checkpoints`` checkpoints, closing) minus its peak over the same number of plain
  training epochs (Linux ``VmHWM``, reset through ``/proc/self/clear_refs`` between phases);
* **training-thread time of a checkpoint** (``InspectCallback.checkpoint_seconds``) against
  ``model.predict`` over the same rows of every inspected dataset (its default batch of 32,
  warmed up, median of 3 runs before and 3 after the checkpoints); the first checkpoint,
  which compiles the capture, is shown apart;
* **bytes written per checkpoint** (the ``inspect/`` folder after ``fit``, divided by the
  checkpoints);
* **set-up** (``on_train_begin``: layer selection, probe pass) against the first plain epoch,
  which includes Keras' own compilation; and how long ``close()`` held ``fit`` at the end.

The callback runs with its default arguments apart from ``quantities``. Targets (issue 15):
extra peak <= 2 GiB on ResNet50 at 128 x 128 whatever the rows; a ``standard`` checkpoint
<= 2.5 x predict, ``light`` <= 1.3 x; <= 4 MiB per checkpoint on ResNet50; ``full`` on
EfficientNetB0: set-up <= the first epoch, ``close()`` a few seconds at most.

    python benchmarks/scale.py                        # every configuration, 128 rows/dataset
    python benchmarks/scale.py --only resnet50 --rows 128 512   # memory must not grow
    python benchmarks/scale.py --quick                # tiny inputs: a smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Config:
    """One benchmark configuration: which model, its input size, the preset."""

    model: str
    quantities: str
    size: int = 0  # image side (applications) or sequence length (transformer); 0: default


CONFIGS = {
    "resnet50": Config("resnet50", "standard", 128),
    "resnet50_light": Config("resnet50", "light", 128),
    "transformer": Config("transformer", "standard"),
    "ctr": Config("ctr", "standard"),
    "efficientnet_full": Config("efficientnet_b0", "full", 32),
}


def _status(field: str) -> int:
    """A field of /proc/self/status in bytes (e.g. VmHWM, the peak resident memory)."""
    with open("/proc/self/status") as status:
        return int(re.search(rf"{field}:\s+(\d+) kB", status.read()).group(1)) * 1024


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _folder_bytes(path: str) -> int:
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(path)
        for name in names
    )


def _setup(config: Config, rows: int, quick: bool):
    """(model, x_train, y_train, inspected datasets, fit batch size)."""
    sys.path.insert(0, ROOT)
    from benchmarks import real_models

    if config.model == "ctr":
        from examples.ctr_drift import VOCAB_SIZES, build_model, make_ctr_data

        data = make_ctr_data(2_000 if quick else 20_000, rows if quick else 2048, days=5, seed=0)
        model = build_model(VOCAB_SIZES)
        datasets = {name: data[name] for name in ("train", "test1", "test5")}
        return model, *data["train"], datasets, 1000
    if config.model == "transformer":
        length = 16 if quick else (config.size or 64)
        model, x, y = real_models.transformer_classifier(rows=2 * rows + 256, length=length)
        train, test = slice(0, rows), slice(rows, 2 * rows)
        return model, x, y, {"train": (x[train], y[train]), "test": (x[test], y[test])}, 32
    size = 32 if quick else config.size
    model, x, y = real_models.APPLICATIONS[config.model](rows=2 * rows, size=size)
    train, test = slice(0, rows), slice(rows, 2 * rows)
    fit_rows = slice(0, min(64, rows))
    return (
        model,
        x[fit_rows],
        y[fit_rows],
        {"train": (x[train], y[train]), "test": (x[test], y[test])},
        32,
    )


def child(name: str, rows: int, checkpoints: int, quick: bool) -> dict:
    """Measure one configuration in this process; returns the figures."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    import keras_inspect as ki

    config = CONFIGS[name]
    model, x, y, datasets, batch = _setup(config, rows, quick)
    started = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=batch, verbose=0)
    first_epoch = time.perf_counter() - started

    predict_times = []

    def time_predict() -> None:
        for _ in range(3):
            started = time.perf_counter()
            for inputs, _ in datasets.values():
                model.predict(inputs, verbose=0)
            predict_times.append(time.perf_counter() - started)

    for inputs, _ in datasets.values():
        model.predict(inputs, verbose=0)  # compiles predict
    time_predict()
    _reset_peak()
    base = _status("VmRSS")
    started = time.perf_counter()
    model.fit(x, y, epochs=checkpoints, batch_size=batch, verbose=0)
    plain_epoch = (time.perf_counter() - started) / checkpoints
    train_peak = _status("VmHWM")

    logdir = tempfile.mkdtemp(prefix=f"ki_scale_{name}_")
    callback = ki.InspectCallback(logdir, datasets, quantities=config.quantities)
    closing: list[float] = []
    close = callback.close

    def timed_close() -> None:
        started = time.perf_counter()
        try:
            close()
        finally:
            closing.append(time.perf_counter() - started)

    callback.close = timed_close
    _reset_peak()
    callback.set_model(model)
    started = time.perf_counter()
    callback.on_train_begin()
    setup = time.perf_counter() - started
    model.fit(x, y, epochs=checkpoints, batch_size=batch, verbose=0, callbacks=[callback])
    callback.wait()  # what still ran on the slow lanes counts, in memory and bytes
    inspect_peak = _status("VmHWM")

    time_predict()  # before and after: the machine's noise hits both sides
    written = _folder_bytes(os.path.join(logdir, "inspect"))
    seconds = callback.checkpoint_seconds
    return {
        "name": name,
        "model": config.model,
        "quantities": config.quantities,
        "parameters": model.count_params(),
        "rows": {k: len(s) for k, s in callback.samples.items()},
        "keras": keras.__version__,
        "base_rss": base,
        "train_peak": train_peak,
        "inspect_peak": inspect_peak,
        "extra_peak": inspect_peak - train_peak,
        "first_epoch": first_epoch,
        "plain_epoch": plain_epoch,
        "setup": setup,
        "checkpoint_first": seconds[0],
        "checkpoint_later": statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0],
        "predict": statistics.median(predict_times),
        "bytes_per_checkpoint": written / len(seconds),
        "close": closing[-1] if closing else float("nan"),
        # the background work of the last checkpoint (its own work, which close() waits for)
        "background_last": (
            callback.timings[-1]["total"] - callback.timings[-1]["capture"]
            if callback.timings
            else float("nan")
        ),
    }


def _row(result: dict) -> str:
    gib = 1024**3
    ratio = result["checkpoint_later"] / result["predict"]
    beyond = result["close"] - result["background_last"]
    return (
        f"{result['name']:<18} {sum(result['rows'].values()):>6} "
        f"{result['extra_peak'] / gib:>8.2f} {result['train_peak'] / gib:>8.2f} "
        f"{result['checkpoint_first']:>8.2f} {result['checkpoint_later']:>8.2f} "
        f"{result['predict']:>8.2f} {ratio:>6.2f} "
        f"{result['bytes_per_checkpoint'] / 2**20:>8.2f} "
        f"{result['setup']:>7.2f} {result['first_epoch']:>7.2f} {result['close']:>7.2f} "
        f"{beyond:>7.2f}"
    )


HEADER = (
    f"{'configuration':<18} {'rows':>6} {'+peak':>8} {'train':>8} {'cp 1st':>8} "
    f"{'cp later':>8} {'predict':>8} {'ratio':>6} {'MiB/cp':>8} {'set-up':>7} {'epoch1':>7} "
    f"{'close':>7} {'beyond':>7}\n"
    f"{'':<18} {'':>6} {'GiB':>8} {'GiB':>8} {'s':>8} {'s':>8} {'s':>8} {'':>6} {'':>8} "
    f"{'s':>7} {'s':>7} {'s':>7} {'s':>7}"
)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(CONFIGS),
        help="run only these configurations (repeatable)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[128],
        help="rows per inspected dataset (several: "
        "each configuration once per count, to see that memory does not grow with rows)",
    )
    parser.add_argument("--checkpoints", type=int, default=2, help="checkpoints (epochs) each")
    parser.add_argument("--quick", action="store_true", help="tiny inputs: a smoke test")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per configuration")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        figures = child(args.child, args.rows[0], args.checkpoints, args.quick)
        print("RESULT " + json.dumps(figures))
        return []
    names = args.only or list(CONFIGS)
    results = []
    print(HEADER, flush=True)
    for name, rows in ((name, rows) for name in names for rows in args.rows):
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            name,
            "--rows",
            str(rows),
            "--checkpoints",
            str(args.checkpoints),
        ]
        if args.quick:
            command.append("--quick")
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=args.timeout, cwd=ROOT
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            print(f"{name:<18} failed (exit {done.returncode}):\n{done.stderr[-3000:]}", flush=True)
            continue
        result = json.loads(lines[-1][len("RESULT ") :])
        results.append(result)
        print(_row(result), flush=True)
    print(
        "\n+peak: peak memory of fit with the callback minus that of plain fit (same epochs); "
        "cp: training-thread seconds of a checkpoint (1st compiles the capture); ratio: later "
        "checkpoint / predict over the same rows; set-up: on_train_begin; epoch1: first plain "
        "epoch (Keras compiles); close: how long close() held fit; beyond: close minus the last "
        "checkpoint's own background work (a backlog of an earlier checkpoint, a projection)."
    )
    return results


if __name__ == "__main__":
    main()
