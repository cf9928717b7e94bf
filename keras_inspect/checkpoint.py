"""From captured activations to records: which quantity is computed on what, in what order.

Framework-free: this module sees NumPy arrays from :mod:`keras_inspect.capture` and returns
:class:`Record` objects for :mod:`keras_inspect.writer`. Each quantity runs under a
:class:`Guard`, so one that raises is reported once and skipped while the others go on.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keras_inspect.datasets import LabelKind, Sample, class_indices
from keras_inspect.errors import QuantityError
from keras_inspect.quantities import (
    clusters,
    correlation,
    entropy,
    neurons,
    probes,
    saliency,
    scores,
    weights,
)

__all__ = ["CheckpointComputer", "Guard", "InspectWarning", "Record", "Task"]

# Rows of a conv/recurrent output (samples x positions) above which statistics use a fixed
# random subset: keeps the cost of a checkpoint bounded by layer width, not image size.
MAX_STAT_ROWS = 65_536
# Rows describing each unit for filter clustering (k-means over units x rows): a fixed subset,
# the same at every checkpoint, so that clusters can be matched from one to the next.
MAX_CLUSTER_ROWS = 4_096
# Samples per dataset for the inter-sample entropy (a kNN query over them per layer): a fixed
# subset, the same at every checkpoint.
MAX_ENTROPY_ROWS = 2_048
# Channel capacity compares every pair of samples in every channel pair: the first rows and
# channels only (cost: see quantities.entropy.channel_capacity).
MAX_CAPACITY_SAMPLES = 100
MAX_CAPACITY_CHANNELS = 32
MIN_CAPACITY_ROWS = 3  # fewer samples give at most one distance pair per channel


# feature_maps, prediction_probs and input_saliency: the first rows of each dataset (the
# "samples"); feature maps keep at most this many channels.
SAMPLES = 4
MAX_MAP_CHANNELS = 16


class InspectWarning(UserWarning):
    """A quantity failed or found something worth telling (non-finite activations)."""


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


class Guard:
    """Runs quantities so that a failure is reported once and never stops training.

    Args:
        strict: re-raise failures (for tests) instead of warning and skipping.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.reported: set[tuple[str, str, str]] = set()

    @contextmanager
    def running(self, quantity: str, dataset: str = "", layer: str = "") -> Iterator[None]:
        """Context in which ``quantity`` for (dataset, layer) is computed."""
        try:
            yield
        except Exception as error:
            if self.strict:
                raise QuantityError(
                    f"{quantity} failed for dataset {dataset!r}, layer {layer!r}: {error}"
                ) from error
            self.warn_once(
                (quantity, dataset, layer),
                f"keras_inspect: {quantity} failed for dataset {dataset!r}, layer {layer!r} "
                f"and is skipped ({type(error).__name__}: {error}). Training goes on; further "
                "failures of the same quantity here are not reported.",
            )

    def warn_once(self, key: tuple[str, str, str], message: str) -> None:
        """Emit ``message`` as an :class:`InspectWarning` the first time ``key`` is seen."""
        if key not in self.reported:
            self.reported.add(key)
            warnings.warn(message, InspectWarning, stacklevel=3)


