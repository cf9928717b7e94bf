"""How fast the Inspect tab answers: every plugin route over HTTP, and the first render in Chromium.

Builds a synthetic logdir with :class:`keras_inspect.writer.InspectWriter` (no training): runs
shaped like the CTR example (layers ``dense_1``..``dense_4`` of 256/128/64/32 units and ``ctr``,
datasets ``train`` and ``test1``..``test8``, every quantity of the ``standard`` preset with its
real shape, CKA's 256 x 256 Gram matrices included, native mirrors of the headline values and
Keras' logs). It then starts the real ``tensorboard``, waits until the whole logdir is loaded,
calls every route the dashboard calls (``/runs``, ``/scalars`` per scalar quantity, ``/values``
per array quantity at several steps, ``/logs``, ``/findings``, ``/cka``) ``--repeats`` times
each and prints p50/p95 per route; finally it opens the tab in headless Chromium (by
navigation, and by a click on the tab from TensorBoard's Time Series dashboard) and measures
the time to the end of the first full render: every panel in view drawn
(``document.body.dataset.kiRendered >= 1`` inside the plugin's iframe). Panels below the view
are drawn next, while the page is idle; the time until all are drawn is printed too.

Targets (SPEC.md, "Performance"): every route p95 < 100 ms for 20 runs x 200 checkpoints; the
dashboard interactive in < 2 s. Figures are printed as measured and as ratios to the targets;
nothing is asserted here.

    python benchmarks/plugin_latency.py                    # 20 runs x 200 checkpoints (~6 GB)
    python benchmarks/plugin_latency.py --load-fast false  # the same through the Python loader
    python benchmarks/plugin_latency.py --quick            # 2 runs x 5 checkpoints, a smoke run
    python benchmarks/plugin_latency.py --logdir /tmp/ki_bench  # keep the logdir for next time
    python benchmarks/plugin_latency.py --quick --json figures.json  # figures for a program

Needs Debian's Chromium for the browser part (``apt-get install -y chromium``) and Python
Playwright; ``--no-browser`` measures the routes only.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from tb_plugin.metadata import keras_log_tag, scalar_tag  # noqa: E402

PLUGIN = "keras_inspect"
ROUTE_PREFIX = f"data/plugin/{PLUGIN}/"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
MISSING_BROWSER = (
    "Headless Chromium driven by Python Playwright is required: install Debian's browser with "
    "`apt-get install -y chromium` (Playwright cannot download browsers here) and Playwright with "
    "`pip install playwright`; set CHROMIUM=/path/to/chromium for another location."
)

LAYERS = (("dense_1", 256), ("dense_2", 128), ("dense_3", 64), ("dense_4", 32), ("ctr", 1))
DATASETS = ("train", *(f"test{day}" for day in range(1, 9)))
CLASSES = ("0", "1")
SCALAR_QUANTITIES = ("model_auc", "layer_std", "dead_fraction", "correlation_mean_abs", "probe_auc")
VALUE_QUANTITIES = ("neuron_mean", "neuron_std", "correlation_matrix", "model_score_histogram")
KERAS_LOGS = ("loss", "auc", "val_loss", "val_auc")
GROUPS = ("user_id", "ad_id", "site_id", "hour", "device")  # feature groups (embeddings)
HISTOGRAM_BINS = 40
CKA_ROWS = 256
P95_TARGET_MS = 100.0
RENDER_TARGET_S = 2.0


# Synthetic logdir --------------------------------------------------------------------------------


def _correlation_pair(rng: np.random.Generator, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Two valid correlation matrices; any convex combination of them is one too."""
    pair = []
    for _ in range(2):
        sample = rng.normal(size=(max(4 * width, 8), width))
        sample[:, : width // 2] += sample[:, :1]  # a block of correlated units, as ReLU layers have
        pair.append(np.corrcoef(sample, rowvar=False).reshape(width, width).astype(np.float32))
    return pair[0], pair[1]


def write_checkpoint(writer, step: int, rng: np.random.Generator, state: dict) -> None:
    """Writes one checkpoint of every standard quantity, shaped as the callback writes it."""
    progress = state["progress"](step)
    for day, dataset in enumerate(DATASETS):
        drift = 0.0 if dataset == "train" else 0.02 * min(day, 9 - day)
        auc = float(np.clip(0.62 + 0.3 * progress - drift + rng.normal(0, 0.005), 0.5, 0.999))
        # (dataset position, layer position): the user's and the model's order, as the
        # callback records them; -1 where the axis does not apply.
        writer.write(step, "model_auc", auc, dataset=dataset, order=(day, -1))
        writer.write_scalar(step, scalar_tag("model_auc", dataset), auc)
        edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1, dtype=np.float32)
        for cls in CLASSES:
            centre = 0.1 + 0.25 * progress if cls == "1" else 0.05
            density = np.exp(-(((edges[:-1] - centre) / 0.08) ** 2)) + 1e-3
            density /= density.sum() * (edges[1] - edges[0])
            hist = np.stack([edges[:-1], edges[1:], density.astype(np.float32)], axis=1)
            writer.write(
                step,
                "model_score_histogram",
                hist,
                dataset=dataset,
                order=(day, -1),
                **{"class": cls},
            )
        for depth, (layer, width) in enumerate(LAYERS):
            base_mean, base_std = state["units"][layer]
            mean = np.maximum(base_mean * (1 + 0.3 * progress + drift), 0).astype(np.float32)
            mean += rng.normal(0, 0.01, width).astype(np.float32) ** 2
            std = (base_std * (1 + 0.5 * progress + drift)).astype(np.float32)
            writer.write(
                step, "neuron_mean", mean, dataset=dataset, layer=layer, order=(day, depth)
            )
            writer.write(step, "neuron_std", std, dataset=dataset, layer=layer, order=(day, depth))
            first, second = state["corr"][layer]
            weight = 0.5 + 0.5 * np.sin(0.05 * step + day)
            corr = weight * first + (1 - weight) * second
            np.fill_diagonal(corr, 1.0)
            writer.write(
                step, "correlation_matrix", corr, dataset=dataset, layer=layer, order=(day, depth)
            )
            off_diagonal = np.abs(corr).sum() - width
            headline = {
                "layer_std": float(std.mean()),
                "dead_fraction": float((mean < 1e-3).mean()),
                "correlation_mean_abs": float(off_diagonal / max(width * (width - 1), 1)),
                "probe_auc": float(np.clip(auc - 0.03 * (len(LAYERS) - 1 - depth), 0.5, 1.0)),
            }
            for quantity, value in headline.items():
                writer.write(
                    step, quantity, value, dataset=dataset, layer=layer, order=(day, depth)
                )
                writer.write_scalar(step, scalar_tag(quantity, dataset, layer), value)
        for position, group in enumerate(GROUPS):
            # The first group (a user id) is memorised as training goes on (Guo et al., Fig. 11).
            value = 0.02 + (0.25 * progress if position == 0 else 0.01 * position)
            value = float(value * (1 + drift) + abs(rng.normal(0, 0.002)))
            writer.write(
                step, "feature_saliency", value, dataset=dataset, order=(day, -1), group=group
            )
        for depth, (layer, width) in enumerate(LAYERS):
            if width > 1:
                raw = state["importance"][layer] + rng.normal(0, 0.02, width)
                scaled = ((raw - raw.min()) / (raw.max() - raw.min())).astype(np.float32)
                writer.write(
                    step,
                    "filter_importance",
                    scaled,
                    dataset=dataset,
                    layer=layer,
                    order=(day, depth),
                )
    for depth, (layer, _) in enumerate(LAYERS):
        # CKA's Gram matrix of the train rows, and CKA to the previous checkpoint.
        start, end = state["features"][layer]
        features = (1 - progress) * start + progress * end
        centred = features - features.mean(axis=0)
        gram = centred @ centred.T
        gram = (gram / np.linalg.norm(gram)).astype(np.float16)
        writer.write(step, "cka_gram", gram, dataset="train", layer=layer, order=(0, depth))
        previous = state["grams"].get(layer)
        if previous is not None:
            cka = float(np.sum(previous * gram, dtype=np.float64))
            cka /= float(np.linalg.norm(previous.astype(np.float64)) * np.linalg.norm(gram))
            writer.write(step, "cka_previous", cka, dataset="train", layer=layer, order=(0, depth))
        state["grams"][layer] = gram.astype(np.float64)
        for day, dataset in enumerate(DATASETS[1:], start=1):
            drift = 0.05 * min(day, 9 - day) + abs(rng.normal(0, 0.01))
            writer.write(step, "drift", drift, dataset=dataset, layer=layer, order=(day, depth))
    writer.write(step, "cka_rows", state["rows"], dataset="train", order=(0, -1))
    loss = 0.3 - 0.12 * progress
    for name, value in zip(KERAS_LOGS, (loss, 0.6 + 0.3 * progress, loss + 0.05, 0.6), strict=True):
        writer.write_scalar(step, keras_log_tag(name), float(value + rng.normal(0, 0.002)))
    writer.write_scalar(step, "keras_inspect/checkpoint_seconds", float(0.05 + rng.random() * 0.01))
    writer.flush()


