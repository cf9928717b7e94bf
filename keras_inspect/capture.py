"""One dataset through the model in bounded batches, reduced where the activations are.

:class:`Capture` builds the passes a checkpoint needs from :func:`keras_inspect.recording.
recorded_call` and :mod:`keras_inspect.reductions`, has :mod:`keras_inspect.backends` compile
each once per input signature, and runs a dataset's fixed rows through them a batch at a time:

* the **statistics pass** (every checkpoint): per batch, only per-unit moments, active counts,
  the correlation source's cross-moments, per-row pooled features and, with a
  :class:`~keras_inspect.gradients.GradientPlan`, the sums of |gradient| the saliency quantities
  need (one backward pass in the same compiled function). Its results are merged on the host
  (:mod:`keras_inspect.accumulate`); no full activation of more than one batch ever exists.
* the **maps pass** (quantities that need whole feature maps, the ``full`` preset): the full
  outputs of a capped number of first rows.
* the **input saliency pass**: |d goal / d input| of a few rows for the output and every
  inspected layer, as one backward pass over the rows repeated once per goal.

Before any of them, :meth:`Capture.probe` runs two rows eagerly (nothing is traced) to learn
the layers' shapes, which targets have no gradient path, and to size the batches.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_inspect import reductions
from keras_inspect.accumulate import Accumulator, DatasetSummary
from keras_inspect.backends import compile_function, compile_gradient_function
from keras_inspect.gradients import GradientPlan, input_leaves, input_names, objective
from keras_inspect.recording import channels_last, has_fused_activation, recorded_call

__all__ = [
    "BATCH_BYTES",
    "Capture",
    "MAX_CORRELATION_POSITIONS",
    "MAX_CORRELATION_UNITS",
    "MAX_STAT_POSITIONS",
    "Probe",
    "row_count",
    "take_rows",
]

# Recorded tensors of one batch (layer outputs, pre-activations, gradients), from which the
# default batch size follows: a handful of rows of a ResNet50 at 128 x 128, a whole 2,048-row
# sample of a small tabular model.
BATCH_BYTES = 768 * 2**20
# Correlations of a layer wider than this are taken over a fixed random subset of its units
# (the same at every checkpoint, written as ``correlation_units``): 128 x 128 is a readable
# heatmap, 32 KiB as float16, and keeps the matrices of a 50-layer CNN within a few MiB.
MAX_CORRELATION_UNITS = 128
# Moments and correlations of a feature map use a fixed random subset of this many positions
# of each sample (the same at every checkpoint); its minimum, maximum, non-finite values and
# active units use every position. Reading a large map once more per statistic would cost as
# much as the layer itself.
MAX_STAT_POSITIONS = 256
# The correlation cross-product costs positions x units^2 a sample: it uses a smaller fixed
# subset of positions (64 x 128 x 128 multiply-adds a sample and layer; over a 2,048-row
# sample that is still 131,072 rows per unit pair).
MAX_CORRELATION_POSITIONS = 64
# Per-row features (probes, projections): the flattened output up to this width, else the
# mean over positions (one value per unit).
MAX_FEATURES = 1024
# Per-row features are kept for at most this many first rows, and at most FEATURE_BYTES.
FEATURE_ROWS = 2048
FEATURE_BYTES = 128 * 2**20
# Full feature maps of the maps pass: at most this many bytes per dataset.
MAP_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Probe:
    """What two rows run eagerly through the model tell.

    Attributes:
        output: the scored output of those rows, ``(2,)`` or ``(2, K)``.
        shapes: inspected layer name -> output shape of one row, channels last.
        no_gradient: layer names and gradient source keys the scored output does not depend on.
        output_layers: inspected layers whose output is the scored output itself.
    """

    output: np.ndarray
    shapes: dict[str, tuple[int, ...]]
    no_gradient: frozenset[str]
    output_layers: frozenset[str]


@dataclass(frozen=True)
class _LayerPlan:
    """How one layer's statistics are taken: unit and position subsets (None: all)."""

    units: np.ndarray | None
    positions: np.ndarray | None  # of the moments and filter importance
    correlated: np.ndarray | None  # of the correlations: the first of ``positions``


