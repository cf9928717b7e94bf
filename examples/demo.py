"""The demo: train every example into one logdir, then serve TensorBoard with the Inspect tab.

Runs, in order, with a progress line for each: the CTR model of Guo et al. on drifting data
(``ctr``), the same model with and without its fourth layer (``compare/ctr_4_layers``,
``compare/ctr_3_layers``), the TSViz-shaped forecaster (``timeseries``) and the digits CNN
(``digits``); then serves ``tensorboard --logdir`` on localhost and prints the address of the
Inspect tab opened on the CTR run (and opens it where a browser is available).

    python examples/demo.py                 # a few minutes on 2 cores, then serves on :6006
    python examples/demo.py --quick         # tiny settings, about a minute
    python examples/demo.py --no-serve      # train only
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path


def steps(logdir: Path, quick: bool) -> list[tuple[str, Callable[[], object]]]:
    """(title, call) of every training step, in order, writing under ``logdir``."""
    from examples import compare_runs, ctr_drift, digits_cnn, timeseries_conv1d

    fast = ["--quick"] if quick else []
    return [
        (
            "CTR model on drifting test days (Guo et al.)",
            lambda: ctr_drift.main(["--logdir", str(logdir / "ctr"), *fast]),
        ),
        (
            "CTR model with and without its fourth layer",
            lambda: compare_runs.main(
                ["--logdir", str(logdir / "compare"), *(fast or ["--epochs", "4"])]
            ),
        ),
        (
            "Conv1D forecaster of weekly CO2 (TSViz)",
            lambda: timeseries_conv1d.main(["--logdir", str(logdir / "timeseries"), *fast]),
        ),
        (
            "CNN on handwritten digits (CNNSlicer)",
            lambda: digits_cnn.main(
                ["--logdir", str(logdir / "digits"), *(fast or ["--epochs", "10"])]
            ),
        ),
    ]


def inspect_url(base: str, run: str = "ctr") -> str:
    """The Inspect tab's address on a TensorBoard at ``base``, opened on ``run``."""
    return f"{base.rstrip('/')}/?inspect_run={run}#keras_inspect"


def serve(logdir: Path, port: int) -> None:
    """Serves TensorBoard on localhost until interrupted."""
    import webbrowser

    from tensorboard import program

    board = program.TensorBoard()
    board.configure(
        argv=[None, "--logdir", str(logdir), "--host", "localhost", "--port", str(port)]
    )
    url = inspect_url(board.launch())
    print(f"\nTensorBoard is serving {logdir}: open {url}\n(Ctrl-C to stop)", flush=True)
    try:
        webbrowser.open(url)
    except Exception:  # no browser here: the address above is enough
        pass
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped")


def main(argv: list[str] | None = None) -> list[str]:
    """Train every example (printing progress); serve unless ``--no-serve``. Returns titles."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="logs", help="where every run goes (default: logs)")
    parser.add_argument("--port", type=int, default=6006)
    parser.add_argument("--quick", action="store_true", help="tiny settings, about a minute")
    parser.add_argument("--no-serve", action="store_true", help="train only")
    args = parser.parse_args(argv)
    logdir = Path(args.logdir)
    plan = steps(logdir, args.quick)
    started = time.perf_counter()
    for number, (title, run) in enumerate(plan, 1):
        print(f"\n[{number}/{len(plan)}] {title}", flush=True)
        begin = time.perf_counter()
        run()
        print(
            f"[{number}/{len(plan)}] done in {time.perf_counter() - begin:.0f} s "
            f"({time.perf_counter() - started:.0f} s in all)",
            flush=True,
        )
    if not args.no_serve:
        serve(logdir, args.port)
    return [title for title, _ in plan]


if __name__ == "__main__":
    # Run as a script, the repository root is not on sys.path; the examples live there.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