def write_synthetic_run(run_dir: str, steps: list[int], seed: int) -> None:
    """Writes a whole run (``<run_dir>/inspect``) of synthetic checkpoints at ``steps``."""
    from keras_inspect.writer import InspectWriter

    rng = np.random.default_rng(seed)
    last = max(max(steps), 1)
    state = {
        "progress": lambda step: step / last,
        "units": {
            layer: (
                rng.gamma(2.0, 0.2, width) * (rng.random(width) > 0.1),
                rng.gamma(2.0, 0.1, width),
            )
            for layer, width in LAYERS
        },
        "corr": {layer: _correlation_pair(rng, width) for layer, width in LAYERS},
        "importance": {layer: rng.gamma(1.5, 1.0, width) for layer, width in LAYERS},
        "features": {
            layer: (rng.normal(size=(CKA_ROWS, width)), rng.normal(size=(CKA_ROWS, width)))
            for layer, width in LAYERS
        },
        "grams": {},
        "rows": np.arange(4, dtype=np.int32),  # the same rows in every run
    }
    with InspectWriter(run_dir) as writer:
        for step in steps:
            write_checkpoint(writer, step, rng, state)


def _write_run_job(job: tuple[str, list[int], int]) -> str:
    run_dir, steps, seed = job
    write_synthetic_run(run_dir, steps, seed)
    return run_dir