class CheckpointComputer:
    """Computes every applicable quantity of one checkpoint from captured activations.

    Probes are fitted on the ``train`` sample and scored on every dataset; the fitted probe of
    each layer is kept as the warm start of the next checkpoint's fit.

    Args:
        task: the label kind and the quantities to compute.
        guard: failure isolation shared with the callback.
        seed: seeds row sub-sampling and the probes.
        groups: the feature groups of ``feature_saliency``
            (:func:`keras_inspect.gradients.resolve_feature_groups`).
        skip_gradients: layer names and group sources known to have no gradient path to the
            scored output (reported when the callback was bound): no gradient quantity for them.
        layer_pairs: the (earlier, later) layers of ``channel_capacity``.
    """

    def __init__(
        self,
        task: Task,
        guard: Guard,
        seed: int = 0,
        groups: Sequence[Any] = (),
        skip_gradients: frozenset[str] = frozenset(),
        layer_pairs: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.task = task
        self.guard = guard
        self.seed = seed
        self.groups = list(groups)
        self.skip_gradients = frozenset(skip_gradients)
        self.layer_pairs = list(layer_pairs)
        self.wanted = frozenset(task.quantities)
        self._probes: dict[str, Any] = {}
        self._clusters: dict[tuple[str, str], np.ndarray] = {}  # last ids per (dataset, layer)

    def dataset_records(self, sample: Sample, captured: Any) -> tuple[list[Record], dict]:
        """Records of one dataset, and the probe features it contributes (layer -> array)."""
        records: list[Record] = []
        name = sample.name
        labels = self._labels(sample)
        output, output_labels = captured.output, labels
        finite = neurons.finite_rows(output)
        if not finite.all():
            self._count_nonfinite(records, name, "", finite)
            output = output[finite]
            output_labels = None if labels is None else labels[finite]
        if "model_auc" in self.wanted and output_labels is not None:
            self._add(
                records, "model_auc", name, "", lambda: scores.model_auc(output, output_labels)
            )
        if "model_score_histogram" in self.wanted and len(output):
            with self.guard.running("model_score_histogram", name):
                hist_labels = output_labels if self.task.kind != LabelKind.CONTINUOUS else None
                for cls, hist in scores.score_histogram(output, hist_labels).items():
                    records.append(Record("model_score_histogram", hist, name, "", {"class": cls}))
        features = {}
        for layer, acts in captured.activations.items():
            finite = neurons.finite_rows(acts)
            if not finite.all():
                self._count_nonfinite(records, name, layer, finite)
                acts = acts[finite]
            records.extend(self._layer_records(name, layer, acts, captured, finite))
            if self.wanted & {"probe_auc", "probe_r2"} and labels is not None:
                with self.guard.running("probe_features", name, layer):
                    features[layer] = (probes.probe_features(acts), labels[finite])
            # One unit has nothing to rank or group with (a model's output layer, say).
            if "filter_clusters" in self.wanted and len(acts) and _units(acts) > 1:
                with self.guard.running("filter_clusters", name, layer):
                    records.append(self._cluster_record(name, layer, acts))
        records.extend(self._gradient_records(name, captured))
        records.extend(self._information_records(sample, captured, labels))
        records.extend(self._sample_records(sample, captured, labels))
        return records, features

    def probe_records(self, features: dict[str, dict[str, tuple]]) -> list[Record]:
        """Fit one probe per layer on ``train`` features, score it on every dataset."""
        quantity = "probe_r2" if self.task.kind == LabelKind.CONTINUOUS else "probe_auc"
        if quantity not in self.wanted or "train" not in features:
            return []
        records = []
        score = probes.probe_r2 if quantity == "probe_r2" else probes.probe_auc
        for layer, (x_train, y_train) in features["train"].items():
            probe = None
            with self.guard.running(quantity, "train", layer):
                probe = probes.fit_probe(
                    x_train, y_train, self.task.kind, self._probes.get(layer), seed=self.seed
                )
            if probe is None:
                continue
            self._probes[layer] = probe
            for dataset, by_layer in features.items():
                if layer in by_layer:
                    x, y = by_layer[layer]
                    self._add(
                        records, quantity, dataset, layer, functools.partial(score, probe, x, y)
                    )
        return records

    def _sample_records(self, sample: Sample, captured: Any, labels) -> list[Record]:
        """feature_maps and prediction_probs of the dataset's first few rows (the samples).

        The samples are the rows input_saliency draws over: the first ``SAMPLES`` of the
        dataset's fixed rows, the same at every checkpoint. A classifier's prediction_probs is
        its output per class, with the true class in the ``class`` axis; a regressor's with
        labels is (2, outputs): the prediction, then the true target.
        """
        records: list[Record] = []
        name = sample.name
        count = min(SAMPLES, len(captured.output))
        if "feature_maps" in self.wanted:
            for layer, acts in captured.activations.items():
                with self.guard.running("feature_maps", name, layer):
                    maps = np.asarray(acts)[:count]
                    if maps.ndim >= 3:
                        maps = maps[..., :MAX_MAP_CHANNELS]
                    for i in range(count):
                        extra = {"sample": str(i)}
                        records.append(Record("feature_maps", maps[i], name, layer, extra))
            # The samples themselves (pseudo-layer "input"), unless input_saliency writes them.
            inputs = _float_inputs(sample.x, flat=False)
            if "input_saliency" not in self.wanted and inputs is not None:
                with self.guard.running("feature_maps", name, "input"):
                    for i in range(min(count, len(inputs))):
                        extra = {"sample": str(i)}
                        records.append(Record("feature_maps", inputs[i], name, "input", extra))
        if "prediction_probs" in self.wanted:
            with self.guard.running("prediction_probs", name):
                output = np.asarray(captured.output, dtype=np.float64)[:count]
                output = output.reshape(count, -1)
                if self.task.kind == LabelKind.BINARY and output.shape[1] == 1:
                    output = np.column_stack([1 - output[:, 0], output[:, 0]])  # P(0), P(1)
                classifier = self.task.kind in (LabelKind.BINARY, LabelKind.MULTICLASS)
                truth = _true_targets(labels, count, output.shape[1], self.task.kind)
                for i in range(count):
                    extra = {"sample": str(i)}
                    if classifier and labels is not None and i < len(labels):
                        extra["class"] = str(int(labels[i]))  # the sample's true class
                    value = output[i] if truth is None else np.stack([output[i], truth[i]])
                    value = value.astype(np.float32)
                    records.append(Record("prediction_probs", value, name, "", extra))
        return records

    def _layer_records(self, dataset, layer, acts, captured, finite) -> list[Record]:
        records: list[Record] = []
        if len(acts) == 0:
            return records
        rows = neurons.unit_rows(acts, max_rows=MAX_STAT_ROWS, seed=self.seed)
        std = None
        with self.guard.running("neuron_std", dataset, layer):
            std = neurons.neuron_std(rows)
        if "neuron_mean" in self.wanted:
            self._add(records, "neuron_mean", dataset, layer, lambda: neurons.neuron_mean(rows))
        if "neuron_std" in self.wanted and std is not None:
            records.append(Record("neuron_std", std, dataset, layer))
        if "layer_std" in self.wanted and std is not None:
            self._add(records, "layer_std", dataset, layer, lambda: float(np.mean(std)))
        if "dead_fraction" in self.wanted:
            self._add(records, "dead_fraction", dataset, layer, lambda: neurons.dead_fraction(acts))
        if self.wanted & {"correlation_matrix", "correlation_mean_abs"}:
            source = captured.pre_activations.get(layer)
            if source is not None:
                source = neurons.unit_rows(source[finite], max_rows=MAX_STAT_ROWS, seed=self.seed)
            else:
                source = rows
            with self.guard.running("correlation_matrix", dataset, layer):
                corr = correlation.correlation_matrix(source)
                if "correlation_matrix" in self.wanted:
                    records.append(Record("correlation_matrix", corr, dataset, layer))
                if "correlation_mean_abs" in self.wanted:
                    mean_abs = correlation.correlation_mean_abs(corr, neurons.neuron_std(source))
                    if np.isfinite(mean_abs):
                        records.append(Record("correlation_mean_abs", mean_abs, dataset, layer))
        return records

    def _cluster_record(self, dataset: str, layer: str, acts: np.ndarray) -> Record:
        rows = neurons.unit_rows(acts, max_rows=MAX_CLUSTER_ROWS, seed=self.seed)
        key = (dataset, layer)
        ids = clusters.unit_clusters(rows, self._clusters.get(key), seed=self.seed)
        self._clusters[key] = ids
        return Record("filter_clusters", ids, dataset, layer)

    def _information_records(self, sample: Sample, captured: Any, labels) -> list[Record]:
        """CNNSlicer's entropies and the confusion matrix (see quantities.entropy)."""
        records: list[Record] = []
        name = sample.name
        classifier = self.task.kind in (LabelKind.BINARY, LabelKind.MULTICLASS)
        output = np.asarray(captured.output)
        if (
            classifier
            and labels is not None
            and self.wanted
            & {
                "confusion_matrix",
                "entropy_label_given_pred",
                "entropy_pred_given_label",
            }
        ):
            with self.guard.running("confusion_matrix", name):
                binary = output.ndim == 1 or output.shape[-1] == 1
                classes = 2 if binary else output.shape[-1]
                predicted = (output.reshape(len(output)) > 0.5) if binary else output.argmax(-1)
                counts = entropy.confusion_matrix(labels, predicted, classes)
                if "confusion_matrix" in self.wanted:
                    records.append(Record("confusion_matrix", counts.astype(np.float32), name))
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
                                Record(quantity, float(value), name, "", {"class": str(cls)})
                            )
        if "entropy_intra" in self.wanted:
            for layer, acts in captured.activations.items():
                if np.ndim(acts) < 3:
                    continue  # one value per unit and sample: no map to take a histogram of
                with self.guard.running("entropy_intra", name, layer):
                    per_sample = entropy.intra_sample_entropy(acts)
                    groups = {"all": np.ones(len(per_sample), bool)}
                    if classifier and labels is not None and len(labels) == len(per_sample):
                        for cls in np.unique(labels):
                            groups[str(int(cls))] = labels == cls
                    for cls, rows in groups.items():
                        value = per_sample[rows].mean(axis=0).astype(np.float32)
                        records.append(Record("entropy_intra", value, name, layer, {"class": cls}))
        # Too few rows for k neighbours or for distance pairs: said when the callback was made.
        if "entropy_inter" in self.wanted and len(captured.output) > entropy.DEFAULT_K:
            rows = _entropy_rows(len(captured.output), self.seed)
            inputs = _float_inputs(sample.x)
            sources = {"input": inputs} if inputs is not None else {}
            sources.update(captured.activations)
            for layer, acts in sources.items():
                with self.guard.running("entropy_inter", name, layer):
                    value = entropy.inter_sample_entropy(np.asarray(acts)[rows])
                    records.append(Record("entropy_inter", value, name, layer))
        if "channel_capacity" in self.wanted and len(captured.output) >= MIN_CAPACITY_ROWS:
            for a, b in self.layer_pairs:
                with self.guard.running("channel_capacity", name, f"{a}->{b}"):
                    first = captured.activations[a][
                        :MAX_CAPACITY_SAMPLES, ..., :MAX_CAPACITY_CHANNELS
                    ]
                    second = captured.activations[b][
                        :MAX_CAPACITY_SAMPLES, ..., :MAX_CAPACITY_CHANNELS
                    ]
                    value = entropy.channel_capacity(first, second).astype(np.float32)
                    records.append(
                        Record("channel_capacity", value, name, "", {"pair": f"{a}->{b}"})
                    )
        return records

    def _gradient_records(self, dataset: str, captured: Any) -> list[Record]:
        """feature_saliency per group, filter_importance per layer, input saliency maps."""
        records: list[Record] = []
        missing = getattr(captured, "no_gradient", frozenset())
        if "feature_saliency" in self.wanted:
            for group in self.groups:
                with self.guard.running("feature_saliency", dataset, group.name):
                    if group.key in missing:
                        raise saliency.UninformativeGradient(
                            f"the scored output does not depend on {group.kind} {group.source!r}"
                        )
                    grad = captured.source_gradients[group.key]
                    value = saliency.feature_saliency(grad, group.columns)
                    records.append(
                        Record("feature_saliency", value, dataset, "", {"group": group.name})
                    )
        if "filter_importance" in self.wanted:
            for layer, acts in captured.activations.items():
                if _units(acts) < 2 or layer in self.skip_gradients:
                    continue
                with self.guard.running("filter_importance", dataset, layer):
                    if layer in missing:
                        raise saliency.UninformativeGradient(
                            f"layer {layer!r} has no gradient path to the scored model output "
                            "(it feeds another output, or nothing)"
                        )
                    value = saliency.filter_importance(captured.deltas[layer])
                    records.append(Record("filter_importance", value, dataset, layer))
        if "input_saliency" in self.wanted:
            inputs = getattr(captured, "saliency_inputs", {})
            with self.guard.running("input_saliency", dataset, "input"):
                # The rows the maps belong to, as the pseudo-layer "input" of feature_maps,
                # so that the dashboard can draw each map over its input.
                for source, rows in inputs.items():
                    for i, row in enumerate(rows):
                        extra = {"sample": str(i)}
                        if len(inputs) > 1:
                            extra["group"] = source
                        records.append(Record("feature_maps", row, dataset, "input", extra))
            for goal, maps in getattr(captured, "input_saliency", {}).items():
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

    def _count_nonfinite(
        self, records: list[Record], dataset: str, layer: str, finite: np.ndarray
    ) -> None:
        bad = int((~finite).sum())
        records.append(Record("nonfinite_rows", float(bad), dataset, layer))
        where = f"layer {layer!r}" if layer else "the model output"
        self.guard.warn_once(
            ("nonfinite_rows", dataset, layer),
            f"keras_inspect: {where} has non-finite values on {bad} of {len(finite)} rows of "
            f"dataset {dataset!r}; those rows are left out of its statistics and counted as "
            "'nonfinite_rows'.",
        )

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
            value = compute()
            if np.ndim(value) == 0 and not np.isfinite(value):
                raise ValueError(f"the value is {value}, not a finite number")
            records.append(Record(quantity, value, dataset, layer))


