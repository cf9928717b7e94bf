"""What the callback learns about the model before the first epoch.

:func:`bind` selects the layers, resolves feature groups and the gradient plan, runs two rows
of every dataset eagerly through the model (:meth:`keras_inspect.capture.Capture.probe`:
nothing is compiled yet, so binding costs a fraction of Keras' own first compilation), and
decides which quantities apply. Every model-dependent mistake is a
:class:`~keras_inspect.errors.ConfigError` here, before the first batch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_inspect.accumulate import DatasetSummary
from keras_inspect.applicable import (
    capacity_pairs,
    drop_quantities,
    output_layers_left_out,
    rows_of_maps,
    within_gram_budget,
    without_gradient_path,
    without_inputs_or_maps,
)
from keras_inspect.backends import to_numpy
from keras_inspect.batches import take_rows
from keras_inspect.capture import Capture, Probe
from keras_inspect.checkpoint import CheckpointComputer, Record
from keras_inspect.checkpoint_maps import (
    MAP_QUANTITIES,
    SAMPLES,
    MapRecords,
)
from keras_inspect.checkpoint_similarity import (
    SIMILARITY_QUANTITIES,
    SimilarityRecords,
    reference_dataset,
)
from keras_inspect.config import task_for
from keras_inspect.datasets import Sample, frame_columns
from keras_inspect.errors import ConfigError
from keras_inspect.feature_groups import FeatureGroup, resolve_feature_groups
from keras_inspect.gradients import GradientPlan
from keras_inspect.guard import Guard, say_left_out
from keras_inspect.model_checks import probe_forward
from keras_inspect.presets import NEEDS_GRADIENTS
from keras_inspect.recording import default_layers, model_layers

__all__ = ["Binding", "bind", "gradient_plan", "kernel_copy", "model_records", "select_layers"]


_CORRELATIONS = frozenset({"correlation_matrix", "correlation_mean_abs"})
_FEATURES = frozenset({"probe_auc", "probe_r2", "projection", "cka_gram", "cka_previous"})


@dataclass(frozen=True)
class Binding:
    """The callback's view of one model.

    Attributes:
        capture: the passes, compiled at the first checkpoint.
        computer: which quantity is computed from what.
        model_records: records written once, with the first checkpoint.
        kernel_layers: layers whose kernels ``weights_hinton`` draws.
        map_rows: dataset -> first rows of the maps pass (0: no map quantity).
        saliency_samples: rows of the input saliency pass (0: none).
        layer_order: layer name -> position in the model, written with every series.
    """

    capture: Capture
    computer: CheckpointComputer
    model_records: list[Record]
    kernel_layers: list[keras.layers.Layer]
    map_rows: dict[str, int]
    saliency_samples: int
    layer_order: dict[str, int]

    def summarize(self, sample: Sample) -> DatasetSummary:
        """``sample`` through every pass a checkpoint needs (on the training thread)."""
        summary = self.capture.summarize(sample.x)
        rows = self.map_rows.get(sample.name, 0)
        if rows:
            summary.maps = self.capture.maps(sample.x, rows)
        if self.saliency_samples:
            maps, inputs = self.capture.input_saliency(sample.x, self.saliency_samples)
            summary.input_saliency, summary.saliency_inputs = maps, inputs
        return summary


def bind(
    model: keras.Model,
    samples: dict[str, Sample],
    *,
    layer_spec: tuple[str, ...] | None,
    quantities: tuple[str, ...],
    explicit: bool,
    feature_groups: dict[str, Any] | None,
    feature_names: tuple[str, ...] | None = None,
    output: int | str | None,
    layer_pairs: tuple[tuple[str, str], ...] | None,
    seed: int,
    batch_size: int | None,
    guard: Guard,
) -> Binding:
    """Check the datasets against ``model`` and decide what every checkpoint computes.

    Raises:
        ConfigError: the model is not built, a layer name matches nothing, a dataset does not
            fit the model, or a quantity the user listed cannot apply to it.
    """
    if model is None:
        raise ConfigError("the callback has no model; call set_model(model) first.")
    if not model.built:
        raise ConfigError(
            f"model {model.name!r} is not built: its weights do not exist yet, so there is "
            "nothing to inspect. Keras builds a model on its first training batch; a model "
            "still unbuilt at a checkpoint is never called by its train_step. Build it first: "
            "model.build(input_shape), or call it on a batch, e.g. model(x[:1])."
        )
    layers = select_layers(model, layer_spec)
    groups: list[FeatureGroup] = []
    if "feature_saliency" in quantities:
        head = take_rows(next(iter(samples.values())).x, slice(0, 2))
        groups = resolve_feature_groups(
            model, head, feature_groups, feature_names, frame_columns(samples)
        )
        if not groups:
            quantities = drop_quantities(
                quantities,
                {"feature_saliency"},
                explicit,
                f"model {model.name!r} has only integer inputs and no Embedding layer "
                "(name layer outputs in feature_groups={'group': 'layer_name'})",
            )
    plan = gradient_plan(model, quantities, groups)
    capture = Capture(
        model,
        layers,
        output=output,
        batch_size=batch_size,
        plan=plan,
        correlations=bool(set(quantities) & _CORRELATIONS),
        features=bool(set(quantities) & _FEATURES),
        seed=seed,
    )
    probes = [probe_forward(capture, sample) for sample in samples.values()]
    widths = {_output_width(probe) for probe in probes}
    no_path = without_gradient_path(probes[0], groups, explicit and layer_spec is not None)
    pairs: list[tuple[str, str]] = []
    if "channel_capacity" in quantities:
        pairs = capacity_pairs(capture.shapes, layers, layer_pairs, model)
        if not pairs:
            quantities = drop_quantities(
                quantities,
                {"channel_capacity"},
                explicit,
                "fewer than two inspected layers have feature maps (conv or sequence "
                "outputs); name them in layers= or pass layer_pairs=",
            )
    quantities = without_inputs_or_maps(capture, samples, layers, quantities, explicit, model)
    quantities = within_gram_budget(quantities, layers, explicit)
    quantities, map_rows = rows_of_maps(capture, samples, quantities, explicit, model)
    task = task_for(samples, quantities, explicit, widths.pop())
    capture.correlations = bool(set(task.quantities) & _CORRELATIONS)
    capture.features = bool(set(task.quantities) & _FEATURES)
    wanted = set(task.quantities)
    per_sample = MAP_QUANTITIES | {"prediction_probs"}
    outputs = output_layers_left_out(probes[0], task.quantities)
    computer = CheckpointComputer(
        task,
        guard,
        seed=seed,
        groups=[g for g in groups if g.key not in no_path],
        skip_gradients=no_path | outputs,
        output_layers=outputs,
        map_records=MapRecords(task, guard, seed, pairs) if wanted & per_sample else None,
        similarity=(
            SimilarityRecords(wanted, guard, reference_dataset(samples))
            if wanted & SIMILARITY_QUANTITIES
            else None
        ),
    )
    records = model_records(model, capture.shapes)
    records += _correlation_unit_records(capture, layers, wanted)
    return Binding(
        capture=capture,
        computer=computer,
        model_records=records,
        kernel_layers=(
            [layer for layer in layers if kernel_copy(layer) is not None]
            if "weights_hinton" in wanted
            else []
        ),
        map_rows=map_rows if wanted & MAP_QUANTITIES else dict.fromkeys(samples, 0),
        saliency_samples=SAMPLES if plan is not None and plan.saliency_samples else 0,
        layer_order={layer.name: i for i, layer in enumerate(layers)},
    )


def select_layers(model: keras.Model, spec: tuple[str, ...] | None) -> list:
    """The inspected layers: the defaults, or those whose names match ``spec``."""
    candidates = model_layers(model)
    if spec is None:
        chosen = default_layers(model)
        if not chosen:
            raise ConfigError(
                f"model {model.name!r} has no Dense, convolutional or recurrent layer to inspect "
                f"by default; name layers explicitly, e.g. "
                f"layers={[c.name for c in candidates][:3]}."
            )
        return chosen
    names = [layer.name for layer in candidates]
    selected: set[str] = set()
    for item in spec:
        matches = [n for n in names if n == item or re.fullmatch(item, n)]
        if not matches:
            raise ConfigError(
                f"layers entry {item!r} matches no layer of model {model.name!r}; its layers "
                f"are {names}."
            )
        selected.update(matches)
    return [layer for layer in candidates if layer.name in selected]


def gradient_plan(
    model: keras.Model, quantities: Sequence[str], groups: list[FeatureGroup]
) -> GradientPlan | None:
    """What the capture pass differentiates for the gradient quantities asked for."""
    wanted = set(quantities) & NEEDS_GRADIENTS
    if not wanted:
        return None
    if "feature_saliency" not in wanted:
        groups = []
    by_name = {layer.name: layer for layer in model_layers(model)}
    return GradientPlan(
        sources=tuple(dict.fromkeys(group.key for group in groups)),
        source_layers=tuple(dict.fromkeys(by_name[g.source] for g in groups if g.kind == "layer")),
        layer_deltas="filter_importance" in wanted,
        saliency_samples=SAMPLES if "input_saliency" in wanted else 0,
    )


def model_records(model: keras.Model, shapes: dict[str, tuple[int, ...]]) -> list[Record]:
    """``model_layers``: per layer of the model, [position, parameters, *output shape].

    The layer's class name travels in the ``type`` axis. Output shapes come from the model's
    graph, or from the probe pass for an inspected layer of a subclassed model (no batch axis;
    a dimension unknown until called is -1; empty when unknown).
    """
    records = []
    for index, layer in enumerate(model_layers(model)):
        shape: tuple = ()
        try:
            shape = tuple(layer.output.shape[1:])
        except (AttributeError, ValueError):
            shape = tuple(shapes.get(layer.name, ()))
        dims = [-1 if d is None else int(d) for d in shape]
        value = np.array([index, layer.count_params(), *dims], dtype=np.float64)
        records.append(
            Record("model_layers", value, "", layer.name, {"type": type(layer).__name__})
        )
    return records


def kernel_copy(layer: keras.layers.Layer) -> np.ndarray | None:
    """A copy of a Dense or convolution layer's kernel, or None for a layer without one."""
    kernel = getattr(layer, "kernel", None)
    if kernel is None or len(getattr(kernel, "shape", ())) < 2:
        return None
    return np.array(to_numpy(kernel.value))


def _correlation_unit_records(capture: Capture, layers: list, wanted: set[str]) -> list[Record]:
    """``correlation_units`` of each layer correlated over a subset of its units (said once)."""
    if not wanted & _CORRELATIONS:
        return []
    records, wide = [], []
    for layer in layers:
        units = capture.correlation_units.get(layer.name)
        width = capture.shapes[layer.name][-1] if capture.shapes[layer.name] else 1
        if units is not None and len(units) < width:
            records.append(Record("correlation_units", units.astype(np.int32), "", layer.name))
            wide.append(f"{layer.name} ({width})")
    if wide:
        say_left_out(
            f"correlations of layers wider than {len(records[0].value)} units leave out the "
            f"rest: they are taken over a fixed random subset of {len(records[0].value)} units, "
            f"the same at every checkpoint (recorded as 'correlation_units'), so that a matrix "
            f"stays small enough to write and draw: {', '.join(wide)}."
        )
    return records


def _output_width(probe: Probe) -> int:
    """Units of the scored output."""
    return 1 if probe.output.ndim == 1 else int(np.prod(probe.output.shape[1:]))