def build_logdir(logdir: str, runs: int, steps: int, workers: int | None = None) -> list[str]:
    """Fills ``logdir`` with ``runs`` synthetic runs of ``steps`` checkpoints; returns run names.

    A logdir built earlier with the same sizes (``bench.json`` records them) is reused.
    """
    names = [f"run_{index:02d}" for index in range(runs)]
    stamp = os.path.join(logdir, "bench.json")
    # 3: matrices in parts; 4: CKA; 5: parts of at most 2^19 numbers
    wanted = {"runs": runs, "steps": steps, "format": 5}
    if os.path.exists(stamp):
        with open(stamp) as f:
            if json.load(f) == wanted:
                print(f"reusing the logdir {logdir} ({runs} runs x {steps} checkpoints)")
                return names
        shutil.rmtree(logdir)
    os.makedirs(logdir, exist_ok=True)
    jobs = [
        (os.path.join(logdir, name), list(range(steps)), seed) for seed, name in enumerate(names)
    ]
    workers = workers or max(1, min(os.cpu_count() or 1, runs))
    started = time.perf_counter()
    if workers == 1:
        for job in jobs:
            _write_run_job(job)
    else:
        with ProcessPoolExecutor(workers) as pool:
            for done, _ in enumerate(pool.map(_write_run_job, jobs), start=1):
                if done % max(1, runs // 10) == 0:
                    print(f"  wrote {done}/{runs} runs", flush=True)
    with open(stamp, "w") as f:
        json.dump(wanted, f)
    print(
        f"wrote {runs} runs x {steps} checkpoints ({_size(logdir) / 2**20:,.0f} MiB) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return names


def _size(path: str) -> int:
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, files in os.walk(path)
        for name in files
    )


# TensorBoard ------------------------------------------------------------------------------------


class TensorBoard:
    """A real ``tensorboard`` subprocess on a free localhost port (its own process group).

    Args:
        logdir: The logdir to serve.
        load_fast: ``"true"`` (Rust data server), ``"false"`` (Python loader) or ``"auto"``.
        reload_interval: Seconds between two polls of the logdir.

    Example:
        >>> with TensorBoard("logs", "true") as board:  # doctest: +SKIP
        ...     print(board.url)
    """

    def __init__(self, logdir: str, load_fast: str = "true", reload_interval: float = 1) -> None:
        self.logdir = logdir
        self.load_fast = load_fast
        handle, self.log_path = tempfile.mkstemp(prefix=f"tb_{load_fast}_", suffix=".log")
        self._log = os.fdopen(handle, "w")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tensorboard.main",
                "--logdir",
                logdir,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--load_fast",
                load_fast,
                "--reload_interval",
                str(reload_interval),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # the Rust data server is a child: stop the whole group
        )
        self.url: str | None = None

    def log_text(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_ready(self, timeout: float = 120) -> str:
        """Returns the base URL (ending in ``/``) once TensorBoard serves it."""
        deadline = time.monotonic() + timeout
        while self.url is None:
            match = re.search(r"TensorBoard \S+ at (http://\S+)", self.log_text())
            if match:
                self.url = match.group(1).rstrip("/") + "/"
            elif self.process.poll() is not None:
                raise RuntimeError(
                    f"tensorboard (--load_fast={self.load_fast}) exited with "
                    f"{self.process.returncode}:\n{self.log_text()[-4000:]}"
                )
            elif time.monotonic() > deadline:
                raise RuntimeError(
                    f"tensorboard did not print its URL within {timeout:.0f} s; log "
                    f"{self.log_path}:\n{self.log_text()[-4000:]}"
                )
            else:
                time.sleep(0.1)
        return self.url

    def route(self, path: str, **params: object) -> str:
        """The URL of a plugin route, e.g. ``route("values", run="a", step=3)``."""
        # A list value repeats the parameter (run=a&run=b), as the dashboard's batched calls do.
        query = urllib.parse.urlencode(
            {
                k: [str(x) for x in v] if isinstance(v, list) else str(v)
                for k, v in params.items()
                if v is not None
            },
            doseq=True,
        )
        return f"{self.wait_ready()}{ROUTE_PREFIX}{path}" + (f"?{query}" if query else "")

    def get_json(self, path: str, **params: object) -> object:
        """Calls a plugin route and decodes its JSON; raises on a status other than 200."""
        status, body, _ = fetch(self.route(path, **params))
        if status != 200:
            raise RuntimeError(f"GET {path} {params} -> {status}: {body[:300]!r}")
        return json.loads(body)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
            except ProcessLookupError:
                self.process.wait(timeout=20)
        self._log.close()

    def __enter__(self) -> TensorBoard:
        self.wait_ready()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# The local server must never be reached through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, timeout: float = 120) -> tuple[int, bytes, float]:
    """GETs a URL as the browser does (gzip accepted); returns status, body and seconds taken."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    started = time.perf_counter()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, body = response.status, response.read()
            encoding = response.headers.get("Content-Encoding", "")
    except urllib.error.HTTPError as error:
        with error:
            status, body = error.code, error.read()
            encoding = error.headers.get("Content-Encoding", "")
    elapsed = time.perf_counter() - started
    if encoding == "gzip":
        body = gzip.decompress(body)
    return status, body, elapsed


def wait_loaded(board: TensorBoard, runs: list[str], steps: int, timeout: float) -> float:
    """Polls ``/runs`` until every run lists every checkpoint; returns the seconds it took."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    seen = "nothing yet"
    while time.monotonic() < deadline:
        status, body, _ = fetch(board.route("runs"))
        if status == 200:
            index = json.loads(body)["runs"]
            listed = {entry["run"]: len(entry.get("steps", [])) for entry in index}
            seen = f"{len(listed)} runs, {sum(listed.values())} run-steps"
            if all(listed.get(run) == steps for run in runs):
                return time.perf_counter() - started
        else:
            seen = f"/runs -> {status}"
        if board.process.poll() is not None:
            raise RuntimeError(f"tensorboard exited:\n{board.log_text()[-4000:]}")
        time.sleep(0.5)
    raise RuntimeError(f"the logdir was not loaded within {timeout:.0f} s ({seen})")


# Route latency ------------------------------------------------------------------------------------


PAUSE = ("pause", "", {})  # in route_calls: the user looks at the page for a moment


def route_calls(index: dict, repeats: int) -> list[tuple[str, str, dict]]:
    """(label, route, params) for every call the dashboard makes, ``repeats`` of each.

    The calls are the dashboard's own (tb_plugin/static/panels/*.js with every run selected,
    the default): per-run requests of one tick batched into one multi-run request, filters as
    the panels set them. Each repeat is a short visit: the tab opens at the newest checkpoint
    (calls labelled "newest"), the user looks at it (``PAUSE``), then moves the cursor to a
    checkpoint spread over training and picks the next focus dataset (labelled "scrubbing").
    Runs, steps, datasets and layers rotate so the calls spread over the whole logdir.
    """
    runs = sorted(index)
    calls = []
    for i in range(repeats):
        run = runs[i % len(runs)]
        entry = index[run]
        steps = entry["steps"]
        datasets = entry["datasets"] or [None]
        layer = (entry["layers"] or [None])[i % len(entry["layers"] or [None])]
        calls += _panel_calls(
            entry, runs, run, steps[-1], "newest", datasets[i % len(datasets)], layer
        )
        calls.append(PAUSE)
        step = steps[(i * 7919) % len(steps)]
        focus = datasets[(i + 1) % len(datasets)]
        calls += _panel_calls(entry, runs, run, step, "scrubbing", focus, layer)
    return calls


def _panel_calls(entry, runs, run, step, when, focus, layer) -> list[tuple[str, str, dict]]:
    """The calls of one render of every panel at ``step`` (see route_calls)."""
    calls = []
    shown = entry["datasets"][:3]  # the dashboard overlays the first three datasets
    quantities = set(entry["quantities"])
    calls.append(("runs", "runs", {}))
    calls.append(("logs (loss panel)", "logs", {"run": runs}))
    # The findings list above the panels: every selected run, once per data version.
    calls.append(("findings (list)", "findings", {"run": runs}))
    if "model_auc" in quantities:
        calls.append(
            (
                "scalars model_auc",
                "scalars",
                {"run": runs, "quantity": "model_auc", "dataset": shown},
            )
        )
        # Score histograms: which checkpoint has them (first four runs).
        check = {"run": runs[:4], "quantity": "model_auc", "step": step}
        calls.append((f"scalars model_auc at a step ({when})", "scalars", check))
    if "layer_std" in quantities:
        # The neuron panel's check for the chosen layer, and layer std per ticked dataset.
        params = {"run": runs, "quantity": "layer_std", "layer": layer, "step": step}
        calls.append((f"scalars layer_std at a step ({when})", "scalars", params))
        per_dataset = {**params, "dataset": shown}
        calls.append((f"scalars layer_std per dataset ({when})", "scalars", per_dataset))
    for quantity in ("dead_fraction", "correlation_mean_abs"):
        if quantity in quantities:  # small multiples: the focus dataset for > 4 runs
            params = {"run": runs, "quantity": quantity, "dataset": [focus]}
            calls.append((f"scalars {quantity}", "scalars", params))
    if "correlation_mean_abs" in quantities:  # which checkpoint has the matrix (2 runs)
        params = {
            "run": runs[:2],
            "quantity": "correlation_mean_abs",
            "dataset": [focus],
            "layer": layer,
            "step": step,
        }
        calls.append((f"scalars correlation_mean_abs at a step ({when})", "scalars", params))
    if "probe_auc" in quantities:
        params = {"run": runs, "quantity": "probe_auc", "dataset": shown}
        calls.append((f"scalars probe_auc at a step ({when})", "scalars", {**params, "step": step}))
        calls.append(("scalars probe_auc of one layer", "scalars", {**params, "layer": layer}))
    for quantity in ("neuron_mean", "neuron_std"):
        if quantity in quantities:  # one layer, every dataset
            params = {"run": run, "quantity": quantity, "step": step, "layer": layer}
            calls.append((f"values {quantity} ({when})", "values", params))
    if "correlation_matrix" in quantities:
        params = {
            "run": run,
            "quantity": "correlation_matrix",
            "step": step,
            "dataset": focus,
            "layer": layer,
        }
        calls.append((f"values correlation_matrix ({when})", "values", params))
    if "model_score_histogram" in quantities:
        params = {"run": run, "quantity": "model_score_histogram", "step": step}
        calls.append((f"values model_score_histogram ({when})", "values", params))
    if "feature_saliency" in quantities:
        # Bars: the shown datasets at the cursor, first four runs; heatmaps: the focus dataset
        # over training, first two runs.
        params = {"run": runs[:4], "quantity": "feature_saliency", "dataset": shown, "step": step}
        calls.append((f"scalars feature_saliency at a step ({when})", "scalars", params))
        params = {"run": runs[:2], "quantity": "feature_saliency", "dataset": [focus]}
        calls.append(("scalars feature_saliency", "scalars", params))
    if "cka_gram" in quantities:  # layer correspondence of the first two runs at the cursor
        calls.append((f"cka ({when})", "cka", {"run": runs[:2], "step": step}))
    if "cka_previous" in quantities:
        calls.append(("scalars cka_previous", "scalars", {"run": runs, "quantity": "cka_previous"}))
    if layer in entry.get("quantity_layers", {}).get("filter_importance", []):
        for name in runs[:4]:  # first four runs, the chosen layer
            params = {"run": name, "quantity": "filter_importance", "step": step, "layer": layer}
            calls.append((f"values filter_importance ({when})", "values", params))
    return calls


def measure_routes(board: TensorBoard, repeats: int, think: float = 2.0) -> dict[str, dict]:
    """Calls every route ``repeats`` times; returns per label the times (s) and statuses.

    At each ``PAUSE`` of the calls it waits ``think`` seconds, as a person looking at the
    page does (the plugin reads whole series in the background meanwhile).
    """
    index = {entry["run"]: entry for entry in board.get_json("runs")["runs"]}
    if not index:
        raise RuntimeError("/runs lists no run: nothing to measure")
    results: dict[str, dict] = {}
    for label, route, params in route_calls(index, repeats):
        if (label, route, params) == PAUSE:
            time.sleep(think)
            continue
        status, body, seconds = fetch(board.route(route, **params))
        entry = results.setdefault(
            label,
            {
                "kind": call_kind(route, params),
                "times": [],
                "statuses": [],
                "bytes": [],
                "failures": [],
            },
        )
        entry["times"].append(seconds)
        entry["statuses"].append(status)
        entry["bytes"].append(len(body))
        if status != 200:
            entry["failures"].append(f"{route} {params} -> {status}: {body[:200]!r}")
    return results


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def report_routes(results: dict[str, dict]) -> float:
    """Prints p50/p95 per route; returns the worst p95 in ms."""
    print(f"\nroute latency over HTTP (ms; gzip accepted)   target: p95 < {P95_TARGET_MS:.0f} ms")
    print(f"  {'route':<38}{'calls':>6}{'p50':>9}{'p95':>9}{'max':>9}{'p95/target':>12}{'KiB':>9}")
    worst = 0.0
    for label, entry in results.items():
        times = [t * 1000 for t in entry["times"]]
        p95 = percentile(times, 95)
        worst = max(worst, p95)
        not_ok = sum(status != 200 for status in entry["statuses"])
        print(
            f"  {label:<38}{len(times):>6}{percentile(times, 50):>9.1f}{p95:>9.1f}"
            f"{max(times):>9.1f}{p95 / P95_TARGET_MS:>12.2f}"
            f"{statistics.median(entry['bytes']) / 1024:>9.1f}"
            + (f"   {not_ok} not 200" if not_ok else "")
        )
        for failure in entry["failures"][:3]:
            print(f"      {failure}")
    print(f"  worst p95: {worst:.1f} ms = {worst / P95_TARGET_MS:.2f} x the target")
    return worst


# Browser --------------------------------------------------------------------------------------


def launch_chromium(playwright):
    """Launches headless Debian Chromium; raises RuntimeError with the install hint if missing."""
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} does not exist. {MISSING_BROWSER}")
    try:
        return playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
    except Exception as error:  # Playwright raises its own Error type; keep the message
        raise RuntimeError(f"Chromium did not start ({error}). {MISSING_BROWSER}") from error


