"""Reading keras_inspect data through TensorBoard's data provider: the pure half of each route.

Nothing here knows HTTP. Every function takes the data provider, the request context and the
experiment id, and returns JSON-ready Python values (lists, dicts, floats; never NaN, never
NumPy types). Scalar quantities are stored with data class SCALAR and arrays with data class
TENSOR, both under the plugin name of :mod:`tb_plugin.metadata`, so both listings are read.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tensorboard import errors
from tensorboard.data import provider as provider_lib

from tb_plugin.metadata import (
    EXTRA_AXES,
    FORMAT_VERSION,
    KERAS_LOG_PREFIX,
    PLUGIN_NAME,
    RUN_SUBDIR,
    decode_content,
    decode_order,
)

__all__ = [
    "Index",
    "IndexCache",
    "RunInfo",
    "SeriesInfo",
    "Snapshot",
    "SeriesCache",
    "build_index",
    "logs_impl",
    "run_name",
    "runs_impl",
    "scalar_cache",
    "scalars_impl",
    "tensor_cache",
    "values_impl",
]

# Listings of scalars, tensors and Keras logs go to the data server side by side.
_POOL = ThreadPoolExecutor(max_workers=3, thread_name_prefix="keras-inspect-list")
# Read-time sample limit: ask for every point (the loader keeps all of ours, see loader.py).
_ALL = 1_000_000_000
_KERAS_SOURCES = ("train", "validation")


@dataclass(frozen=True)
class SeriesInfo:
    """One tag of a run: its axes, the order the callback gave them, and its freshness."""

    tag: str
    quantity: str
    dataset: str
    layer: str
    extra: dict[str, str]
    order: tuple[int, int]
    is_scalar: bool
    max_step: int
    last_modified: float


@dataclass
class RunInfo:
    """What one run (the directory that holds ``inspect/``) contains."""

    run: str
    tb_run: str
    series: list[SeriesInfo] = field(default_factory=list)

    def of(self, quantity: str) -> list[SeriesInfo]:
        """The series of ``quantity``, in the callback's layer and dataset order."""
        return sorted(
            (s for s in self.series if s.quantity == quantity),
            key=lambda s: (
                s.order[1],
                _natural(s.layer),
                s.order[0],
                _natural(s.dataset),
                sorted(s.extra.items()),
            ),
        )


@dataclass
class Index:
    """Every keras_inspect run of an experiment, keyed by run name."""

    runs: dict[str, RunInfo]

    def run(self, name: str) -> RunInfo:
        """The run called ``name``; 404 when there is none."""
        if name not in self.runs:
            raise errors.NotFoundError(f"no keras_inspect run named {name!r}")
        return self.runs[name]


def run_name(tb_run: str) -> str | None:
    """``ctr/inspect`` -> ``ctr``; ``inspect`` -> ``.``; other runs -> ``None``."""
    if tb_run == RUN_SUBDIR:
        return "."
    suffix = "/" + RUN_SUBDIR
    return tb_run[: -len(suffix)] if tb_run.endswith(suffix) else None


def build_index(provider: Any, ctx: Any, experiment_id: str) -> Index:
    """List the plugin's scalars and tensors and group them by run (metadata only, no values).

    Always lists every run: measured on TensorBoard's Rust data server with 20 runs, a
    run-only filter made a listing slower (44 ms) than none (25 ms).
    """
    runs: dict[str, RunInfo] = {}
    listings = list(
        _POOL.map(
            lambda pair: (
                pair[0],
                pair[1](ctx, experiment_id=experiment_id, plugin_name=PLUGIN_NAME),
            ),
            ((True, provider.list_scalars), (False, provider.list_tensors)),
        )
    )
    for is_scalar, listing in listings:
        for tb_run, tags in listing.items():
            name = run_name(tb_run)
            if name is None:
                continue
            info = runs.setdefault(name, RunInfo(name, tb_run))
            for tag, meta in tags.items():
                decoded = _decode(bytes(meta.plugin_content))
                if decoded is None:
                    continue  # newer format or foreign data: skipped, never fatal
                axes, extra, order = decoded
                info.series.append(
                    SeriesInfo(
                        tag=tag,
                        quantity=axes["quantity"],
                        dataset=axes["dataset"],
                        layer=axes["layer"],
                        extra=dict(extra),
                        order=order,
                        is_scalar=is_scalar,
                        max_step=int(meta.max_step),
                        last_modified=float(getattr(meta, "last_modified", 0.0) or 0.0),
                    )
                )
    return Index(dict(sorted(runs.items())))


