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
from collections import OrderedDict
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
    "RunInfo",
    "SeriesInfo",
    "TensorCache",
    "build_index",
    "logs_impl",
    "run_name",
    "tb_run_of",
    "runs_impl",
    "scalars_impl",
    "values_impl",
]

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


def tb_run_of(run: str) -> str:
    """The TensorBoard run that holds run ``run``'s data: ``ctr`` -> ``ctr/inspect``."""
    return RUN_SUBDIR if run == "." else f"{run}/{RUN_SUBDIR}"


def build_index(provider: Any, ctx: Any, experiment_id: str, run: str | None = None) -> Index:
    """List the plugin's scalars and tensors and group them by run (metadata only, no values).

    With ``run`` given only that run is listed, which keeps single-run routes fast in a logdir
    of many runs.
    """
    runs: dict[str, RunInfo] = {}
    only = None if run is None else provider_lib.RunTagFilter(runs=[tb_run_of(run)])
    listings = []
    for is_scalar, lister in ((True, provider.list_scalars), (False, provider.list_tensors)):
        listing = lister(
            ctx, experiment_id=experiment_id, plugin_name=PLUGIN_NAME, run_tag_filter=only
        )
        listings.append((is_scalar, listing))
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


def runs_impl(provider: Any, ctx: Any, experiment_id: str) -> dict:
    """The ``/runs`` answer: every run with its steps, datasets, layers and quantities."""
    index = build_index(provider, ctx, experiment_id)
    logs = _log_listing(provider, ctx, experiment_id)
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


def scalars_impl(provider: Any, ctx: Any, experiment_id: str, run: str, quantity: str) -> dict:
    """The ``/scalars`` answer: every series of one scalar quantity of one run."""
    info = build_index(provider, ctx, experiment_id, run).run(run)
    series = [s for s in info.of(quantity) if s.is_scalar]
    if not series:
        raise errors.NotFoundError(f"run {run!r} has no scalar quantity {quantity!r}")
    data = provider.read_scalars(
        ctx,
        experiment_id=experiment_id,
        plugin_name=PLUGIN_NAME,
        downsample=_ALL,
        run_tag_filter=provider_lib.RunTagFilter([info.tb_run], [s.tag for s in series]),
    ).get(info.tb_run, {})
    out = []
    for s in series:
        points = data.get(s.tag, [])
        out.append(
            {
                "dataset": s.dataset,
                "layer": s.layer,
                "extra": s.extra,
                "steps": [int(p.step) for p in points],
                "values": [_finite(p.value) for p in points],
            }
        )
    return {"run": run, "quantity": quantity, "series": out}


def values_impl(
    provider: Any,
    ctx: Any,
    experiment_id: str,
    cache: TensorCache,
    run: str,
    quantity: str,
    step: int,
    dataset: str | None = None,
    layer: str | None = None,
) -> dict:
    """The ``/values`` answer: array cells of one quantity at the latest checkpoint <= step."""
    info = build_index(provider, ctx, experiment_id, run).run(run)
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
    points = cache.read(provider, ctx, experiment_id, info.tb_run, series)
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


def logs_impl(provider: Any, ctx: Any, experiment_id: str, run: str) -> dict:
    """The ``/logs`` answer: Keras' loss and metrics of a run, from every source."""
    listing = _log_listing(provider, ctx, experiment_id, run)
    if run not in listing and run not in build_index(provider, ctx, experiment_id, run).runs:
        raise errors.NotFoundError(f"no keras_inspect run named {run!r}")
    wanted = listing.get(run, [])
    by_tb_run: dict[str, list[str]] = {}
    for _, (tb_run, tag) in wanted:
        by_tb_run.setdefault(tb_run, []).append(tag)
    series = []
    if by_tb_run:
        data = provider.read_scalars(
            ctx,
            experiment_id=experiment_id,
            plugin_name="scalars",
            downsample=_ALL,
            run_tag_filter=provider_lib.RunTagFilter(
                list(by_tb_run), sorted({t for tags in by_tb_run.values() for t in tags})
            ),
        )
        for name, (tb_run, tag) in wanted:
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
    return {"run": run, "series": series}


