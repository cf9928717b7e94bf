"""The demo: train every example into one logdir while TensorBoard serves it with the Inspect tab.

TensorBoard starts first, on localhost; as soon as it shows the first checkpoint of the CTR run,
the demo prints the Inspect tab's address (and opens it where a browser is available) and goes
on training, into the same logdir: the CTR model of Guo et al. on drifting data (``ctr``), two
runs to compare with it: the same model without its fourth layer (``compare/ctr_3_layers``) and
with other initial weights (``compare/ctr_4_layers_seed1``, how far the curves move by chance
alone), the TSViz-shaped forecaster (``timeseries``) and the digits CNN (``digits``).
TensorBoard picks up each new run and checkpoint on its reload. A progress line comes at least
every 10 s, also while the callback finishes its projections and entropies after training.

    python examples/demo.py                 # 2-3 minutes on 2 cores; serves on :6006
    python examples/demo.py --quick         # tiny settings, about a minute
    python examples/demo.py --no-serve      # train only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

# The heavy quantities (the full preset's t-SNE, entropies and capacities) are what makes the
# forecaster and the digits CNN slow, not their training: they are recorded at a few epochs
# spread over training, which is what their panels need. The CTR runs use the standard preset
# at every epoch: their story is told epoch by epoch.
TIMESERIES_EPOCHS, TIMESERIES_CHECKPOINTS = 40, 10
DIGITS_EPOCHS, DIGITS_CHECKPOINTS = 10, 4
COMPARISON = "ctr_3_layers,ctr_4_layers_seed1"
FIRST_RUN = "ctr"  # the run the Inspect tab opens on, trained first

Step = tuple[str, Callable[[Callable | None], object]]


def sparse(epochs: int, checkpoints: int) -> list[str]:
    """Arguments training ``epochs`` epochs, recording after ``checkpoints`` of them, evenly
    spaced from the first epoch to the last."""
    count = max(2, min(checkpoints, epochs))
    at = sorted({round(i * (epochs - 1) / (count - 1)) for i in range(count)})
    return ["--epochs", str(epochs), "--at", *map(str, at)]


def steps(logdir: Path, quick: bool) -> list[Step]:
    """(title, call) of every training step, in order, writing under ``logdir``; each call
    takes the ``callbacks_for`` hook of the examples' ``main``."""
    from examples import compare_runs, ctr_drift, digits_cnn, timeseries_conv1d

    fast = ["--quick"] if quick else []
    timeseries = fast or sparse(TIMESERIES_EPOCHS, TIMESERIES_CHECKPOINTS)
    digits = fast or sparse(DIGITS_EPOCHS, DIGITS_CHECKPOINTS)
    comparison = ["--variants", COMPARISON, *(fast or ["--epochs", "4"])]
    return [
        (
            "CTR model on drifting test days (Guo et al.)",
            lambda hook: ctr_drift.main(["--logdir", str(logdir / FIRST_RUN), *fast], hook),
        ),
        (
            "The CTR model without its fourth layer, and with other initial weights, to "
            "compare with ctr",
            lambda hook: compare_runs.main(
                ["--logdir", str(logdir / "compare"), *comparison], hook
            ),
        ),
        (
            "Conv1D forecaster of weekly CO2 (TSViz)",
            lambda hook: timeseries_conv1d.main(
                ["--logdir", str(logdir / "timeseries"), *timeseries], hook
            ),
        ),
        (
            "CNN on handwritten digits (CNNSlicer)",
            lambda hook: digits_cnn.main(["--logdir", str(logdir / "digits"), *digits], hook),
        ),
    ]


def inspect_url(base: str, run: str = FIRST_RUN) -> str:
    """The Inspect tab's address on a TensorBoard at ``base``, opened on ``run``."""
    return f"{base.rstrip('/')}/?inspect_run={run}#keras_inspect"


class Runs:
    """The runs being trained: a progress callback for each, and their InspectCallbacks, whose
    projections and entropies may still be computing in the background after ``fit``.

    The demo waits for them after each step rather than training the next run meanwhile: on
    2 cores that overlap oversubscribes them: tried, it took a third more CPU time and longer
    in all.
    """

    def __init__(self, logdir: Path, progress) -> None:
        self.logdir = logdir
        self.progress = progress
        self.inspectors: dict[str, object] = {}

    def callbacks_for(self, inspector) -> list:
        """The examples' ``callbacks_for`` hook: note the inspector, report the epochs."""
        from examples.progress import epoch_progress

        run = Path(os.path.relpath(inspector.log_dir, self.logdir)).as_posix()
        self.inspectors[run] = inspector
        return [epoch_progress(self.progress, run, finishing=_slow_work(inspector))]

    def finish(self) -> None:
        """Wait for the runs' background work, saying which runs are still computing."""
        pending = {run: i for run, i in self.inspectors.items() if not self._done(run, i, 0)}
        while pending:
            work = "; ".join(f"{run}: {_slow_work(i)}" for run, i in pending.items())
            self.progress.status(f"finishing the last checkpoints' {work}")
            for run, inspector in list(pending.items()):
                if self._done(run, inspector, 1.0):
                    del pending[run]
                    self.progress.say(f"{run}: every checkpoint is written")

    def _done(self, run: str, inspector, timeout: float) -> bool:
        """Whether ``inspector``'s background work is written; a failure there is said and
        counts as done: the demo serves what the other runs wrote."""
        try:
            return inspector.wait(timeout=timeout)
        except Exception as error:  # a bug in a quantity must not stop the demo from serving
            self.progress.say(f"{run}: its background work failed ({error!r}); skipped")
            return True