@dataclass(frozen=True)
class Snapshot:
    """What a listing of the experiment found: keras_inspect series and Keras log scalars."""

    index: Index
    logs: dict[str, list[tuple[str, tuple[str, str]]]]
    built: float


class IndexCache:
    """The last listing of each experiment, shared by the data routes.

    Listing every series costs tens of milliseconds on a large logdir, and TensorBoard only
    reloads data every few seconds, so listing on every request would dominate the routes.
    ``/runs`` always lists afresh (the dashboard calls it on load and after each TensorBoard
    reload); the other routes reuse that listing while it is younger than ``max_age`` seconds,
    and list again when asked for a run the listing does not know.
    """

    def __init__(self, max_age: float = 10.0) -> None:
        self.max_age = max_age
        self._snapshots: dict[str, Snapshot] = {}
        self._lock = threading.Lock()

    def get(self, provider: Any, ctx: Any, experiment_id: str, fresh: bool = False) -> Snapshot:
        """The experiment's listing, rebuilt when ``fresh`` or too old."""
        with self._lock:
            snapshot = self._snapshots.get(experiment_id)
        if fresh or snapshot is None or time.monotonic() - snapshot.built > self.max_age:
            index_job = _POOL.submit(build_index, provider, ctx, experiment_id)
            logs = _log_listing(provider, ctx, experiment_id)
            snapshot = Snapshot(index_job.result(), logs, time.monotonic())
            with self._lock:
                self._snapshots[experiment_id] = snapshot
        return snapshot

    def run(self, provider: Any, ctx: Any, experiment_id: str, run: str) -> RunInfo:
        """One run's series; lists again once before answering 404."""
        snapshot = self.get(provider, ctx, experiment_id)
        if run not in snapshot.index.runs:
            snapshot = self.get(provider, ctx, experiment_id, fresh=True)
        return snapshot.index.run(run)


def runs_impl(provider: Any, ctx: Any, experiment_id: str, indexes: IndexCache) -> dict:
    """The ``/runs`` answer: every run with its steps, datasets, layers and quantities."""
    snapshot = indexes.get(provider, ctx, experiment_id, fresh=True)
    index, logs = snapshot.index, snapshot.logs
    steps = _steps(provider, ctx, experiment_id, index)
    answer = []
    for name, info in index.runs.items():
        by_dataset = sorted(info.series, key=lambda s: (s.order[0], _natural(s.dataset)))
        by_layer = sorted(info.series, key=lambda s: (s.order[1], _natural(s.layer)))
        answer.append(
            {
                "run": name,
                "steps": steps.get(name, []),
                "datasets": _unique(s.dataset for s in by_dataset),
                "layers": _unique(s.layer for s in by_layer),
                "quantities": sorted({s.quantity for s in info.series}),
                "classes": sorted({s.extra["class"] for s in info.series if "class" in s.extra}),
                "logs": sorted({n for n, _ in logs.get(name, [])}),
            }
        )
    return {"version": FORMAT_VERSION, "runs": answer}


