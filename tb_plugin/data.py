"""Reading keras_inspect data through TensorBoard's data provider: the pure half of each route.

Nothing here knows HTTP. Every function takes the data provider, the request context and the
experiment id, and returns JSON-ready Python values (lists, dicts, floats; never NaN, never
NumPy types). Scalar quantities are stored with data class SCALAR and arrays with data class
TENSOR, both under the plugin name of :mod:`tb_plugin.metadata`, so both listings are read.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

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
    decode_part,
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
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="keras-inspect-list")
# Read-time sample limit: ask for every point (the loader keeps all of ours, see loader.py).
_ALL = 1_000_000_000
_KERAS_SOURCES = ("train", "validation")


# Quantities that describe every layer of the model, inspected or not (the model overview):
# they do not make a layer one of the run's inspected `layers`.
ARCHITECTURE = frozenset({"model_layers"})
# Scalar quantities written at some checkpoints only (CKA to the previous checkpoint has none at
# a training's first; non-finite rows only when they occur): never the series that gives a
# run's checkpoint steps when another one reaches its last checkpoint.
PARTIAL = frozenset({"cka_previous", "nonfinite_rows"})


class SeriesInfo(NamedTuple):
    """One tag of a run: its axes, the order the callback gave them, and its freshness.

    A named tuple rather than a dataclass: a listing of a large logdir makes thousands of
    these per request, and a tuple is built several times faster.
    """

    tag: str
    quantity: str
    dataset: str
    layer: str
    extra: dict[str, str]
    order: tuple[int, int]
    part: int  # first step of this part of a series written in parts; -1: the whole series
    is_scalar: bool
    max_step: int
    wall_time: float

    @property
    def version(self) -> tuple[int, float]:
        """What changes when the series gets a point (caches and change checks compare it)."""
        return (self.max_step, self.wall_time)


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

    def summary(self) -> dict:
        """Datasets and layers in the callback's order, quantities and classes (for /runs)."""
        datasets: dict[str, int] = {}
        layers: dict[str, int] = {}
        quantities, classes = set(), set()
        by_quantity: dict[str, set[str]] = {}
        for s in self.series:
            if s.dataset and datasets.get(s.dataset, s.order[0] + 1) > s.order[0]:
                datasets[s.dataset] = s.order[0]
            if (
                s.layer
                and s.quantity not in ARCHITECTURE
                and layers.get(s.layer, s.order[1] + 1) > s.order[1]
            ):
                layers[s.layer] = s.order[1]
            if s.layer:
                by_quantity.setdefault(s.quantity, set()).add(s.layer)
            quantities.add(s.quantity)
            if "class" in s.extra:
                classes.add(s.extra["class"])
        order = sorted(layers, key=lambda name: (layers[name], _natural(name)))
        return {
            "datasets": sorted(datasets, key=lambda d: (datasets[d], _natural(d))),
            "layers": order,
            "quantities": sorted(quantities),
            "classes": sorted(classes),
            "quantity_layers": {
                q: [name for name in order if name in names]
                for q, names in sorted(by_quantity.items())
            },
        }


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


def build_index(
    provider: Any, ctx: Any, experiment_id: str, listings: list[tuple[bool, dict]] | None = None
) -> Index:
    """Group the plugin's scalars and tensors by run (metadata only, no values).

    Args:
        listings: ``[(True, scalar listing), (False, tensor listing)]`` when the caller has
            listed already; listed here otherwise.
    """
    if listings is None:
        listings = [
            (True, _list(provider.list_scalars, ctx, experiment_id)),
            (False, _list(provider.list_tensors, ctx, experiment_id)),
        ]
    runs: dict[str, RunInfo] = {}
    for is_scalar, listing in listings:
        for tb_run, tags in listing.items():
            name = run_name(tb_run)
            if name is None:
                continue
            info = runs.setdefault(name, RunInfo(name, tb_run))
            append = info.series.append
            for tag, meta in tags.items():
                decoded = _decode(bytes(meta.plugin_content))
                if decoded is None:
                    continue  # newer format or foreign data: skipped, never fatal
                append(SeriesInfo(tag, *decoded, is_scalar, *_version(meta)))
    return Index(dict(sorted(runs.items())))


