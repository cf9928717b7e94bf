"""Quantities of whole feature maps and of single samples, from each dataset's first rows.

CNNSlicer's entropies and channel capacity, TSViz's filter clusters and the interactive CNN
visualisation's feature maps and prediction probabilities need every position of a layer's
output row by row, which the statistics pass never keeps. They are computed from the maps pass
of :class:`keras_inspect.capture.Capture`: the full outputs of the first rows of each dataset,
as many as :func:`rows_wanted` asks for and the capture's memory budget allows (all rows of a
small model's sample, a few dozen of a ResNet's). The dataset's rows are a fixed random draw,
so the first rows are a fixed random subset too, the same at every checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_inspect.accumulate import DatasetSummary
from keras_inspect.checkpoint import Record, Task
from keras_inspect.datasets import LabelKind, Sample, take
from keras_inspect.guard import Guard
from keras_inspect.quantities import clusters, entropy, neurons

__all__ = [
    "MAP_QUANTITIES",
    "MAX_CAPACITY_CHANNELS",
    "MAX_CAPACITY_SAMPLES",
    "MAX_ENTROPY_ROWS",
    "MIN_CAPACITY_ROWS",
    "MapRecords",
    "SAMPLES",
    "SLOW_QUANTITIES",
    "float_inputs",
    "rows_wanted",
]

# Quantities computed from whole feature maps (the maps pass).
MAP_QUANTITIES = frozenset(
    {"entropy_intra", "entropy_inter", "channel_capacity", "filter_clusters", "feature_maps"}
)
# Those of them that cost seconds on a deep network (a kNN query, a k-means, a histogram of
# every sample pair per layer): computed on a slow lane of their own, never holding training.
SLOW_QUANTITIES = frozenset(
    {"entropy_intra", "entropy_inter", "channel_capacity", "filter_clusters"}
)
# Rows describing each unit for filter clustering (k-means over units x rows): a fixed subset
# of the maps' (sample, position) rows, the same at every checkpoint, so that clusters can be
# matched from one to the next.
MAX_CLUSTER_ROWS = 4_096
# Samples of the inter-sample entropy (a kNN query over them per layer), the intra-sample
# entropy's class averages and the clusters.
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


def rows_wanted(quantities: Sequence[str]) -> int:
    """How many first rows of a dataset the map quantities among ``quantities`` use (0: none)."""
    wanted = set(quantities)
    rows = 0
    if wanted & {"entropy_intra", "entropy_inter", "filter_clusters"}:
        rows = MAX_ENTROPY_ROWS
    if "channel_capacity" in wanted:
        rows = max(rows, MAX_CAPACITY_SAMPLES)
    if "feature_maps" in wanted:
        rows = max(rows, SAMPLES)
    return rows


class MapRecords:
    """Records of the map quantities and of the first samples for one run.

    Args:
        task: the label kind and the quantities to compute.
        guard: failure isolation shared with the callback.
        seed: seeds the clusters' row subset and k-means.
        layer_pairs: the (earlier, later) layers of ``channel_capacity``.
    """

    def __init__(
        self,
        task: Task,
        guard: Guard,
        seed: int = 0,
        layer_pairs: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.task = task
        self.guard = guard
        self.seed = seed
        self.layer_pairs = list(layer_pairs)
        self.wanted = frozenset(task.quantities)
        self._clusters: dict[tuple[str, str], np.ndarray] = {}  # last ids per (dataset, layer)

    @property
    def slow(self) -> bool:
        """Whether any of :data:`SLOW_QUANTITIES` is wanted."""
        return bool(self.wanted & SLOW_QUANTITIES)

    def slow_records(self, sample: Sample, summary: DatasetSummary, labels: Any) -> list[Record]:
        """Entropies, clusters and channel capacities of one dataset (the slow ones).

        A layer whose maps hold a non-finite value (a diverging training) is left out of them
        at this checkpoint without a word: ``nonfinite_rows`` counts it and was said once.
        """
        finite = {layer: m for layer, m in summary.maps.items() if np.isfinite(m).all()}
        if len(finite) < len(summary.maps):
            summary = dataclasses.replace(summary, maps=finite)
        records: list[Record] = []
        records.extend(self._cluster_records(sample.name, summary))
        records.extend(self._entropy_records(sample, summary, labels))
        return records

    def sample_records(self, sample: Sample, summary: DatasetSummary, labels: Any) -> list[Record]:
        """feature_maps and prediction_probs of one dataset's first rows (milliseconds)."""
        return self._sample_records(sample, summary, labels)

    def _cluster_records(self, dataset: str, summary: DatasetSummary) -> list[Record]:
        records: list[Record] = []
        if "filter_clusters" not in self.wanted:
            return records
        for layer, maps in summary.maps.items():
            # One unit has nothing to group with (a model's output layer, say).
            if summary.layers[layer].units < 2:
                continue
            with self.guard.running("filter_clusters", dataset, layer):
                finite = maps[neurons.finite_rows(maps)] if len(maps) else maps
                rows = neurons.unit_rows(finite, max_rows=MAX_CLUSTER_ROWS, seed=self.seed)
                key = (dataset, layer)
                ids = clusters.unit_clusters(rows, self._clusters.get(key), seed=self.seed)
                self._clusters[key] = ids
                records.append(Record("filter_clusters", ids, dataset, layer))
        return records

    def _entropy_records(self, sample: Sample, summary: DatasetSummary, labels) -> list[Record]:
        """CNNSlicer's intra- and inter-sample entropies and channel capacity."""
        records: list[Record] = []
        name = sample.name
        classifier = self.task.kind in (LabelKind.BINARY, LabelKind.MULTICLASS)
        if "entropy_intra" in self.wanted:
            for layer, maps in summary.maps.items():
                if maps.ndim < 3:
                    continue  # one value per unit and sample: no map to take a histogram of
                with self.guard.running("entropy_intra", name, layer):
                    per_sample = entropy.intra_sample_entropy(maps)
                    groups = {"all": np.ones(len(per_sample), bool)}
                    if classifier and labels is not None:
                        kept = labels[: len(per_sample)]
                        for cls in np.unique(kept):
                            groups[str(int(cls))] = kept == cls
                    for cls, rows in groups.items():
                        value = per_sample[rows].mean(axis=0).astype(np.float32)
                        records.append(Record("entropy_intra", value, name, layer, {"class": cls}))
        count = min((len(m) for m in summary.maps.values()), default=0)
        # Too few rows for k neighbours or for distance pairs: said when the callback was made.
        if "entropy_inter" in self.wanted and count > entropy.DEFAULT_K:
            inputs = float_inputs(take(sample.x, slice(0, count)))
            sources = {"input": inputs} if inputs is not None else {}
            sources.update(summary.maps)
            for layer, maps in sources.items():
                with self.guard.running("entropy_inter", name, layer):
                    value = entropy.inter_sample_entropy(np.asarray(maps)[:MAX_ENTROPY_ROWS])
                    records.append(Record("entropy_inter", value, name, layer))
        if "channel_capacity" in self.wanted and count >= MIN_CAPACITY_ROWS:
            for a, b in self.layer_pairs:
                if a not in summary.maps or b not in summary.maps:
                    continue  # non-finite maps
                with self.guard.running("channel_capacity", name, f"{a}->{b}"):
                    first = summary.maps[a][:MAX_CAPACITY_SAMPLES, ..., :MAX_CAPACITY_CHANNELS]
                    second = summary.maps[b][:MAX_CAPACITY_SAMPLES, ..., :MAX_CAPACITY_CHANNELS]
                    value = entropy.channel_capacity(first, second).astype(np.float32)
                    records.append(
                        Record("channel_capacity", value, name, "", {"pair": f"{a}->{b}"})
                    )
        return records

    def _sample_records(self, sample: Sample, summary: DatasetSummary, labels) -> list[Record]:
        """feature_maps and prediction_probs of the dataset's first few rows (the samples).

        The samples are the rows input_saliency draws over: the first ``SAMPLES`` of the
        dataset's fixed rows, the same at every checkpoint. A classifier's prediction_probs is
        its output per class, with the true class in the ``class`` axis; a regressor's with
        labels is (2, outputs): the prediction, then the true target.
        """
        records: list[Record] = []
        name = sample.name
        count = min(SAMPLES, len(summary.output))
        if "feature_maps" in self.wanted:
            for layer, acts in summary.maps.items():
                with self.guard.running("feature_maps", name, layer):
                    maps = np.asarray(acts)[:count]
                    if maps.ndim >= 3:
                        maps = maps[..., :MAX_MAP_CHANNELS]
                    for i in range(len(maps)):
                        if not np.isfinite(maps[i]).all():
                            continue  # counted in nonfinite_rows; there is nothing to draw
                        extra = {"sample": str(i)}
                        records.append(Record("feature_maps", maps[i], name, layer, extra))
            # The samples themselves (pseudo-layer "input"), unless input_saliency writes them.
            inputs = float_inputs(sample.x, flat=False)
            if "input_saliency" not in self.wanted and inputs is not None:
                with self.guard.running("feature_maps", name, "input"):
                    for i in range(min(count, len(inputs))):
                        extra = {"sample": str(i)}
                        records.append(Record("feature_maps", inputs[i], name, "input", extra))
        if "prediction_probs" in self.wanted:
            with self.guard.running("prediction_probs", name):
                output = np.asarray(summary.output, dtype=np.float64)[:count]
                output = output.reshape(count, -1)
                if self.task.kind == LabelKind.BINARY and output.shape[1] == 1:
                    output = np.column_stack([1 - output[:, 0], output[:, 0]])  # P(0), P(1)
                classifier = self.task.kind in (LabelKind.BINARY, LabelKind.MULTICLASS)
                truth = true_targets(labels, count, output.shape[1], self.task.kind)
                for i in range(count):
                    if not np.isfinite(output[i]).all():
                        continue  # counted in nonfinite_rows
                    extra = {"sample": str(i)}
                    if classifier and labels is not None and i < len(labels):
                        extra["class"] = str(int(labels[i]))  # the sample's true class
                    value = output[i] if truth is None else np.stack([output[i], truth[i]])
                    value = value.astype(np.float32)
                    records.append(Record("prediction_probs", value, name, "", extra))
        return records


def float_inputs(x: Any, flat: bool = True) -> np.ndarray | None:
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


def true_targets(labels: Any, count: int, outputs: int, kind: str) -> np.ndarray | None:
    """A regressor's true targets of the first ``count`` rows as (count, outputs), or None
    (not a regressor, no labels, or targets that do not match the output's width)."""
    if kind != LabelKind.CONTINUOUS or labels is None or len(labels) < count:
        return None
    truth = np.asarray(labels, dtype=np.float64)[:count].reshape(count, -1)
    return truth if truth.shape[1] == outputs else None