def scalars_impl(
    provider: Any,
    ctx: Any,
    experiment_id: str,
    indexes: IndexCache,
    cache: SeriesCache,
    runs: list[str],
    quantity: str,
    datasets: list[str] | None = None,
    layers: list[str] | None = None,
) -> dict:
    """The ``/scalars`` answer: every series of one scalar quantity, for one or more runs.

    All runs are read in one call: the dashboard overlays many runs, and each call to the data
    server costs tens of milliseconds whatever its size. ``datasets`` and ``layers`` keep only
    the series a chart draws (a filter that keeps nothing gives empty series, not an error).
    Runs without the quantity are left out; 404 when none has it.
    """
    infos = [indexes.run(provider, ctx, experiment_id, run) for run in runs]
    having = {info.run: [s for s in info.of(quantity) if s.is_scalar] for info in infos}
    if not any(having.values()):
        raise errors.NotFoundError(f"no run of {runs!r} has a scalar quantity {quantity!r}")
    infos = [info for info in infos if having[info.run]]
    wanted = {
        run: [
            s
            for s in series
            if (not datasets or s.dataset in datasets) and (not layers or s.layer in layers)
        ]
        for run, series in having.items()
    }
    by_run = {info.run: info.tb_run for info in infos}
    found = cache.read(
        experiment_id,
        [(by_run[run], s) for run, series in wanted.items() for s in series],
        lambda stale: _read(
            provider, ctx, experiment_id, provider.read_scalars, PLUGIN_NAME, stale, _pairs
        ),
    )
    answer = []
    for info in infos:
        series_out = []
        for s in wanted[info.run]:
            steps, values = found[(info.tb_run, s.tag)]
            series_out.append(
                {
                    "dataset": s.dataset,
                    "layer": s.layer,
                    "extra": s.extra,
                    "steps": steps,
                    "values": values,
                }
            )
        answer.append({"run": info.run, "series": series_out})
    return {"quantity": quantity, "runs": answer}


def values_impl(
    provider: Any,
    ctx: Any,
    experiment_id: str,
    indexes: IndexCache,
    cache: SeriesCache,
    run: str,
    quantity: str,
    step: int,
    dataset: str | None = None,
    layer: str | None = None,
) -> dict:
    """The ``/values`` answer: array cells of one quantity at the latest checkpoint <= step."""
    info = indexes.run(provider, ctx, experiment_id, run)
    series = [
        s
        for s in info.of(quantity)
        if not s.is_scalar
        and (dataset is None or s.dataset == dataset)
        and (layer is None or s.layer == layer)
    ]
    if not series:
        raise errors.NotFoundError(
            f"run {run!r} has no array quantity {quantity!r}"
            + (f" for dataset {dataset!r}" if dataset is not None else "")
            + (f" for layer {layer!r}" if layer is not None else "")
        )
    found = cache.read(
        experiment_id,
        [(info.tb_run, s) for s in series],
        lambda stale: _read(
            provider, ctx, experiment_id, provider.read_tensors, PLUGIN_NAME, stale, list
        ),
    )
    points = {s.tag: found[(info.tb_run, s.tag)] for s in series}
    chosen = max((p.step for s in series for p in points[s.tag] if p.step <= step), default=None)
    if chosen is None:
        raise errors.NotFoundError(f"run {run!r} has no {quantity!r} at or before step {step}")
    cells = []
    for s in series:
        datum = next((p for p in points[s.tag] if p.step == chosen), None)
        if datum is None:
            continue
        array = datum.numpy
        cells.append(
            {
                "dataset": s.dataset,
                "layer": s.layer,
                "extra": s.extra,
                "shape": list(array.shape),
                "values": _rounded(array),
            }
        )
    return {"run": run, "quantity": quantity, "step": int(chosen), "cells": cells}