def plugin_frame(page, timeout: float = 30):
    """The plugin's iframe (``plugin_entry.html?name=keras_inspect``) once it exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            if f"plugin_entry.html?name={PLUGIN}" in frame.url:
                return frame
        page.wait_for_timeout(50)
    raise RuntimeError(
        f"no plugin iframe within {timeout:.0f} s (frames: {[f.url for f in page.frames]}); "
        "is the keras_inspect tab listed and active?"
    )


RENDERED_AT_LEAST = "n => Number((document.body && document.body.dataset.kiRendered) || 0) >= n"
# Every panel drawn for the newest render cycle (the ones out of view are drawn after the
# render, while the page is idle; see tb_plugin/static/index.js).
ALL_PANELS_DRAWN = """
() => {
  const sections = [...document.querySelectorAll("section.ki-panel")];
  return sections.length > 0 && sections.every((s) => s.dataset.kiState === "drawn");
}
"""


# Inside the plugin iframe, in ms since its navigation started: now, when its document was
# parsed (TensorBoard's own tab switch runs first, on the same thread), when the last data
# response arrived (resource timing), the dashboard's user timings (plotly.js start-up, each
# panel's draw) and its own duration of the render cycle.
_FRAME_TIMES_JS = r"""
() => {
  const entries = performance.getEntriesByType("resource");
  const end = (test) => {
    const times = entries.filter((e) => test(new URL(e.name).pathname)).map((e) => e.responseEnd);
    return times.length ? Math.max(...times) : NaN;
  };
  const measure = (name) => performance.getEntriesByName(name, "measure")[0];
  const plotly = measure("ki-plotly");
  const navigation = performance.getEntriesByType("navigation")[0];
  const sections = [...document.querySelectorAll("section.ki-panel")];
  const shown = sections.filter((s) => !s.classList.contains("ki-unavailable"));
  const inView = shown.filter((s) => {
    const box = s.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  });
  return {
    now: performance.now(),
    parsed: navigation ? navigation.domInteractive : NaN,
    plotly: plotly ? plotly.duration : NaN,
    data: end((path) => /\/(runs|scalars|values|logs)$/.test(path)),
    cycle: Number(document.body.dataset.kiRenderMs || NaN),
    panels: shown.length,
    in_view: inView.length,
  };
}
"""


def _breakdown(inside: dict) -> dict:
    return {
        "plugin page parsed at": inside["parsed"] / 1000,
        "plotly.js start-up": inside["plotly"] / 1000,
        "last data response at": inside["data"] / 1000,
        "render cycle": inside["cycle"] / 1000,
    }


def _wait_all_drawn(frame, started: float, timeout: float) -> float:
    frame.wait_for_function(ALL_PANELS_DRAWN, timeout=timeout * 1000)
    return time.perf_counter() - started


def measure_render(url: str, timeout: float = 120) -> dict:
    """Opens the tab in fresh pages; returns seconds to the first full render, and the requests.

    "First full render" is every panel in view drawn (``kiRendered >= 1``); the panels below
    it are drawn next while the page is idle, and the time until all of them are drawn is
    reported too (``*_all_seconds``).
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise RuntimeError(f"Python Playwright is not installed. {MISSING_BROWSER}") from error

    result: dict = {"requests": [], "errors": []}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for attempt in ("cold", "warm"):
                page = browser.new_page(viewport={"width": 1600, "height": 1100})
                page.on("console", lambda m: m.type == "error" and result["errors"].append(m.text))
                page.on("pageerror", lambda e: result["errors"].append(f"pageerror: {e}"))
                responses = []
                page.on(
                    "response",
                    lambda r, responses=responses: (
                        ROUTE_PREFIX in r.url
                        and responses.append((r.status, r.url.split(ROUTE_PREFIX, 1)[1]))
                    ),
                )
                started = time.perf_counter()
                page.goto(f"{url}#{PLUGIN}")
                frame = plugin_frame(page, timeout)
                framed = time.perf_counter() - started
                frame.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=timeout * 1000)
                result[f"{attempt}_seconds"] = time.perf_counter() - started
                # Where the time went: TensorBoard's own page until the plugin iframe exists,
                # then the iframe from its navigation start (performance.now()) to the render.
                inside = frame.evaluate(_FRAME_TIMES_JS)
                result[f"{attempt}_breakdown"] = {
                    "until iframe": framed,
                    "iframe navigation to render": inside["now"] / 1000,
                    **_breakdown(inside),
                }
                result[f"{attempt}_panels"] = (inside["in_view"], inside["panels"])
                result[f"{attempt}_all_seconds"] = _wait_all_drawn(frame, started, timeout)
                if attempt == "cold":
                    result["requests"] = list(responses)
                page.close()
            # What a user already in TensorBoard waits for: a click on the Inspect tab.
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
            page.on("console", lambda m: m.type == "error" and result["errors"].append(m.text))
            page.goto(f"{url}#timeseries")
            tab = page.locator(
                '[role="tab"]', has=page.locator(f'.plugin-name[data-plugin-id="{PLUGIN}"]')
            )
            tab.wait_for(timeout=timeout * 1000)
            page.wait_for_load_state("networkidle")
            started = time.perf_counter()
            tab.click()
            frame = plugin_frame(page, timeout)
            frame.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=timeout * 1000)
            result["tab_seconds"] = time.perf_counter() - started
            inside = frame.evaluate(_FRAME_TIMES_JS)
            result["tab_breakdown"] = {
                "iframe navigation to render": inside["now"] / 1000,
                **_breakdown(inside),
            }
            result["tab_panels"] = (inside["in_view"], inside["panels"])
            result["tab_all_seconds"] = _wait_all_drawn(frame, started, timeout)
            page.close()
        finally:
            browser.close()
    return result