class TensorCache:
    """Tensor series kept between requests, refreshed when TensorBoard has newer data.

    The data provider cannot read one step of a series, only all of it; a dashboard that
    scrubs through checkpoints asks for the same series again and again. Entries are keyed by
    (experiment, run, tag) and dropped when the series' max step or modification time changes;
    the least recently used go first once the arrays held exceed ``max_bytes``.
    """

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._entries: OrderedDict[tuple, tuple[tuple, list, int]] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, provider, ctx, experiment_id, tb_run, series) -> dict[str, list]:
        """tag -> list of TensorDatum for every series, reading only what is stale."""
        result, stale = {}, []
        with self._lock:
            for s in series:
                key = (experiment_id, tb_run, s.tag)
                hit = self._entries.get(key)
                if hit is not None and hit[0] == (s.max_step, s.last_modified):
                    self._entries.move_to_end(key)
                    result[s.tag] = hit[1]
                else:
                    stale.append(s)
        if stale:
            data = provider.read_tensors(
                ctx,
                experiment_id=experiment_id,
                plugin_name=PLUGIN_NAME,
                downsample=_ALL,
                run_tag_filter=provider_lib.RunTagFilter([tb_run], [s.tag for s in stale]),
            ).get(tb_run, {})
            with self._lock:
                for s in stale:
                    points = data.get(s.tag, [])
                    result[s.tag] = points
                    key = (experiment_id, tb_run, s.tag)
                    size = sum(p.numpy.nbytes for p in points)
                    old = self._entries.pop(key, None)
                    if old is not None:
                        self.nbytes -= old[2]
                    self._entries[key] = ((s.max_step, s.last_modified), points, size)
                    self.nbytes += size
                while self.nbytes > self.max_bytes and len(self._entries) > 1:
                    self.nbytes -= self._entries.popitem(last=False)[1][2]
        return result


def _log_listing(
    provider, ctx, experiment_id, run: str | None = None
) -> dict[str, list[tuple[str, tuple[str, str]]]]:
    """run -> [(metric name, (tb_run, tag))] from the callback's copies and Keras' own runs."""
    only = None
    if run is not None:
        prefix = "" if run == "." else run + "/"
        only = provider_lib.RunTagFilter(
            runs=[tb_run_of(run), *(prefix + source for source in _KERAS_SOURCES)]
        )
    listing = provider.list_scalars(
        ctx, experiment_id=experiment_id, plugin_name="scalars", run_tag_filter=only
    )
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
    """Checkpoint steps per run, read from the scalar series that reaches furthest."""
    chosen = {}
    for name, info in index.runs.items():
        scalars = [s for s in info.series if s.is_scalar]
        if scalars:
            chosen[name] = (info.tb_run, max(scalars, key=lambda s: s.max_step).tag)
    if not chosen:
        return {}
    data = provider.read_scalars(
        ctx,
        experiment_id=experiment_id,
        plugin_name=PLUGIN_NAME,
        downsample=_ALL,
        run_tag_filter=provider_lib.RunTagFilter(
            [r for r, _ in chosen.values()], sorted({t for _, t in chosen.values()})
        ),
    )
    return {
        name: sorted({int(p.step) for p in data.get(tb_run, {}).get(tag, [])})
        for name, (tb_run, tag) in chosen.items()
    }


@functools.lru_cache(maxsize=65536)
def _decode(content: bytes):
    # Every request lists every series again; their metadata never changes, so decode once.
    axes = decode_content(content)
    if axes is None:
        return None
    extra = tuple((k, axes[k]) for k in EXTRA_AXES if k in axes)
    return axes, extra, decode_order(content)


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