def _units(acts: np.ndarray) -> int:
    """Units (channels) of a layer's output: its last axis, 1 for a (samples,) output."""
    return 1 if np.ndim(acts) < 2 else int(np.shape(acts)[-1])


def _entropy_rows(count: int, seed: int) -> np.ndarray:
    """The fixed rows (sorted) of a dataset used for the inter-sample entropy."""
    if count <= MAX_ENTROPY_ROWS:
        return np.arange(count)
    chosen = np.random.default_rng(seed).choice(count, MAX_ENTROPY_ROWS, replace=False)
    return np.sort(chosen)


def _float_inputs(x: Any, flat: bool = True) -> np.ndarray | None:
    """The model input of each row as one flat float vector (float inputs only), or None.

    With ``flat=False``: the rows of a model's only float input as they are (an image stays
    (H, W, C)), or None when the model has no float input or several.
    """
    leaves = list(x.values()) if isinstance(x, dict) else list(x) if isinstance(x, list) else [x]
    floats = [np.asarray(a) for a in leaves if np.issubdtype(np.asarray(a).dtype, np.floating)]
    if not floats:
        return None
    if not flat:
        return floats[0] if len(floats) == 1 else None
    return np.concatenate([a.reshape(len(a), -1) for a in floats], axis=1)


def _true_targets(labels: Any, count: int, outputs: int, kind: str) -> np.ndarray | None:
    """A regressor's true targets of the first ``count`` rows as (count, outputs), or None
    (not a regressor, no labels, or targets that do not match the output's width)."""
    if kind != LabelKind.CONTINUOUS or labels is None or len(labels) < count:
        return None
    truth = np.asarray(labels, dtype=np.float64)[:count].reshape(count, -1)
    return truth if truth.shape[1] == outputs else None