class Capture:
    """Runs a model over a dataset's rows in bounded batches and summarises each layer.

    Args:
        model: a built Keras model of any family.
        layers: the layers to inspect (objects from :func:`keras_inspect.recording.model_layers`).
        output: which model output is scored: ``None`` for the first, an index, or a name.
        batch_size: rows per compiled call; ``None`` sizes batches so that the tensors a batch
            records take about :data:`BATCH_BYTES` (at least one row).
        plan: gradients to take in the statistics pass (``None``: a forward pass only).
        correlations: record the cross-moments of each layer's correlation source.
        features: keep per-row features of the first rows (probes, projections).
        seed: seeds the fixed unit and position subsets of wide layers.

    Example:
        >>> capture = Capture(model, default_layers(model))
        >>> summary = capture.summarize(x_sample)
        >>> summary.layers["dense_1"].moments.mean.shape
        (256,)
    """

    def __init__(
        self,
        model: keras.Model,
        layers: Sequence[keras.layers.Layer],
        output: int | str | None = None,
        batch_size: int | None = None,
        plan: GradientPlan | None = None,
        correlations: bool = True,
        features: bool = True,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.layers = list(layers)
        self.output = output
        self.batch_size = batch_size
        self.plan = plan
        self.correlations = correlations
        self.features = features
        self.seed = seed
        deltas = plan is not None and plan.layer_deltas
        # Layers whose pre-activation is recorded: the correlation source and the gradient
        # target of a layer with a fused activation.
        self._split = [
            layer
            for layer in self.layers
            if has_fused_activation(layer) and (correlations or deltas)
        ]
        # Layers recorded only as gradient sources (an Embedding's output, say).
        self.extra = (
            []
            if plan is None
            else [layer for layer in plan.source_layers if layer not in self.layers]
        )
        self._by_name = {layer.name: layer for layer in self.layers}
        self._targets: list[tuple[str, str]] = []
        if plan is not None:
            self._targets = [("source", key) for key in plan.sources]
            if plan.layer_deltas:
                self._targets += [("delta", layer.name) for layer in self.layers]
        self._probe: Probe | None = None
        self._plans: dict[str, _LayerPlan] = {}
        self._source_elements: dict[str, int] = {}
        self._missing: set[str] = set()
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._output_layers: set[str] = set()
        self._passes: dict[Any, Callable[[Any], Any]] = {}
        self._map_passes: dict[Any, Callable[[Any], Any]] = {}
        self._saliency_passes: dict[Any, Callable[[Any], Any]] = {}
        self._saliency_goals: list[str] = []

    # Public ----------------------------------------------------------------------------------

    def probe(self, x: Any) -> Probe:
        """Run the first two rows of ``x`` eagerly: shapes, gradient paths, the scored output.

        Nothing is traced or compiled, so this is a cheap first look at a model (errors in the
        model's call surface here, before training). Fixes the layers' correlation subsets and
        the batch size.
        """
        head = take_rows(x, slice(0, 2))
        self._shapes, self._missing, self._output_layers = {}, set(), set()
        self._source_elements = {}
        result = self._build(head, probing=True, compiled=False)(head)
        probe = Probe(
            _numpy(result["output"]),
            dict(self._shapes),
            frozenset(self._missing),
            frozenset(self._output_layers),
        )
        self._plans = {name: _plan(name, shape, self.seed) for name, shape in probe.shapes.items()}
        self._probe = probe
        return probe

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Inspected layer name -> output shape of one row, channels last (after a probe)."""
        return dict(self._require_probe().shapes)

    @property
    def correlation_units(self) -> dict[str, np.ndarray]:
        """Layer name -> the units its correlations are taken over (after a probe)."""
        self._require_probe()
        if not self.correlations:
            return {}
        return {
            name: np.arange(_units(self._shapes[name])) if plan.units is None else plan.units
            for name, plan in self._plans.items()
        }

    def batch_rows(self) -> int:
        """Rows per compiled call: ``batch_size``, or as many as :data:`BATCH_BYTES` allows."""
        if self.batch_size is not None:
            return self.batch_size
        shapes = self._require_probe().shapes
        split = {layer.name for layer in self._split}
        deltas = self.plan is not None and self.plan.layer_deltas
        per_row = 0
        for name, shape in shapes.items():
            copies = 1 + (name in split) + deltas
            per_row += 4 * math.prod(shape) * copies
        return max(1, BATCH_BYTES // max(per_row, 1))

    def feature_rows(self, rows: int) -> int:
        """How many first rows keep their per-row features (0 without features)."""
        if not self.features:
            return 0
        per_row = 4 * sum(_feature_width(s) for s in self._require_probe().shapes.values())
        return min(rows, FEATURE_ROWS, max(1, FEATURE_BYTES // max(per_row, 1)))

    def map_rows(self, wanted: int) -> int:
        """How many of ``wanted`` first rows the maps pass may hold within :data:`MAP_BYTES`."""
        per_row = 4 * sum(math.prod(s) for s in self._require_probe().shapes.values())
        return min(wanted, max(1, MAP_BYTES // max(per_row, 1)))

    @property
    def trace_count(self) -> int:
        """How many input signatures the statistics pass was compiled for."""
        return len(self._passes)

    def summarize(self, x: Any) -> DatasetSummary:
        """Every row of ``x`` through the statistics pass, batch by batch, merged."""
        if self._probe is None:
            self.probe(x)
        rows = row_count(x)
        key = _signature_key(x)
        if key not in self._passes:
            self._passes[key] = self._build(x, probing=False, compiled=True)
        step = self.batch_rows()
        accumulator = Accumulator(
            self._probe.shapes,
            self.correlation_units,
            self.feature_rows(rows),
            self._source_elements,
        )
        for start in range(0, rows, step):
            batch = self._passes[key](take_rows(x, slice(start, start + step)))
            accumulator.add(keras.tree.map_structure(_numpy, batch))
        return accumulator.result(self._probe.no_gradient)

    def maps(self, x: Any, rows: int) -> dict[str, np.ndarray]:
        """Full outputs (channels last, float32) of every inspected layer for the first rows."""
        self._require_probe()
        key = _signature_key(x)
        if key not in self._map_passes:

            def forward(inputs: Any) -> dict[str, Any]:
                recorded = recorded_call(self.model, self.layers, inputs, self.output)
                return {
                    layer.name: channels_last(layer, recorded.outputs[layer.name])
                    for layer in self.layers
                }

            self._map_passes[key] = compile_function(forward, take_rows(x, slice(0, 1)))
        step = self.batch_rows()
        rows = min(rows, row_count(x))
        parts = [
            keras.tree.map_structure(
                _numpy, self._map_passes[key](take_rows(x, slice(s, min(s + step, rows))))
            )
            for s in range(0, rows, step)
        ]
        return (
            {name: np.concatenate([p[name] for p in parts]) for name in parts[0]} if parts else {}
        )

    def input_saliency(
        self, x: Any, samples: int
    ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """|d goal / d input| of the first ``samples`` rows, per goal and float input.

        Goals: ``"output"`` (the scored objective) and every inspected layer (the sum of its
        output) except those whose output is the scored output. Each row is repeated once per
        goal and one backward pass takes them all; samples do not interact in inference mode,
        so a repeat's gradient is its own goal's. Also returns those rows' float inputs.
        """
        probe = self._require_probe()
        head = take_rows(x, slice(0, samples))
        count = row_count(head)
        names = input_names(self.model, head)
        floats = [
            n
            for n, leaf in zip(names, input_leaves(head), strict=True)
            if np.issubdtype(np.asarray(leaf).dtype, np.floating)
        ]
        if not floats or count == 0:
            return {}, {}
        goals = ["output"] + [
            layer.name for layer in self.layers if layer.name not in probe.output_layers
        ]
        repeated = keras.tree.map_structure(lambda a: np.concatenate([a] * len(goals)), head)
        goal_ids = np.repeat(np.arange(len(goals), dtype=np.int32), count)
        key = _signature_key(head)
        if key not in self._saliency_passes:
            self._saliency_passes[key] = self._build_saliency(
                (take_rows(head, slice(0, 1)), goal_ids[:1]), goals, floats
            )
        step = self.batch_rows()
        parts = []
        for start in range(0, len(goal_ids), step):
            rows = slice(start, start + step)
            batch = (take_rows(repeated, rows), goal_ids[rows])
            parts.append([_numpy(g) for g in self._saliency_passes[key](batch)])
        grads = [np.concatenate([part[i] for part in parts]) for i in range(len(floats))]
        result: dict[str, dict[str, np.ndarray]] = {}
        for index, goal in enumerate(goals):
            maps = {
                n: g[index * count : (index + 1) * count]
                for n, g in zip(floats, grads, strict=True)
            }
            if len(floats) > 1:  # an input a goal does not depend on has no map for it
                maps = {n: m for n, m in maps.items() if np.any(m)}
            result[goal] = maps
        leaves = dict(zip(names, input_leaves(head), strict=True))
        inputs = {n: np.asarray(leaves[n], np.float32) for n in result["output"]}
        return result, inputs

    # Passes ----------------------------------------------------------------------------------

    def _build(self, example: Any, probing: bool, compiled: bool) -> Callable[[Any], Any]:
        """The statistics pass (with its gradients when planned), compiled or eager."""
        example = take_rows(example, slice(0, 1))
        if self.plan is None:

            def forward(x: Any) -> dict[str, Any]:
                recorded = recorded_call(self.model, self.layers, x, self.output, self._split)
                return self._statistics(recorded, probing)

            return compile_function(forward, example, compiled=compiled)

        def gradient_forward(x: Any) -> tuple[list[Any], Any, list[Any]]:
            recorded = recorded_call(
                self.model, self.layers + self.extra, x, self.output, self._split
            )
            leaves = dict(zip(input_names(self.model, x), input_leaves(x), strict=True))
            targets = []
            for kind, key in self._targets:
                if kind == "source":
                    source, _, name = key.partition(":")
                    targets.append(leaves[name] if source == "input" else recorded.outputs[name])
                else:
                    targets.append(recorded.pre_activations.get(key, recorded.outputs[key]))
            if probing:
                for (kind, key), target in zip(self._targets, targets, strict=True):
                    if kind == "source":
                        shape = tuple(target.shape)
                        self._source_elements[key] = math.prod(shape[1:-1]) if len(shape) > 2 else 1
            return [objective(recorded.output)], recorded, targets

        def reduce(recorded: Any, gradients: list[list[Any]]) -> dict[str, Any]:
            result = self._statistics(recorded, probing)
            for (kind, key), grad in zip(self._targets, gradients[0], strict=True):
                if grad is None:
                    self._missing.add(key)
                elif kind == "source":
                    result["sources"][key] = reductions.abs_sums(grad)
                else:
                    grad = channels_last(self._by_name[key], grad)
                    at = _listed(self._plans[key].positions) if self._plans else None
                    result["layers"][key]["importance"] = reductions.abs_sums(grad, at)
            return result

        return compile_gradient_function(gradient_forward, example, reduce, compiled=compiled)

    def _statistics(self, recorded: Any, probing: bool) -> dict[str, Any]:
        """Per-batch statistics of every inspected layer (see :mod:`keras_inspect.reductions`)."""
        result: dict[str, Any] = {"output": recorded.output, "layers": {}, "sources": {}}
        for layer in self.layers:
            name = layer.name
            acts = channels_last(layer, recorded.outputs[name])
            if probing:
                self._shapes[name] = tuple(int(d) for d in acts.shape[1:])
                if recorded.outputs[name] is recorded.output:
                    self._output_layers.add(name)
            plan = self._plans.get(name)
            at = None if plan is None else _listed(plan.positions)
            stats, means = reductions.unit_statistics(
                acts, at, row_means=self.features and not probing
            )
            if not probing:
                if self.correlations:
                    pre = recorded.pre_activations.get(name)
                    source = acts if pre is None else channels_last(layer, pre)
                    stats["corr"] = reductions.comoments(
                        source, stats["finite"], _listed(plan.units), _listed(plan.correlated)
                    )
                if self.features:
                    stats["features"] = reductions.row_features(acts, MAX_FEATURES, means)
            result["layers"][name] = stats
        return result

    def _build_saliency(
        self, example: Any, goals: list[str], floats: list[str]
    ) -> Callable[[Any], Any]:
        def forward(inputs: Any) -> tuple[list[Any], Any, list[Any]]:
            x, goal = inputs
            recorded = recorded_call(self.model, self.layers, x, self.output)
            scored = reductions.row_objective(recorded.output)
            total = keras.ops.sum(keras.ops.where(goal == 0, scored, keras.ops.zeros_like(scored)))
            for index, name in enumerate(goals[1:], start=1):
                flat = reductions.positions(recorded.outputs[name])
                value = keras.ops.cast(keras.ops.sum(flat, axis=(1, 2)), scored.dtype)
                total = total + keras.ops.sum(
                    keras.ops.where(goal == index, value, keras.ops.zeros_like(value))
                )
            leaves = dict(zip(input_names(self.model, x), input_leaves(x), strict=True))
            targets = [leaves[n] for n in floats]
            return [total], targets, targets

        def reduce(leaves: list[Any], gradients: list[list[Any]]) -> list[Any]:
            return [
                keras.ops.zeros_like(leaf) if grad is None else keras.ops.abs(grad)
                for leaf, grad in zip(leaves, gradients[0], strict=True)
            ]

        return compile_gradient_function(forward, example, reduce)

    def _require_probe(self) -> Probe:
        if self._probe is None:
            raise RuntimeError("call Capture.probe(x) first: the layers' shapes are not known yet")
        return self._probe


def row_count(x: Any) -> int:
    """Rows of ``x`` (an array, or a list or dict of arrays with one row per sample)."""
    return len(keras.tree.flatten(x)[0])


def take_rows(x: Any, rows: slice) -> Any:
    """The rows ``rows`` of every array in ``x``."""
    return keras.tree.map_structure(lambda a: a[rows], x)


def _numpy(tensor: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(tensor))


def _units(shape: tuple[int, ...]) -> int:
    return int(shape[-1]) if shape else 1


def _feature_width(shape: tuple[int, ...]) -> int:
    """Columns of :func:`keras_inspect.reductions.row_features` for one row of ``shape``."""
    units = _units(shape)
    width = math.prod(shape) if shape else 1
    return width if width <= MAX_FEATURES or len(shape) <= 1 else units


def _plan(name: str, shape: tuple[int, ...], seed: int) -> _LayerPlan:
    """The fixed unit and position subsets of one layer (see the module's constants)."""
    positions = _subset(math.prod(shape[:-1]), MAX_STAT_POSITIONS, seed, name, "positions")
    count = math.prod(shape[:-1])
    if count <= MAX_CORRELATION_POSITIONS:
        correlated = None
    else:
        # A random order of the positions kept for the moments, cut: a subset of a subset.
        pool = np.arange(count) if positions is None else positions
        rng = np.random.default_rng([seed, zlib.crc32(f"{name}/correlated".encode())])
        correlated = np.sort(rng.choice(pool, MAX_CORRELATION_POSITIONS, replace=False))
    units = _subset(_units(shape), MAX_CORRELATION_UNITS, seed, name, "units")
    return _LayerPlan(units, positions, correlated)


def _subset(count: int, limit: int, seed: int, name: str, what: str) -> np.ndarray | None:
    """A fixed random subset (sorted) of ``limit`` of ``count`` indices, or None for all.

    Seeded by ``seed``, the layer's name and what is subsetted, so a layer keeps its subset
    from one checkpoint, run or layer selection to the next.
    """
    if count <= limit:
        return None
    rng = np.random.default_rng([seed, zlib.crc32(f"{name}/{what}".encode())])
    return np.sort(rng.choice(count, limit, replace=False))


def _listed(indices: np.ndarray | None) -> list[int] | None:
    return None if indices is None else [int(i) for i in indices]


def _signature_key(x: Any) -> Any:
    leaves = keras.tree.flatten(x)
    structure = keras.tree.map_structure(lambda _: None, x)
    return repr(structure), tuple((np.shape(a)[1:], str(np.asarray(a).dtype)) for a in leaves)
