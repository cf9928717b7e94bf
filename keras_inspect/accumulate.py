"""Merge the capture pass's per-batch statistics on the host, in float64.

:class:`Accumulator` takes what the compiled pass returns for each batch (see
:mod:`keras_inspect.reductions`) as NumPy arrays and keeps only what the quantities need: the
moments of each layer's units (merged exactly, :func:`keras_inspect.quantities.moments.merge`),
active-sample counts, gradient sums, per-row features of a capped number of rows, and the
scored output of every row. Its memory does not depend on the number of rows, except for the
scored output (one value per row and class) and the features' fixed row cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keras_inspect.quantities.moments import Moments, merge

__all__ = ["Accumulator", "DatasetSummary", "LayerSummary"]


@dataclass
class LayerSummary:
    """Everything recorded of one layer on one dataset.

    Attributes:
        shape: the output shape of one row, channels last.
        moments: per-unit moments over finite samples and all their positions.
        active: per unit, the finite samples on which it is active (dead units).
        samples: finite samples.
        nonfinite: samples whose output had a NaN or infinity (left out of every statistic).
        correlation: cross-moments of the correlation source (pre-activations of a fused
            layer, else the output) over ``correlation_units``, or ``None`` if not recorded.
        correlation_units: the units of ``correlation`` (all of them, or a fixed subset of a
            wide layer).
        features: per-row features (:func:`keras_inspect.reductions.row_features`) of the first
            rows, or ``None``.
        feature_finite: which of those rows are finite in this layer.
        importance: per unit, sum over samples and positions of |d objective / d
            pre-activation|, or ``None``.
    """

    shape: tuple[int, ...]
    moments: Moments
    active: np.ndarray
    samples: float = 0.0
    nonfinite: int = 0
    correlation: Moments | None = None
    correlation_units: np.ndarray | None = None
    features: np.ndarray | None = None
    feature_finite: np.ndarray | None = None
    importance: np.ndarray | None = None

    @property
    def units(self) -> int:
        """Units (channels) of the output: its last axis, 1 for a one-number row."""
        return int(self.shape[-1]) if self.shape else 1


@dataclass
class DatasetSummary:
    """One dataset's pass through the model at one checkpoint.

    Attributes:
        rows: samples passed.
        output: the scored output of every row, ``(rows,)`` for one unit or ``(rows, K)``.
        layers: layer name -> :class:`LayerSummary`, in inspection order.
        sources: gradient source key -> sums of |d objective / d source| per last-axis entry.
        source_elements: source key -> entries per sample behind each of those sums.
        no_gradient: layer names and source keys the objective does not depend on.
        maps: layer name -> full outputs (channels last) of the first rows, for the quantities
            that need whole feature maps (empty unless asked for).
        input_saliency: goal (``"output"`` or a layer name) -> input name -> |d goal / d input|
            of the first few rows.
        saliency_inputs: input name -> those rows' values.
    """

    rows: int
    output: np.ndarray
    layers: dict[str, LayerSummary]
    sources: dict[str, np.ndarray] = field(default_factory=dict)
    source_elements: dict[str, int] = field(default_factory=dict)
    no_gradient: frozenset[str] = frozenset()
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    input_saliency: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    saliency_inputs: dict[str, np.ndarray] = field(default_factory=dict)


class Accumulator:
    """Merges batches of the capture pass into a :class:`DatasetSummary`.

    Args:
        shapes: layer name -> output shape of one row (channels last), in inspection order.
        correlation_units: layer name -> unit indices of its correlation subset (layers whose
            correlations are recorded).
        feature_rows: how many first rows keep their per-row features.
        source_elements: gradient source key -> entries per sample behind each column sum.
    """

    def __init__(
        self,
        shapes: dict[str, tuple[int, ...]],
        correlation_units: dict[str, np.ndarray],
        feature_rows: int,
        source_elements: dict[str, int],
    ) -> None:
        self._feature_rows = feature_rows
        self._source_elements = dict(source_elements)
        self._rows = 0
        self._outputs: list[np.ndarray] = []
        self._sources: dict[str, np.ndarray] = {}
        self._features: dict[str, list[np.ndarray]] = {}
        self._finite: dict[str, list[np.ndarray]] = {}
        self._layers = {}
        for name, shape in shapes.items():
            units = int(shape[-1]) if shape else 1
            units_kept = correlation_units.get(name)
            self._layers[name] = LayerSummary(
                shape=tuple(shape),
                moments=Moments.empty(units),
                active=np.zeros(units),
                correlation=None if units_kept is None else Moments.empty(len(units_kept), True),
                correlation_units=units_kept,
            )

    def add(self, batch: dict[str, Any], rows: int | None = None) -> None:
        """Merge one batch (the compiled pass's dict, converted to NumPy) whose first ``rows``
        rows are real (``None``: all; the rest is padding, left out of the statistics by the
        pass itself)."""
        output = np.asarray(batch["output"])[:rows]
        kept = max(0, min(len(output), self._feature_rows - self._rows))
        for name, stats in batch["layers"].items():
            summary = self._layers[name]
            finite = np.asarray(stats["finite"], dtype=bool)[:rows]
            summary.moments = merge(summary.moments, _moments(stats))
            summary.active = summary.active + np.asarray(stats["active"], np.float64)
            summary.samples += float(stats["samples"])
            summary.nonfinite += int((~finite).sum())
            if "corr" in stats:
                summary.correlation = merge(summary.correlation, _moments(stats["corr"]))
            if "importance" in stats:
                sums = np.asarray(stats["importance"], np.float64)
                previous = summary.importance
                summary.importance = sums if previous is None else previous + sums
            if "features" in stats and kept:
                self._features.setdefault(name, []).append(np.asarray(stats["features"])[:kept])
                self._finite.setdefault(name, []).append(finite[:kept])
        for key, sums in batch.get("sources", {}).items():
            sums = np.asarray(sums, np.float64)
            self._sources[key] = sums if key not in self._sources else self._sources[key] + sums
        self._outputs.append(output)
        self._rows += len(output)

    def result(self, no_gradient: frozenset[str] = frozenset()) -> DatasetSummary:
        """The summary of every batch added so far."""
        for name, parts in self._features.items():
            self._layers[name].features = np.concatenate(parts)
            self._layers[name].feature_finite = np.concatenate(self._finite[name])
        output = np.concatenate(self._outputs).astype(np.float32, copy=False)
        if output.ndim == 2 and output.shape[1] == 1:
            output = output[:, 0]
        return DatasetSummary(
            rows=self._rows,
            output=output,
            layers=self._layers,
            sources=self._sources,
            source_elements=self._source_elements,
            no_gradient=no_gradient,
        )


def _moments(stats: dict[str, Any]) -> Moments:
    return Moments(
        float(stats["count"]),
        np.asarray(stats["mean"], np.float64),
        np.asarray(stats["m2"], np.float64),
        np.asarray(stats["low"], np.float64),
        np.asarray(stats["high"], np.float64),
    )