@dataclass(frozen=True)
class Snapshot:
    """What a listing of the experiment found: keras_inspect series and Keras log scalars."""

    index: Index
    logs: dict[str, list[tuple[str, str, SeriesInfo]]]  # run -> [(metric, tb_run, series)]
    tb_runs: frozenset[str]  # every TensorBoard run, ours or not
    built: float  # when listed in full
    checked: float  # when listed in full or last found unchanged

    def sentinels(self) -> dict[tuple[str, bool], dict[tuple[str, str], tuple[int, float]]]:
        """(plugin, is_scalar) -> {(tb_run, tag): version} of the series that show change.

        One per run and quantity (the latest written) and one per run of Keras logs: a new
        checkpoint of a quantity, or a new epoch of logs, moves at least that series on. (A
        checkpoint that opens a new part of a series written in parts adds a tag instead; the
        callback's scalars of the same checkpoint, or the re-listing after
        ``max_unchecked_age``, find it.)
        """
        found: dict[tuple[str, bool], dict[tuple[str, str], tuple[int, float]]] = {}
        for info in self.index.runs.values():
            newest = _newest_by(info.series, lambda s: (s.quantity, s.is_scalar))
            for s in newest.values():
                found.setdefault((PLUGIN_NAME, s.is_scalar), {})[(info.tb_run, s.tag)] = s.version
        for entries in self.logs.values():
            newest_log = _newest_by(entries, lambda entry: entry[1], lambda entry: entry[2])
            for tb_run, (_, _, s) in newest_log.items():
                found.setdefault(("scalars", True), {})[(tb_run, s.tag)] = s.version
        return found


def _newest_by(items, key, series=lambda item: item) -> dict:
    """key -> the item whose series has the newest version, among ``items`` with that key."""
    newest: dict = {}
    for item in items:
        held = newest.get(key(item))
        if held is None or series(item).version > series(held).version:
            newest[key(item)] = item
    return newest


class IndexCache:
    """The last listing of each experiment, shared by the data routes.

    Listing every series costs tens of milliseconds on a large logdir (20 runs x 200 series:
    ~70 ms, mostly TensorBoard's per-series Python objects), and TensorBoard only reloads data
    every few seconds. So the data routes reuse the last listing while it is younger than
    ``max_age`` seconds (and list again when asked for a run it does not know), and ``/runs``,
    which must see new data (the dashboard calls it on load and after each TensorBoard reload),
    first asks whether anything changed: the list of runs, and the latest series of every
    quantity and of every run's Keras logs (see :meth:`Snapshot.sentinels`), a few small
    filtered listings. A change lists everything again, and so does a listing older than
    ``max_unchecked_age`` seconds: a series that appears without any sentinel moving on (a
    quantity first written at an old step) is seen within that time.
    """

    def __init__(self, max_age: float = 10.0, max_unchecked_age: float = 60.0) -> None:
        self.max_age = max_age
        self.max_unchecked_age = max_unchecked_age
        self._snapshots: dict[str, Snapshot] = {}
        self._lock = threading.Lock()

    def get(self, provider: Any, ctx: Any, experiment_id: str, fresh: bool = False) -> Snapshot:
        """The experiment's listing: rebuilt when too old, checked for changes when ``fresh``."""
        with self._lock:
            snapshot = self._snapshots.get(experiment_id)
        if snapshot is not None:
            now = time.monotonic()
            if not fresh and now - snapshot.checked <= self.max_age:
                return snapshot
            if now - snapshot.built <= self.max_unchecked_age and _unchanged(
                provider, ctx, experiment_id, snapshot
            ):
                snapshot = dataclasses.replace(snapshot, checked=now)
                with self._lock:
                    self._snapshots[experiment_id] = snapshot
                return snapshot
        # Side by side (never nested: a pool task waiting on the pool could deadlock).
        scalars = _POOL.submit(_list, provider.list_scalars, ctx, experiment_id)
        tensors = _POOL.submit(_list, provider.list_tensors, ctx, experiment_id)
        runs_job = _POOL.submit(_tb_runs, provider, ctx, experiment_id)
        logs = _log_listing(provider, ctx, experiment_id)
        index = build_index(
            provider, ctx, experiment_id, [(True, scalars.result()), (False, tensors.result())]
        )
        now = time.monotonic()
        snapshot = Snapshot(index, logs, runs_job.result(), built=now, checked=now)
        with self._lock:
            self._snapshots[experiment_id] = snapshot
        return snapshot

    def run(self, provider: Any, ctx: Any, experiment_id: str, run: str) -> RunInfo:
        """One run's series; lists again once before answering 404."""
        snapshot = self.get(provider, ctx, experiment_id)
        if run not in snapshot.index.runs:
            snapshot = self.get(provider, ctx, experiment_id, fresh=True)
        return snapshot.index.run(run)