def call_kind(route: str, params: dict) -> str:
    """What kind of call this is: route, quantity and the filters used (not their values).

    ``values`` with ``run, quantity, step, layer`` -> ``values neuron_mean [layer,step]``.
    """
    quantity = params.get("quantity", "")
    quantity = quantity[0] if isinstance(quantity, list) else quantity
    filters = ",".join(sorted(k for k in params if k not in ("run", "quantity")))
    return f"{route} {quantity}".strip() + (f" [{filters}]" if filters else "")


def _request_kind(path: str) -> str:
    """The :func:`call_kind` of a request path such as ``values?run=a&quantity=q&step=3``."""
    route, _, query = path.partition("?")
    return call_kind(route, urllib.parse.parse_qs(query))


def report_render(render: dict, measured_kinds: set[str]) -> None:
    print(
        "\nfirst full render in Chromium (navigation or tab click -> kiRendered >= 1)   "
        f"target < {RENDER_TARGET_S} s"
    )
    names = {"cold": "cold page", "warm": "warm page", "tab": "tab click"}
    for attempt in ("cold", "warm", "tab"):
        seconds = render[f"{attempt}_seconds"]
        in_view, panels = render[f"{attempt}_panels"]
        print(
            f"  {names[attempt]:<9} {seconds:6.2f} s = {seconds / RENDER_TARGET_S:.2f} x the target"
            f" ({in_view} of {panels} panels in view); all {panels} drawn at "
            f"{render[f'{attempt}_all_seconds']:.2f} s"
        )
        parts = render.get(f"{attempt}_breakdown", {})
        print("        " + "; ".join(f"{k} {v:.2f} s" for k, v in parts.items() if v == v))
    assets = ("static/", "vendor/", "index.js")
    data = [path for _, path in render["requests"] if not path.startswith(assets)]
    bad = [f"{status} {path}" for status, path in render["requests"] if status >= 400]
    print(f"  plugin requests during the cold render: {len(render['requests'])} ({len(data)} data)")
    kinds = collections.Counter(_request_kind(path) for path in data)
    print("        " + ", ".join(f"{kind} x{count}" for kind, count in sorted(kinds.items())))
    unmeasured = sorted(set(kinds) - measured_kinds - {"runs"})
    render["unmeasured"] = unmeasured
    if unmeasured:
        print(
            "  the route table above lacks these calls of the dashboard: " + ", ".join(unmeasured)
        )
    for line in bad:
        print(f"  request failed: {line}")
    for error in render["errors"]:
        print(f"  console error: {error}")