def logs_impl(
    provider: Any, ctx: Any, experiment_id: str, indexes: IndexCache, runs: list[str]
) -> dict:
    """The ``/logs`` answer: Keras' loss and metrics of one or more runs, from every source."""
    snapshot = indexes.get(provider, ctx, experiment_id)
    if any(r not in snapshot.logs and r not in snapshot.index.runs for r in runs):
        snapshot = indexes.get(provider, ctx, experiment_id, fresh=True)
    for run in runs:
        if run not in snapshot.logs and run not in snapshot.index.runs:
            raise errors.NotFoundError(f"no keras_inspect run named {run!r}")
    wanted = {run: snapshot.logs.get(run, []) for run in runs}
    pairs = [pair for found in wanted.values() for _, pair in found]
    data = {}
    if pairs:
        data = provider.read_scalars(
            ctx,
            experiment_id=experiment_id,
            plugin_name="scalars",
            downsample=_ALL,
            run_tag_filter=provider_lib.RunTagFilter(
                sorted({r for r, _ in pairs}), sorted({t for _, t in pairs})
            ),
        )
    answer = []
    for run, found in wanted.items():
        series = []
        for name, (tb_run, tag) in found:
            points = data.get(tb_run, {}).get(tag, [])
            source = tb_run.rsplit("/", 1)[-1] if tb_run.endswith(_KERAS_SOURCES) else "inspect"
            series.append(
                {
                    "name": name,
                    "source": source,
                    "steps": [int(p.step) for p in points],
                    "values": [_finite(p.value) for p in points],
                }
            )
        series.sort(key=lambda s: (s["name"], s["source"]))
        answer.append({"run": run, "series": series})
    return {"runs": answer}