def _list(list_fn: Callable, ctx: Any, experiment_id: str) -> dict:
    """Every series of the plugin of one data class (all runs: a run filter saves nothing)."""
    return list_fn(ctx, experiment_id=experiment_id, plugin_name=PLUGIN_NAME)


def _version(meta: Any) -> tuple[int, float]:
    """:attr:`SeriesInfo.version` of a listed time series."""
    return int(meta.max_step), float(meta.max_wall_time or 0.0)


def _tb_runs(provider: Any, ctx: Any, experiment_id: str) -> frozenset[str]:
    return frozenset(r.run_name for r in provider.list_runs(ctx, experiment_id=experiment_id))


def _unchanged(provider: Any, ctx: Any, experiment_id: str, snapshot: Snapshot) -> bool:
    """Whether the experiment still has the snapshot's runs and its sentinel series' versions."""
    sentinels = snapshot.sentinels()
    for is_scalar in (True, False):  # a data class with no series yet is listed whole
        sentinels.setdefault((PLUGIN_NAME, is_scalar), {})

    def probe(group: tuple[tuple[str, bool], dict]) -> bool:
        (plugin, is_scalar), versions = group
        list_fn = provider.list_scalars if is_scalar else provider.list_tensors
        if not versions:
            return not any(list_fn(ctx, experiment_id=experiment_id, plugin_name=plugin).values())
        listing = list_fn(
            ctx,
            experiment_id=experiment_id,
            plugin_name=plugin,
            run_tag_filter=provider_lib.RunTagFilter(
                sorted({r for r, _ in versions}), sorted({t for _, t in versions})
            ),
        )
        for (tb_run, tag), version in versions.items():
            meta = listing.get(tb_run, {}).get(tag)
            if meta is None or _version(meta) != version:
                return False
        return True

    runs_job = _POOL.submit(_tb_runs, provider, ctx, experiment_id)
    same = all(_POOL.map(probe, list(sentinels.items())))
    return runs_job.result() == snapshot.tb_runs and same


