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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_inspect import backends, layout, reductions
from keras_inspect.accumulate import Accumulator, DatasetSummary
from keras_inspect.batches import batches, row_count, signature_key, take_rows, to_numpy
from keras_inspect.gradients import GradientPlan, objective, source_tap, tapped_inputs
from keras_inspect.recording import Recorded, channels_last, has_fused_activation, recorded_call
from keras_inspect.saliency_pass import InputSaliency

__all__ = ["Capture", "Probe"]


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


class Capture:
    """Runs a model over a dataset's rows in bounded batches and summarises each layer.

    Args:
        model: a built Keras model of any family.
        layers: the layers to inspect (objects from :func:`keras_inspect.recording.model_layers`).
        output: which model output is scored: ``None`` for the first, an index, or a name.
        batch_size: rows per compiled call; ``None`` sizes batches so that the tensors a batch
            records take about :data:`keras_inspect.layout.BATCH_BYTES` (at least one row).
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
        split = {layer.name for layer in self._split}
        # (kind, key, tap key): what the gradient pass differentiates against.
        self._targets: list[tuple[str, str, str]] = []
        if plan is not None:
            self._targets = [("source", key, source_tap(key)) for key in plan.sources]
            if plan.layer_deltas:
                self._targets += [
                    ("delta", layer.name, f"{'pre' if layer.name in split else 'out'}:{layer.name}")
                    for layer in self.layers
                ]
        self._probe: Probe | None = None
        self._plans: dict[str, layout.LayerPlan] = {}
        self._source_elements: dict[str, int] = {}
        self._missing: set[str] = set()
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._output_layers: set[str] = set()
        self._passes: dict[Any, Callable[[Any], Any]] = {}
        self._steps: dict[Any, int] = {}
        self._traces = 0
        # Per input signature (a sequence model may see rows of several lengths): its probe
        # and the layers' subsets for its shapes.
        self._layouts: dict[Any, tuple[Probe, dict[str, layout.LayerPlan]]] = {}
        self._map_passes: dict[Any, Callable[[Any], Any]] = {}
        self._saliency = InputSaliency(model, self.layers, output)

    # Public ----------------------------------------------------------------------------------

    def probe(self, x: Any) -> Probe:
        """Run the first two rows of ``x`` eagerly: shapes, gradient paths, the scored output.

        Nothing is traced or compiled, so this is a cheap first look at a model (errors in the
        model's call surface here, before training). Fixes the layers' correlation subsets and
        the batch size.
        """
        head = take_rows(x, slice(0, 2))
        self._shapes, self._missing, self._output_layers = {}, set(), set()
        self._source_elements, self._plans = {}, {}  # no subsets until the shapes are known
        valid = np.ones(row_count(head), dtype=bool)
        result = self._build(head, probing=True, compiled=False)((head, valid))
        probe = Probe(
            to_numpy(result["output"]),
            dict(self._shapes),
            frozenset(self._missing),
            frozenset(self._output_layers),
        )
        self._plans = {
            name: layout.layer_plan(name, shape, self.seed) for name, shape in probe.shapes.items()
        }
        self._probe = probe
        self._layouts[signature_key(x)] = (probe, self._plans)
        return probe

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Inspected layer name -> output shape of one row, channels last (after a probe)."""
        return dict(self._require_probe().shapes)

    @property
    def correlation_units(self) -> dict[str, np.ndarray]:
        """Layer name -> the units its correlations are taken over (after a probe)."""
        shapes = self._require_probe().shapes
        if not self.correlations:
            return {}
        return {
            name: np.arange(layout.units_of(shapes[name])) if plan.units is None else plan.units
            for name, plan in self._plans.items()
        }

    def batch_rows(self) -> int:
        """Rows per compiled call: ``batch_size``, or :func:`keras_inspect.layout.batch_rows`."""
        if self.batch_size is not None:
            return self.batch_size
        split = {layer.name for layer in self._split}
        deltas = self.plan is not None and self.plan.layer_deltas
        shapes = self._require_probe().shapes
        return layout.batch_rows(
            (shape, 1 + (name in split) + deltas) for name, shape in shapes.items()
        )

    def feature_rows(self, rows: int) -> int:
        """How many first rows keep their per-row features (0 without features)."""
        if not self.features:
            return 0
        return layout.feature_rows(self._require_probe().shapes.values(), rows)

    def map_rows(self, wanted: int) -> int:
        """How many of ``wanted`` first rows the maps pass may hold in its memory budget."""
        return layout.map_rows(self._require_probe().shapes.values(), wanted)

    @property
    def trace_count(self) -> int:
        """How many times the statistics pass's Python code ran outside the probe: its traces
        on a compiling backend (TensorFlow, JAX: one per input signature), its calls on
        PyTorch, which runs eagerly."""
        return self._traces

    def summarize(self, x: Any) -> DatasetSummary:
        """Every row of ``x`` through the statistics pass, batch by batch, merged."""
        key = signature_key(x)
        if key not in self._layouts:
            self.probe(x)
        self._probe, self._plans = self._layouts[key]  # what this signature's pass is built on
        rows = row_count(x)
        if key not in self._passes:
            self._passes[key] = self._build(x, probing=False, compiled=True)
        accumulator = Accumulator(
            self._probe.shapes,
            self.correlation_units,
            self.feature_rows(rows),
            self._source_elements,
        )
        for part, valid, count in batches(x, self._step(key, rows), backends.fixed_rows()):
            accumulator.add(to_numpy(self._passes[key]((part, valid))), count)
        return accumulator.result(self._probe.no_gradient)

    def maps(self, x: Any, rows: int) -> dict[str, np.ndarray]:
        """Full outputs (channels last, float32) of every inspected layer for the first rows."""
        self._require_probe()
        key = signature_key(x)
        if key not in self._map_passes:

            def forward(inputs: Any) -> dict[str, Any]:
                recorded = recorded_call(self.model, self.layers, inputs, self.output)
                return {
                    layer.name: channels_last(layer, recorded.outputs[layer.name])
                    for layer in self.layers
                }

            self._map_passes[key] = backends.compile_function(
                forward, take_rows(x, slice(0, 1)), self.model.variables
            )
        head = take_rows(x, slice(0, min(rows, row_count(x))))
        step = self._step(("maps", key), row_count(head))
        parts = []
        for part, _, count in batches(head, step, backends.fixed_rows()):
            maps = to_numpy(self._map_passes[key](part))
            parts.append({name: values[:count] for name, values in maps.items()})
        return (
            {name: np.concatenate([p[name] for p in parts]) for name in parts[0]} if parts else {}
        )

    def input_saliency(
        self, x: Any, samples: int
    ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """|d goal / d input| of the first ``samples`` rows, per goal and float input.

        Goals: ``"output"`` (the scored objective) and every inspected layer (the sum of its
        output) except those whose output is the scored output; see
        :class:`keras_inspect.saliency_pass.InputSaliency`. Also returns those rows' float
        inputs.
        """
        probe = self._require_probe()
        goals = [layer.name for layer in self.layers if layer.name not in probe.output_layers]
        return self._saliency.run(x, samples, goals, self.batch_rows())

    def _step(self, key: Any, rows: int) -> int:
        """Rows per call of the pass ``key``: :meth:`batch_rows`, but no more than the first
        dataset it ran on has, and then the same for every dataset (on JAX a pass is traced
        once per row count: a shorter last batch is padded, see
        :func:`keras_inspect.batches.batches`)."""
        if key not in self._steps:
            self._steps[key] = max(1, min(self.batch_rows(), rows))
        return self._steps[key]

    # Passes ----------------------------------------------------------------------------------

    def _build(self, example: Any, probing: bool, compiled: bool) -> Callable[[Any], Any]:
        """The statistics pass (with its gradients when planned), compiled or eager.

        Its input is ``(x, valid)``: a batch and the flags of its real rows (see
        :func:`keras_inspect.batches.batches`).
        """
        example = (take_rows(example, slice(0, 1)), np.ones(1, dtype=bool))
        variables = self.model.variables
        if self.plan is None:

            def forward(inputs: Any) -> dict[str, Any]:
                x, valid = inputs
                recorded = recorded_call(self.model, self.layers, x, self.output, self._split)
                if probing:
                    self._note_output_layers(recorded)
                return self._statistics(recorded, valid, probing)

            return backends.compile_function(forward, example, variables, compiled)

        # After the probe, targets without a gradient path are not tapped at all.
        skip = set() if probing else set(self._require_probe().no_gradient)
        wanted = {tap for _, key, tap in self._targets if key not in skip}
        source_taps = {tap: key for kind, key, tap in self._targets if kind == "source"}

        def gradient_forward(inputs: Any, tap: backends.Tap) -> tuple[Any, Any]:
            x, valid = inputs

            def offer(key: str, tensor: Any) -> Any:
                if key not in wanted:
                    return tensor
                tensor = tap(key, tensor)
                if probing and key in source_taps:
                    shape = tuple(tensor.shape)
                    elements = math.prod(shape[1:-1]) if len(shape) > 2 else 1
                    self._source_elements[source_taps[key]] = elements
                return tensor

            x = tapped_inputs(self.model, x, offer)
            recorded = recorded_call(
                self.model, self.layers + self.extra, x, self.output, self._split, offer
            )
            if probing:
                self._note_output_layers(recorded)
            parts = (recorded.output, recorded.outputs, recorded.pre_activations, valid)
            return objective(recorded.output, valid), parts

        def reduce(parts: Any, gradients: dict[str, Any]) -> dict[str, Any]:
            output, outputs, pre_activations, valid = parts
            recorded = Recorded(output, outputs, pre_activations)
            result = self._statistics(recorded, valid, probing)
            for kind, key, tap in self._targets:
                if key in skip:
                    continue
                grad = gradients.get(tap)
                if grad is None:
                    self._missing.add(key)
                elif kind == "source":
                    result["sources"][key] = reductions.abs_sums(grad)
                else:
                    grad = channels_last(self._by_name[key], grad)
                    at = _listed(self._plans[key].positions) if self._plans else None
                    result["layers"][key]["importance"] = reductions.abs_sums(grad, at)
            return result

        return backends.compile_gradient_function(
            gradient_forward, example, reduce, variables, compiled
        )

    def _note_output_layers(self, recorded: Recorded) -> None:
        """Remember the inspected layers whose output is the scored output itself."""
        for layer in self.layers:
            if recorded.outputs[layer.name] is recorded.output:
                self._output_layers.add(layer.name)

    def _statistics(self, recorded: Any, valid: Any, probing: bool) -> dict[str, Any]:
        """Per-batch statistics of every inspected layer (see :mod:`keras_inspect.reductions`)
        over the rows ``valid`` flags."""
        if not probing:
            self._traces += 1
        result: dict[str, Any] = {"output": recorded.output, "layers": {}, "sources": {}}
        for layer in self.layers:
            name = layer.name
            acts = channels_last(layer, recorded.outputs[name])
            if probing:
                self._shapes[name] = tuple(int(d) for d in acts.shape[1:])
            plan = self._plans.get(name)
            at = None if plan is None else _listed(plan.positions)
            stats, means = reductions.unit_statistics(
                acts, at, row_means=self.features and not probing, valid=valid
            )
            if not probing:
                if self.correlations:
                    pre = recorded.pre_activations.get(name)
                    source = acts if pre is None else channels_last(layer, pre)
                    stats["corr"] = reductions.comoments(
                        source,
                        keras.ops.logical_and(stats["finite"], valid),
                        _listed(plan.units),
                        _listed(plan.correlated),
                    )
                if self.features:
                    stats["features"] = reductions.row_features(acts, layout.MAX_FEATURES, means)
            result["layers"][name] = stats
        return result

    def _require_probe(self) -> Probe:
        if self._probe is None:
            raise RuntimeError("call Capture.probe(x) first: the layers' shapes are not known yet")
        return self._probe


def _listed(indices: np.ndarray | None) -> list[int] | None:
    return None if indices is None else [int(i) for i in indices]