class SeriesCache:
    """Series kept between requests, refreshed when TensorBoard has newer data.

    The data provider cannot read one step of a series, only all of it, and a dashboard that
    scrubs through checkpoints or redraws after a click asks for the same series again and
    again. Entries are keyed by (experiment, run, tag) and dropped when the series' max step or
    modification time changes; the least recently used go first once the entries held exceed
    ``max_bytes`` (as counted by ``size``).

    Args:
        size: bytes held by one cached value.
        max_bytes: the memory bound.
    """

    def __init__(self, size: Callable[[Any], int], max_bytes: int = 256 * 2**20) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._entries: OrderedDict[tuple, tuple[tuple, Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def read(
        self,
        experiment_id: str,
        items: list[tuple[str, SeriesInfo]],
        fetch: Callable[[list[tuple[str, SeriesInfo]]], dict[tuple[str, str], Any]],
    ) -> dict[tuple[str, str], Any]:
        """(tb_run, tag) -> value for every item; ``fetch`` gets only the stale items."""
        result, stale = {}, []
        with self._lock:
            for tb_run, s in items:
                key = (experiment_id, tb_run, s.tag)
                hit = self._entries.get(key)
                if hit is not None and hit[0] == (s.max_step, s.last_modified):
                    self._entries.move_to_end(key)
                    result[(tb_run, s.tag)] = hit[1]
                else:
                    stale.append((tb_run, s))
        if stale:
            fetched = fetch(stale)
            with self._lock:
                for tb_run, s in stale:
                    value = fetched[(tb_run, s.tag)]
                    result[(tb_run, s.tag)] = value
                    key = (experiment_id, tb_run, s.tag)
                    old = self._entries.pop(key, None)
                    if old is not None:
                        self.nbytes -= old[2]
                    size = self.size(value)
                    self._entries[key] = ((s.max_step, s.last_modified), value, size)
                    self.nbytes += size
                while self.nbytes > self.max_bytes and len(self._entries) > 1:
                    self.nbytes -= self._entries.popitem(last=False)[1][2]
        return result


def tensor_cache(max_bytes: int = 256 * 2**20) -> SeriesCache:
    """A cache of tensor series (lists of TensorDatum), sized by their arrays."""
    return SeriesCache(lambda points: sum(p.numpy.nbytes for p in points), max_bytes)


def scalar_cache(max_bytes: int = 64 * 2**20) -> SeriesCache:
    """A cache of scalar series as JSON-ready (steps, values) lists, ~16 bytes a point."""
    return SeriesCache(lambda pair: 16 * len(pair[0]), max_bytes)


def _read(provider, ctx, experiment_id, read, plugin_name, stale, convert):
    """One provider read for every stale (tb_run, series) pair; missing series read as empty."""
    data = read(
        ctx,
        experiment_id=experiment_id,
        plugin_name=plugin_name,
        downsample=_ALL,
        run_tag_filter=provider_lib.RunTagFilter(
            sorted({r for r, _ in stale}), sorted({s.tag for _, s in stale})
        ),
    )
    return {(r, s.tag): convert(data.get(r, {}).get(s.tag, [])) for r, s in stale}


def _log_listing(provider, ctx, experiment_id) -> dict[str, list[tuple[str, tuple[str, str]]]]:
    """run -> [(metric name, (tb_run, tag))] from the callback's copies and Keras' own runs."""
    listing = provider.list_scalars(ctx, experiment_id=experiment_id, plugin_name="scalars")
    found: dict[str, list] = {}
    for tb_run, tags in listing.items():
        name = run_name(tb_run)
        if name is not None:
            for tag in tags:
                if tag.startswith(KERAS_LOG_PREFIX):
                    found.setdefault(name, []).append((tag[len(KERAS_LOG_PREFIX) :], (tb_run, tag)))
            continue
        parent, _, source = tb_run.rpartition("/")
        if source in _KERAS_SOURCES:
            for tag in tags:
                if tag.startswith("epoch_"):
                    found.setdefault(parent or ".", []).append(
                        (tag[len("epoch_") :], (tb_run, tag))
                    )
    return found


def _steps(provider, ctx, experiment_id, index: Index) -> dict[str, list[int]]:
    """Checkpoint steps per run, read from a scalar series that reaches its last checkpoint.

    Runs usually share tag names, so the same (first by name) tag is picked in each run and
    read for all of them at once: one read of 20 series instead of 20 x 20.
    """
    groups: dict[str, list[tuple[str, str]]] = {}
    for name, info in index.runs.items():
        scalars = [s for s in info.series if s.is_scalar]
        if scalars:
            last = max(s.max_step for s in scalars)
            tag = min(s.tag for s in scalars if s.max_step == last)
            groups.setdefault(tag, []).append((name, info.tb_run))

    def read(tag: str) -> dict[str, list[int]]:
        runs = groups[tag]
        data = provider.read_scalars(
            ctx,
            experiment_id=experiment_id,
            plugin_name=PLUGIN_NAME,
            downsample=_ALL,
            run_tag_filter=provider_lib.RunTagFilter([tb_run for _, tb_run in runs], [tag]),
        )
        return {
            name: sorted({int(p.step) for p in data.get(tb_run, {}).get(tag, [])})
            for name, tb_run in runs
        }

    steps: dict[str, list[int]] = {}
    for found in _POOL.map(read, list(groups)):
        steps.update(found)
    return steps


@functools.lru_cache(maxsize=65536)
def _decode(content: bytes):
    # Every request lists every series again; their metadata never changes, so decode once.
    axes = decode_content(content)
    if axes is None:
        return None
    extra = tuple((k, axes[k]) for k in EXTRA_AXES if k in axes)
    return axes, extra, decode_order(content)


def _pairs(points: list) -> tuple[list[int], list[float | None]]:
    return [int(p.step) for p in points], [_finite(p.value) for p in points]


def _natural(name: str) -> list:
    """Sort key that puts test2 before test10 (for data written without an order)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _unique(values) -> list[str]:
    return [v for v in dict.fromkeys(values) if v]


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _rounded(array: np.ndarray) -> Any:
    if array.dtype.kind != "f":
        return array.tolist()
    # float16 holds ~3.3 significant digits; 4 decimals keep them and shorten the JSON.
    rounded = array.astype(np.float64).round(4)
    if np.isfinite(rounded).all():
        return rounded.tolist()
    return np.where(np.isfinite(rounded), rounded, None).tolist()