# Main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200, help="checkpoints per run")
    parser.add_argument("--repeats", type=int, default=40, help="calls per route")
    parser.add_argument("--load-fast", default="true", choices=["true", "false", "auto"])
    parser.add_argument("--logdir", help="build (or reuse) the logdir here; default: a temp dir")
    parser.add_argument("--load-timeout", type=float, default=3600, help="seconds to load it")
    parser.add_argument(
        "--think",
        type=float,
        default=2.0,
        help="seconds a simulated user looks at the page before moving the cursor",
    )
    parser.add_argument("--no-browser", action="store_true", help="measure the routes only")
    parser.add_argument("--quick", action="store_true", help="2 runs x 5 checkpoints, 5 calls each")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        # Explicit --runs/--steps still win over the quick defaults.
        defaults = parser.parse_args([])
        args.runs = 2 if args.runs == defaults.runs else args.runs
        args.steps = 5 if args.steps == defaults.steps else args.steps
        args.repeats = 5 if args.repeats == defaults.repeats else args.repeats
        args.think = 0.5 if args.think == defaults.think else args.think

    temporary = args.logdir is None
    logdir = args.logdir or tempfile.mkdtemp(prefix="ki_latency_")
    try:
        runs = build_logdir(logdir, args.runs, args.steps)
        board = TensorBoard(logdir, args.load_fast)
        try:
            board.wait_ready()
            load_seconds = wait_loaded(board, runs, args.steps, args.load_timeout)
            print(
                f"tensorboard --load_fast={args.load_fast} at {board.url}: {args.runs} runs x "
                f"{args.steps} checkpoints loaded {load_seconds:.1f} s after start-up"
            )
            routes = measure_routes(board, args.repeats, args.think)
            worst = report_routes(routes)
            render = None
            if not args.no_browser:
                # The plugin reads whole series in the background after the calls above; let
                # it finish, so the tab opens on an idle server as it would for a user.
                time.sleep(max(2.0, 5 * args.think))
                render = measure_render(board.url)
                report_render(render, {entry["kind"] for entry in routes.values()})
        finally:
            board.stop()
    finally:
        if temporary:
            shutil.rmtree(logdir, ignore_errors=True)
    statuses = {label: sorted(set(entry["statuses"])) for label, entry in routes.items()}
    result = {
        "routes": routes,
        "statuses": statuses,
        "worst_p95_ms": worst,
        "load_seconds": load_seconds,
        "render": render,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