def runs_impl(
    provider: Any, ctx: Any, experiment_id: str, indexes: IndexCache, cache: SeriesCache
) -> dict:
    """The ``/runs`` answer: every run with its steps, datasets, layers and quantities."""
    snapshot = indexes.get(provider, ctx, experiment_id, fresh=True)
    index, logs = snapshot.index, snapshot.logs
    steps = _steps(provider, ctx, experiment_id, index, cache)
    answer = []
    for name, info in index.runs.items():
        answer.append(
            {
                "run": name,
                "steps": steps.get(name, []),
                **info.summary(),
                "logs": sorted({n for n, _, _ in logs.get(name, [])}),
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
    step: int | None = None,
    last: SeriesCache | None = None,
    warmer: Any = None,
) -> dict:
    """The ``/scalars`` answer: every series of one scalar quantity, for one or more runs.

    All runs are read in one call: the dashboard overlays many runs, and each call to the data
    server costs tens of milliseconds whatever its size. ``datasets`` and ``layers`` keep only
    the series a chart draws (a filter that keeps nothing gives empty series, not an error).
    With ``step``, each series keeps only its point at the latest step <= ``step`` (none when
    there is no such step): what a chart of one checkpoint draws, ~200x smaller than the series.
    ``cache`` holds whole series, ``last`` (optional) newest points, ``warmer`` (optional)
    reads whole series in the background (see :func:`_read_at`; with a ``datasets`` filter
    and no ``step`` it also reads the other datasets' series, the next focus of a small
    multiple). Runs without the quantity are left out; 404 when none has it.
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
    if warmer is not None and step is None and datasets:
        # Small multiples show one focus dataset at a time: the next one chosen is read now.
        others = [
            (by_run[run], s)
            for run, series in having.items()
            for s in series
            if s.dataset not in datasets and (not layers or s.layer in layers)
        ]
        _queue_whole_reads(
            warmer,
            cache,
            experiment_id,
            others,
            _fetcher(provider, ctx, experiment_id, provider.read_scalars, _pairs, _ALL),
        )
    found = _read_at(
        provider,
        ctx,
        experiment_id,
        [(by_run[run], s) for run, series in wanted.items() for s in series],
        step,
        (cache, last),
        provider.read_scalars,
        _pairs,
        warmer,
    )
    answer = []
    for info in infos:
        series_out = []
        for s in wanted[info.run]:
            steps, values = found[(info.tb_run, s.tag)]
            if step is not None:
                at = bisect.bisect_right(steps, step) - 1
                steps, values = (steps[at : at + 1], values[at : at + 1]) if at >= 0 else ([], [])
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
    last: SeriesCache | None = None,
    warmer: Any = None,
) -> dict:
    """The ``/values`` answer: array cells of one quantity at the latest checkpoint <= step.

    ``cache`` holds whole series, ``last`` (optional) newest points, ``warmer`` (optional)
    reads whole series in the background (see :func:`_read_at`).
    """
    info = indexes.run(provider, ctx, experiment_id, run)
    series = _parts_at(_array_series(info, quantity, dataset, layer), step)
    found = _read_at(
        provider,
        ctx,
        experiment_id,
        [(info.tb_run, s) for s in series],
        step,
        (cache, last),
        provider.read_tensors,
        list,
        warmer,
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


# /history answers at most this many numbers (a 32-channel layer x 11 classes x 1,000
# checkpoints is 352,000); larger asks are refused with a pointer to /values.
MAX_HISTORY_NUMBERS = 2_000_000


def history_impl(
    provider: Any,
    ctx: Any,
    experiment_id: str,
    indexes: IndexCache,
    cache: SeriesCache,
    run: str,
    quantity: str,
    dataset: str,
    layer: str,
) -> dict:
    """The ``/history`` answer: every checkpoint of the per-unit vectors of one (dataset, layer).

    What a chart of one value per unit *over steps* needs (intra-sample entropy of each
    channel per class, say) in one read, instead of one ``/values`` call per checkpoint. Only
    vectors: a matrix quantity's history (a correlation matrix at 200 checkpoints is 26 MB)
    is refused with a 400, as is an answer above ``MAX_HISTORY_NUMBERS`` numbers.
    """
    info = indexes.run(provider, ctx, experiment_id, run)
    series = _array_series(info, quantity, dataset, layer)
    found = cache.read(
        experiment_id,
        [(info.tb_run, s) for s in series],
        _fetcher(provider, ctx, experiment_id, provider.read_tensors, list, _ALL),
    )
    merged: dict[tuple, tuple[SeriesInfo, list]] = {}
    for s in series:  # the parts of a series written in parts make one cell
        merged.setdefault(_axes_key(s), (s, []))[1].extend(found[(info.tb_run, s.tag)])
    cells, numbers = [], 0
    for s, points in merged.values():
        points = sorted(points, key=lambda p: p.step)
        arrays = [p.numpy for p in points]
        if any(a.ndim != 1 for a in arrays):
            raise errors.InvalidArgumentError(
                f"/history serves per-unit vectors; {quantity!r} holds arrays of shape "
                f"{list(arrays[0].shape) if arrays else []}: ask /values for one checkpoint"
            )
        numbers += sum(a.size for a in arrays)
        if numbers > MAX_HISTORY_NUMBERS:
            raise errors.InvalidArgumentError(
                f"the history of {quantity!r} for {dataset!r}/{layer!r} is more than "
                f"{MAX_HISTORY_NUMBERS:,} numbers; ask /values for one checkpoint"
            )
        cells.append(
            {
                "extra": s.extra,
                "steps": [int(p.step) for p in points],
                "values": [_rounded(a) for a in arrays],
            }
        )
    return {"run": run, "quantity": quantity, "dataset": dataset, "layer": layer, "cells": cells}


def _axes_key(s: SeriesInfo) -> tuple:
    """What tells series of one quantity apart, whichever part of a series ``s`` is."""
    return (s.dataset, s.layer, tuple(sorted(s.extra.items())))


def _parts_at(series: list[SeriesInfo], step: int) -> list[SeriesInfo]:
    """``series`` with each series written in parts narrowed to the part to read at ``step``.

    That is the last part beginning at or before ``step``: it holds the latest point at or
    before ``step``. A series whose first part begins after ``step`` has no such point and is
    left out; series kept in one tag are all kept.
    """
    chosen: dict[tuple, SeriesInfo] = {}
    for s in series:
        if 0 <= s.part <= step:
            held = chosen.get(_axes_key(s))
            if held is None or s.part > held.part:
                chosen[_axes_key(s)] = s
    return [s for s in series if s.part < 0 or chosen.get(_axes_key(s)) is s]


def _array_series(
    info: RunInfo, quantity: str, dataset: str | None, layer: str | None
) -> list[SeriesInfo]:
    """The array (non-scalar) series of ``quantity`` in a run, narrowed to a dataset and layer
    when given; 404 when none is left."""
    series = [
        s
        for s in info.of(quantity)
        if not s.is_scalar
        and (dataset is None or s.dataset == dataset)
        and (layer is None or s.layer == layer)
    ]
    if not series:
        raise errors.NotFoundError(
            f"run {info.run!r} has no array quantity {quantity!r}"
            + (f" for dataset {dataset!r}" if dataset is not None else "")
            + (f" for layer {layer!r}" if layer is not None else "")
        )
    return series


def logs_impl(
    provider: Any,
    ctx: Any,
    experiment_id: str,
    indexes: IndexCache,
    cache: SeriesCache,
    runs: list[str],
) -> dict:
    """The ``/logs`` answer: Keras' loss and metrics of one or more runs, from every source."""
    snapshot = indexes.get(provider, ctx, experiment_id)
    if any(r not in snapshot.logs and r not in snapshot.index.runs for r in runs):
        snapshot = indexes.get(provider, ctx, experiment_id, fresh=True)
    for run in runs:
        if run not in snapshot.logs and run not in snapshot.index.runs:
            raise errors.NotFoundError(f"no keras_inspect run named {run!r}")
    wanted = {run: snapshot.logs.get(run, []) for run in runs}
    found = cache.read(
        experiment_id,
        [(tb_run, s) for entries in wanted.values() for _, tb_run, s in entries],
        lambda stale: _read(
            provider, ctx, experiment_id, provider.read_scalars, "scalars", stale, _pairs
        ),
    )
    answer = []
    for run, entries in wanted.items():
        series = []
        for name, tb_run, s in entries:
            steps, values = found[(tb_run, s.tag)]
            source = tb_run.rsplit("/", 1)[-1] if tb_run.endswith(_KERAS_SOURCES) else "inspect"
            series.append({"name": name, "source": source, "steps": steps, "values": values})
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

    def peek(
        self, experiment_id: str, items: list[tuple[str, SeriesInfo]]
    ) -> dict[tuple[str, str], Any]:
        """(tb_run, tag) -> value for the items held and still fresh; nothing is read."""
        found = {}
        with self._lock:
            for tb_run, s in items:
                key = (experiment_id, tb_run, s.tag)
                hit = self._entries.get(key)
                if hit is not None and hit[0] == s.version:
                    self._entries.move_to_end(key)
                    found[(tb_run, s.tag)] = hit[1]
        return found

    def read(
        self,
        experiment_id: str,
        items: list[tuple[str, SeriesInfo]],
        fetch: Callable[[list[tuple[str, SeriesInfo]]], dict[tuple[str, str], Any]],
    ) -> dict[tuple[str, str], Any]:
        """(tb_run, tag) -> value for every item; ``fetch`` gets only the stale items."""
        result = self.peek(experiment_id, items)
        stale = [(tb_run, s) for tb_run, s in items if (tb_run, s.tag) not in result]
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
                    self._entries[key] = (s.version, value, size)
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


# Series per background whole-series read (see _read_at): a scalar series of 200 points is
# ~0.5 ms of work, a 256 x 256 correlation matrix series ~100 ms.
_WARM_CHUNK = {True: 128, False: 2}


def _read_at(provider, ctx, experiment_id, items, step, caches, read, convert, warmer=None):
    """(tb_run, tag) -> converted points of each item, enough to answer at ``step``.

    A series whose newest point is at or before ``step`` (the cursor at the newest checkpoint,
    as when the tab opens) is answered from its whole series if held, else by reading only its
    newest point into ``last``: far cheaper than the whole series (a correlation matrix's 200
    checkpoints are 26 MB, a layer's scalars of 20 runs 200 x more points than drawn). The
    other series (and any whose newest point turns out newer than the listing said) are read
    whole into ``whole``, where scrubbing finds them.

    Args:
        caches: ``(whole, last)``; ``last`` may be ``None`` (always read whole series).
        read: ``provider.read_scalars`` or ``provider.read_tensors``.
        convert: points -> cached value (``_pairs`` for scalars, ``list`` for tensors).
        warmer: a :class:`tb_plugin.warmup.Warmer`, optional: the series answered from their
            newest point are queued there for a background read of the whole series, so that
            the first move of the checkpoint cursor finds them in ``whole``.
    """
    whole, last = caches

    def fetch(downsample):
        return _fetcher(provider, ctx, experiment_id, read, convert, downsample)

    found: dict[tuple[str, str], Any] = {}
    if last is not None and step is not None:
        newest = [item for item in items if step >= item[1].max_step]
        found = whole.peek(experiment_id, newest)
        missing = [item for item in newest if (item[0], item[1].tag) not in found]
        if missing:
            for key, value in last.read(experiment_id, missing, fetch(1)).items():
                if _newest_step(value) <= step:
                    found[key] = value
            if warmer is not None:
                _queue_whole_reads(warmer, whole, experiment_id, missing, fetch(_ALL))
    rest = [item for item in items if (item[0], item[1].tag) not in found]
    if rest:
        found.update(whole.read(experiment_id, rest, fetch(_ALL)))
    return found


def _fetcher(provider, ctx, experiment_id, read, convert, downsample):
    """A SeriesCache fetch function: one provider read of the stale items."""
    return lambda stale: _read(
        provider, ctx, experiment_id, read, PLUGIN_NAME, stale, convert, downsample
    )


def _queue_whole_reads(warmer, whole, experiment_id, items, fetch) -> None:
    """Queues background reads of the whole series of ``items``, a few series per job.

    A job reads many runs at once (each call to the data server costs tens of milliseconds
    whatever its size), but few enough series that a request arriving meanwhile waits for
    one job at most.
    """
    if not items:
        return
    chunk = _WARM_CHUNK[items[0][1].is_scalar]
    ordered = sorted(items, key=lambda item: (item[1].tag, item[0]))  # runs share tags
    for start in range(0, len(ordered), chunk):
        part = ordered[start : start + chunk]
        key = (id(whole), experiment_id, tuple((r, s.tag, s.version) for r, s in part))
        warmer.add(key, functools.partial(whole.read, experiment_id, part, fetch))


def _newest_step(value: Any) -> int:
    """The newest step in a cached value: (steps, values) pairs or a list of TensorDatum."""
    if isinstance(value, tuple):
        return value[0][-1] if value[0] else -1
    return max((int(p.step) for p in value), default=-1)


def _read(provider, ctx, experiment_id, read, plugin_name, stale, convert, downsample=_ALL):
    """One provider read for every stale (tb_run, series) pair; missing series read as empty.

    ``downsample=1`` reads each series' newest point only (the data provider contract keeps
    the most recent datum whatever the sample size).
    """
    data = read(
        ctx,
        experiment_id=experiment_id,
        plugin_name=plugin_name,
        downsample=downsample,
        run_tag_filter=provider_lib.RunTagFilter(
            sorted({r for r, _ in stale}), sorted({s.tag for _, s in stale})
        ),
    )
    return {(r, s.tag): convert(data.get(r, {}).get(s.tag, [])) for r, s in stale}


def _log_listing(provider, ctx, experiment_id) -> dict[str, list[tuple[str, str, SeriesInfo]]]:
    """run -> [(metric name, tb_run, series)] from the callback's copies and Keras' own runs."""
    listing = provider.list_scalars(ctx, experiment_id=experiment_id, plugin_name="scalars")
    found: dict[str, list] = {}

    def add(run: str, name: str, tb_run: str, tag: str, meta: Any) -> None:
        series = SeriesInfo(tag, "keras_log", "", "", {}, (0, 0), -1, True, *_version(meta))
        found.setdefault(run, []).append((name, tb_run, series))

    for tb_run, tags in listing.items():
        name = run_name(tb_run)
        if name is not None:
            for tag, meta in tags.items():
                if tag.startswith(KERAS_LOG_PREFIX):
                    add(name, tag[len(KERAS_LOG_PREFIX) :], tb_run, tag, meta)
            continue
        parent, _, source = tb_run.rpartition("/")
        if source in _KERAS_SOURCES:
            for tag, meta in tags.items():
                if tag.startswith("epoch_"):
                    add(parent or ".", tag[len("epoch_") :], tb_run, tag, meta)
    return found


def _steps(provider, ctx, experiment_id, index: Index, cache: SeriesCache) -> dict[str, list[int]]:
    """Checkpoint steps per run, from a scalar series that reaches the run's last checkpoint.

    The series come from (and go to) the scalar cache, so a listing whose runs have not moved
    on reads nothing; runs usually share tag names, so a refresh is one read of 20 series.
    """
    chosen: list[tuple[str, str, SeriesInfo]] = []
    for name, info in index.runs.items():
        scalars = [s for s in info.series if s.is_scalar]
        if scalars:
            last = max(s.max_step for s in scalars)
            pick = min(
                (s for s in scalars if s.max_step == last),
                key=lambda s: (s.quantity in PARTIAL, s.tag),
            )
            chosen.append((name, info.tb_run, pick))
    found = cache.read(
        experiment_id,
        [(tb_run, s) for _, tb_run, s in chosen],
        lambda stale: _read(
            provider, ctx, experiment_id, provider.read_scalars, PLUGIN_NAME, stale, _pairs
        ),
    )
    return {name: sorted(set(found[(tb_run, s.tag)][0])) for name, tb_run, s in chosen}


@functools.lru_cache(maxsize=65536)
def _decode(content: bytes):
    # Every request lists every series again; their metadata never changes, so decode once.
    # Returns the SeriesInfo fields quantity, dataset, layer, extra, order and part; the extra
    # dict is shared by every series with this content and must not be mutated.
    axes = decode_content(content)
    if axes is None:
        return None
    extra = {k: axes[k] for k in EXTRA_AXES if k in axes}
    return (
        axes["quantity"],
        axes["dataset"],
        axes["layer"],
        extra,
        decode_order(content),
        decode_part(content),
    )


def _pairs(points: list) -> tuple[list[int], list[float | None]]:
    """(steps, values) in step order (readers bisect the steps)."""
    steps = [int(p.step) for p in points]
    if any(a > b for a, b in itertools.pairwise(steps)):
        points = sorted(points, key=lambda p: p.step)
        steps = [int(p.step) for p in points]
    return steps, [_finite(p.value) for p in points]


def _natural(name: str) -> list:
    """Sort key that puts test2 before test10 (for data written without an order)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


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
