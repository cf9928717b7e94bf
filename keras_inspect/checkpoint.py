"""From a checkpoint's dataset summaries to records: which quantity is computed from what.

Framework-free: this module sees :class:`~keras_inspect.accumulate.DatasetSummary` objects
(per-unit moments, gradient sums and per-row features merged from the capture's batches, and
whole feature maps of a few first rows) and returns :class:`Record` objects for
:mod:`keras_inspect.writer`. Quantities of whole feature maps are in
:mod:`keras_inspect.checkpoint_maps`. Each quantity runs under a
:class:`~keras_inspect.guard.Guard`, so one that raises is reported once and skipped while the
others go on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keras_inspect.accumulate import DatasetSummary, LayerSummary
from keras_inspect.datasets import LabelKind, Sample, class_indices
from keras_inspect.errors import DegenerateValue
from keras_inspect.guard import Guard
from keras_inspect.quantities import (
    correlation,
    entropy,
    neurons,
    probes,
    saliency,
    scores,
    weights,
)

__all__ = ["CheckpointComputer", "Record", "Task"]


@dataclass(frozen=True)
class Record:
    """One value to write: a cell (or slice) of the run x step x dataset x layer cube."""

    quantity: str
    value: Any
    dataset: str = ""
    layer: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """What the labels mean for the scored output.

    Attributes:
        kind: a :class:`~keras_inspect.datasets.LabelKind` value for the model as a whole.
        quantities: the quantity names that apply, in cost order.
    """

    kind: str
    quantities: tuple[str, ...]


class CheckpointComputer:
    """Computes every applicable quantity of one checkpoint from the datasets' summaries.

    Probes are fitted on the ``train`` sample and scored on every dataset; the fitted probe of
    each layer is kept as the warm start of the next checkpoint's fit.

    Args:
        task: the label kind and the quantities to compute.
        guard: failure isolation shared with the callback.
        seed: seeds row sub-sampling and the probes.
        groups: the feature groups of ``feature_saliency``
            (:func:`keras_inspect.feature_groups.resolve_feature_groups`).
        skip_gradients: layer names and group sources known to have no gradient path to the
            scored output (reported when the callback was bound): no gradient quantity for them.
        map_records: computes the quantities of whole feature maps
            (:class:`keras_inspect.checkpoint_maps.MapRecords`), or ``None``.
        output_layers: the layers whose output is the scored output: no dead fraction (their
            units are scores, not units that can stop firing).
        similarity: computes CKA and drift across datasets and checkpoints
            (:class:`keras_inspect.checkpoint_similarity.SimilarityRecords`), or ``None``.
    """

    def __init__(
        self,
        task: Task,
        guard: Guard,
        seed: int = 0,
        groups: Sequence[Any] = (),
        skip_gradients: frozenset[str] = frozenset(),
        map_records: Any = None,
        output_layers: frozenset[str] = frozenset(),
        similarity: Any = None,
    ) -> None:
        self.task = task
        self.guard = guard
        self.seed = seed
        self.groups = list(groups)
        self.skip_gradients = frozenset(skip_gradients)
        self.output_layers = frozenset(output_layers)
        self.wanted = frozenset(task.quantities)
        self.map_records = map_records
        self.similarity = similarity
        self._probes: dict[str, Any] = {}

    def dataset_records(self, sample: Sample, summary: DatasetSummary) -> tuple[list[Record], dict]:
        """Records of one dataset, and the probe features it contributes (layer -> (x, y))."""
        records: list[Record] = []
        name = sample.name
        labels = self._labels(sample)
        output, output_labels = summary.output, labels
        finite = neurons.finite_rows(output)
        if not finite.all():
            self._count_nonfinite(records, name, "", int((~finite).sum()), len(finite))
            output = output[finite]
            output_labels = None if labels is None else labels[finite]
        if "model_auc" in self.wanted and output_labels is not None and len(output):
            self._add(
                records, "model_auc", name, "", lambda: scores.model_auc(output, output_labels)
            )
        if "model_score_histogram" in self.wanted and len(output):
            with self.guard.running("model_score_histogram", name):
                hist_labels = output_labels if self.task.kind != LabelKind.CONTINUOUS else None
                for cls, hist in scores.score_histogram(output, hist_labels).items():
                    records.append(Record("model_score_histogram", hist, name, "", {"class": cls}))
        features = {}
        for layer, layer_summary in summary.layers.items():
            if layer_summary.nonfinite:
                self._count_nonfinite(records, name, layer, layer_summary.nonfinite, summary.rows)
            records.extend(self._layer_records(name, layer, layer_summary))
            if (
                self.wanted & {"probe_auc", "probe_r2"}
                and labels is not None
                and layer_summary.features is not None
            ):
                keep = layer_summary.feature_finite
                features[layer] = (layer_summary.features[keep], labels[: len(keep)][keep])
        records.extend(self._gradient_records(name, summary))
        records.extend(self._prediction_records(name, summary, labels))
        if self.map_records is not None:  # its slow ones are computed on a lane of their own
            records.extend(self.map_records.sample_records(sample, summary, labels))
        return records, features

    def probe_records(self, features: dict[str, dict[str, tuple]]) -> list[Record]:
        """Fit one probe per layer on ``train`` features, score it on every dataset."""
        quantity = "probe_r2" if self.task.kind == LabelKind.CONTINUOUS else "probe_auc"
        if quantity not in self.wanted or "train" not in features:
            return []
        records = []
        score = probes.probe_r2 if quantity == "probe_r2" else probes.probe_auc
        for layer, (x_train, y_train) in features["train"].items():
            if len(x_train) < 2:
                continue  # a diverging training: its rows are non-finite (said once)
            probe = None
            with self.guard.running(quantity, "train", layer):
                probe = probes.fit_probe(
                    x_train, y_train, self.task.kind, self._probes.get(layer), seed=self.seed
                )
            if probe is None:
                continue
            self._probes[layer] = probe
            for dataset, by_layer in features.items():
                if layer in by_layer and len(by_layer[layer][0]):
                    x, y = by_layer[layer]
                    self._add(
                        records, quantity, dataset, layer, functools.partial(score, probe, x, y)
                    )
        return records

    def weight_records(self, kernels: dict[str, np.ndarray]) -> list[Record]:
        """weights_hinton of each layer's kernel (dataset-free: weights are the model's)."""
        records: list[Record] = []
        if "weights_hinton" not in self.wanted:
            return records
        for layer, kernel in kernels.items():
            self._add(
                records, "weights_hinton", "", layer, lambda k=kernel: weights.hinton_matrix(k)
            )
        return records

    def labels_of(self, sample: Sample) -> np.ndarray | None:
        """The labels of ``sample`` as the task reads them: class indices, values, or None."""
        return self._labels(sample)

    def _layer_records(self, dataset: str, layer: str, summary: LayerSummary) -> list[Record]:
        records: list[Record] = []
        if summary.samples == 0:
            return records  # every row was non-finite: counted, nothing else to say
        moments = summary.moments
        std = None
        with self.guard.running("neuron_std", dataset, layer):
            std = finite(neurons.neuron_std(moments))
        if "neuron_mean" in self.wanted:
            self._add(records, "neuron_mean", dataset, layer, lambda: neurons.neuron_mean(moments))
        if "neuron_std" in self.wanted and std is not None:
            records.append(Record("neuron_std", std, dataset, layer))
        if "layer_std" in self.wanted and std is not None:
            self._add(records, "layer_std", dataset, layer, lambda: float(np.mean(std)))
        if "dead_fraction" in self.wanted and layer not in self.output_layers:
            self._add(
                records,
                "dead_fraction",
                dataset,
                layer,
                lambda: neurons.dead_fraction(summary.active, summary.samples),
            )
        if summary.units > 1 and summary.correlation is not None and summary.correlation.count:
            with self.guard.running("correlation_matrix", dataset, layer):
                corr = correlation.correlation_matrix(summary.correlation)
                if "correlation_matrix" in self.wanted:
                    records.append(Record("correlation_matrix", corr, dataset, layer))
                if "correlation_mean_abs" in self.wanted:
                    mean_abs = correlation.correlation_mean_abs(corr, summary.correlation.std)
                    if np.isfinite(mean_abs):
                        records.append(Record("correlation_mean_abs", mean_abs, dataset, layer))
        return records

    def _gradient_records(self, dataset: str, summary: DatasetSummary) -> list[Record]:
        """feature_saliency per group, filter_importance per layer, input saliency maps."""
        records: list[Record] = []
        missing = summary.no_gradient
        if "feature_saliency" in self.wanted:
            for group in self.groups:
                with self.guard.running("feature_saliency", dataset, group.name):
                    if group.key in missing:
                        raise saliency.UninformativeGradient(
                            f"the scored output does not depend on {group.kind} {group.source!r}"
                        )
                    value = saliency.feature_saliency(
                        summary.sources[group.key],
                        summary.rows,
                        summary.source_elements.get(group.key, 1),
                        group.columns,
                    )
                    records.append(
                        Record("feature_saliency", value, dataset, "", {"group": group.name})
                    )
        if "filter_importance" in self.wanted:
            for layer, layer_summary in summary.layers.items():
                if layer_summary.units < 2 or layer in self.skip_gradients:
                    continue
                with self.guard.running("filter_importance", dataset, layer):
                    if layer in missing or layer_summary.importance is None:
                        raise saliency.UninformativeGradient(
                            f"layer {layer!r} has no gradient path to the scored model output "
                            "(it feeds another output, or nothing)"
                        )
                    value = saliency.filter_importance(layer_summary.importance, summary.rows)
                    records.append(Record("filter_importance", value, dataset, layer))
        if "input_saliency" in self.wanted:
            inputs = summary.saliency_inputs
            with self.guard.running("input_saliency", dataset, "input"):
                # The rows the maps belong to, as the pseudo-layer "input" of feature_maps,
                # so that the dashboard can draw each map over its input.
                for source, rows in inputs.items():
                    for i, row in enumerate(rows):
                        extra = {"sample": str(i)}
                        if len(inputs) > 1:
                            extra["group"] = source
                        records.append(Record("feature_maps", row, dataset, "input", extra))
            for goal, maps in summary.input_saliency.items():
                layer = "" if goal == "output" else goal
                with self.guard.running("input_saliency", dataset, layer):
                    for source, grads in maps.items():
                        for i, grad in enumerate(grads):
                            extra = {"sample": str(i)}
                            if len(maps) > 1:
                                extra["group"] = source
                            value = saliency.saliency_map(grad)
                            records.append(Record("input_saliency", value, dataset, layer, extra))
        return records

    def _prediction_records(self, dataset: str, summary: DatasetSummary, labels) -> list[Record]:
        """CNNSlicer's confusion matrix and conditional entropies (section 5.2)."""
        records: list[Record] = []
        classifier = self.task.kind in (LabelKind.BINARY, LabelKind.MULTICLASS)
        wanted = self.wanted & {
            "confusion_matrix",
            "entropy_label_given_pred",
            "entropy_pred_given_label",
        }
        if not (classifier and labels is not None and wanted):
            return records
        output = np.asarray(summary.output)
        with self.guard.running("confusion_matrix", dataset):
            binary = output.ndim == 1 or output.shape[-1] == 1
            classes = 2 if binary else output.shape[-1]
            predicted = (output.reshape(len(output)) > 0.5) if binary else output.argmax(-1)
            counts = entropy.confusion_matrix(labels, predicted, classes)
            if "confusion_matrix" in self.wanted:
                records.append(Record("confusion_matrix", counts.astype(np.float32), dataset))
            given_pred, given_label = entropy.conditional_entropies(counts)
            for quantity, values in (
                ("entropy_label_given_pred", given_pred),
                ("entropy_pred_given_label", given_label),
            ):
                if quantity not in self.wanted:
                    continue
                for cls, value in enumerate(values):
                    if np.isfinite(value):  # a class never predicted: a gap, not a value
                        records.append(
                            Record(quantity, float(value), dataset, "", {"class": str(cls)})
                        )
        return records

    def _count_nonfinite(
        self, records: list[Record], dataset: str, layer: str, bad: int, rows: int
    ) -> None:
        records.append(Record("nonfinite_rows", float(bad), dataset, layer))
        where = f"layer {layer!r}" if layer else "the model output"
        self.guard.warn_once(
            ("nonfinite_rows", "", ""),
            f"keras_inspect: {where} has non-finite values (NaN or infinity: a diverging "
            f"training?) on {bad} of {rows} rows of dataset {dataset!r}. Such rows are left "
            "out of every statistic, and quantities without finite rows are skipped; they are "
            "counted as 'nonfinite_rows' per layer and dataset. Later ones are not reported.",
        )

    def _labels(self, sample: Sample) -> np.ndarray | None:
        if sample.y is None or self.task.kind == LabelKind.NONE:
            return None
        if self.task.kind == LabelKind.CONTINUOUS:
            y = sample.y.astype(np.float64)
            return y.reshape(len(y)) if y.ndim > 1 and y.shape[1] == 1 else y
        return class_indices(sample.y)

    def _add(
        self,
        records: list[Record],
        quantity: str,
        dataset: str,
        layer: str,
        compute: Callable[[], Any],
    ) -> None:
        with self.guard.running(quantity, dataset, layer):
            records.append(Record(quantity, finite(compute()), dataset, layer))


def finite(value: Any) -> Any:
    """``value`` if every number in it is finite; else :class:`DegenerateValue` (statistics
    of activations too large to sum: a diverging training)."""
    array = np.asarray(value)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        shown = value if array.ndim == 0 else f"{int((~np.isfinite(array)).sum())} non-finite"
        raise DegenerateValue(
            f"the value is {shown}, not finite: the activations are too large to sum (a "
            "diverging training?)"
        )
    return value