def _slow_work(inspector) -> str:
    """What the callback may still compute after ``fit`` for ``inspector``, in words."""
    slow = {
        "projection": "projections",
        "entropy_inter": "entropies",
        "filter_clusters": "filter clusters",
        "channel_capacity": "channel capacities",
    }
    words = [word for name, word in slow.items() if name in inspector.quantities]
    return ", ".join(words) or "statistics"


def start_tensorboard(logdir: Path, port: int) -> str:
    """Start TensorBoard on localhost in this process; return its address. Exits with a
    message when the port is taken (before any training, so nobody waits for nothing)."""
    from tensorboard import program

    logdir.mkdir(parents=True, exist_ok=True)
    board = program.TensorBoard()
    board.configure(
        argv=[None, "--logdir", str(logdir), "--host", "localhost", "--port", str(port)]
    )
    try:
        return board.launch()
    except program.TensorBoardServerException as error:
        message = (
            f"TensorBoard cannot start: {error.msg}; pick another port with --port "
            "(make demo PORT=6007)"
        )
        raise SystemExit(message) from None


def announce_when_shown(base: str, progress, stop: threading.Event) -> threading.Thread:
    """On a thread: once TensorBoard's Inspect tab lists the first run (its first checkpoint is
    written and TensorBoard has reloaded), print the tab's address and open it in a browser."""

    def shown() -> bool:
        address = f"{base.rstrip('/')}/data/plugin/keras_inspect/runs"
        try:
            with urllib.request.urlopen(address, timeout=5) as response:
                runs = json.load(response)["runs"]
        except (OSError, ValueError, KeyError):  # not up yet, or still loading
            return False
        return any(entry.get("run") == FIRST_RUN for entry in runs)

    def watch() -> None:
        while not stop.wait(1.0):
            if shown():
                url = inspect_url(base)
                progress.say(f"TensorBoard shows the first checkpoint: open {url}")
                progress.say(
                    "the other runs go on training into the same logdir; TensorBoard picks up "
                    "new runs and checkpoints on its reload"
                )
                _open_browser(url)
                return

    thread = threading.Thread(target=watch, name="demo-announce", daemon=True)
    thread.start()
    return thread


def _open_browser(url: str) -> None:
    import webbrowser

    try:
        webbrowser.open(url)
    except Exception:  # no browser here: the address printed is enough
        pass


def serve_until_interrupted(base: str, logdir: Path) -> None:
    """Keep TensorBoard (a daemon thread of this process) serving until Ctrl-C."""
    print(f"\nTensorBoard is serving {logdir}: open {inspect_url(base)}\n(Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped")


def train(plan: list[Step], runs: Runs, progress) -> None:
    """Run every step in order, with a line as each one starts and ends."""
    for number, (title, run) in enumerate(plan, 1):
        begin = time.perf_counter()
        progress.say(f"[{number}/{len(plan)}] {title}")
        progress.status(f"[{number}/{len(plan)}] making the data and building the model")
        run(runs.callbacks_for)
        runs.finish()
        progress.say(f"[{number}/{len(plan)}] done in {time.perf_counter() - begin:.0f} s")


def main(argv: list[str] | None = None) -> list[str]:
    """Train every example (printing progress) while serving, unless ``--no-serve``. Returns
    the steps' titles."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="logs", help="where every run goes (default: logs)")
    parser.add_argument("--port", type=int, default=6006)
    parser.add_argument("--quick", action="store_true", help="tiny settings, about a minute")
    parser.add_argument("--no-serve", action="store_true", help="train only")
    args = parser.parse_args(argv)
    logdir = Path(args.logdir)

    from examples.progress import Progress

    with Progress() as progress:
        plan = steps(logdir, args.quick)
        progress.say(f"the demo trains {len(plan)} steps into {logdir}")
        base, stop_announcing = None, threading.Event()
        if not args.no_serve:
            base = start_tensorboard(logdir, args.port)
            progress.say(f"TensorBoard started at {base}; waiting for the first checkpoint")
            announce_when_shown(base, progress, stop_announcing)
        runs = Runs(logdir, progress)
        train(plan, runs, progress)
        stop_announcing.set()  # the closing lines below give the address anyway
        progress.say(f"everything is trained and written: {len(runs.inspectors)} runs in {logdir}")
    if base is not None:
        serve_until_interrupted(base, logdir)
    return [title for title, _ in plan]


if __name__ == "__main__":
    # Run as a script, the repository root is not on sys.path; the examples live there.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
