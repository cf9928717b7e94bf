"""Records that compare representations: CKA across checkpoints, and drift across datasets.

Framework-free, like :mod:`keras_inspect.checkpoint`: it reads the datasets' summaries of one
checkpoint (all of them at once, since drift compares each dataset with the reference) and
keeps the previous checkpoint's Gram matrices for ``cka_previous``.

- ``cka_gram`` (reference dataset, per layer): the centred Gram matrix of the layer's per-row
  features on the reference dataset's first
  :data:`~keras_inspect.layout.CKA_ROWS` rows (the fixed sample's, so the
  same rows at every checkpoint), scaled to unit norm and stored in float16
  (:func:`keras_inspect.quantities.similarity.centred_gram`).
- ``cka_rows`` (reference dataset, no layer): a fingerprint of those rows' inputs, so that two
  runs' Grams are only compared when they were computed on identical rows.
- ``cka_previous`` (reference dataset, per layer): linear CKA between the layer at this
  checkpoint and at the previous one of the same training (none at a training's first
  checkpoint), computed from the float16 Grams exactly as a reader of the files would.
- ``drift`` (every other dataset, per layer):
  :func:`keras_inspect.quantities.similarity.drift_effect` against the reference dataset.

A layer whose rows are all alike (every unit constant: dead or saturated) gets neither: nothing
varies to compare, and ``dead_fraction`` already tells.

The reference dataset is ``train`` when there is one, else the first dataset given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import keras
import numpy as np

from keras_inspect.accumulate import DatasetSummary
from keras_inspect.batches import take_rows
from keras_inspect.checkpoint import Record
from keras_inspect.datasets import Sample
from keras_inspect.guard import Guard
from keras_inspect.layout import CKA_ROWS
from keras_inspect.quantities import neurons, similarity

__all__ = ["SIMILARITY_QUANTITIES", "SimilarityRecords", "reference_dataset", "rows_fingerprint"]

SIMILARITY_QUANTITIES = frozenset({"cka_gram", "cka_previous", "drift"})


def reference_dataset(names: Iterable[str]) -> str:
    """``train`` if it is among ``names``, else the first name."""
    names = list(names)
    return "train" if "train" in names else names[0]


class SimilarityRecords:
    """Computes the similarity records of each checkpoint of one run.

    Args:
        wanted: the quantities to compute (the others are ignored).
        guard: failure isolation shared with the callback.
        reference: the reference dataset (:func:`reference_dataset`).
    """

    def __init__(self, wanted: Iterable[str], guard: Guard, reference: str) -> None:
        self.wanted = frozenset(wanted) & SIMILARITY_QUANTITIES
        self.guard = guard
        self.reference = reference
        self._previous: dict[str, np.ndarray] = {}
        self._fingerprints: dict[int, np.ndarray] = {}

    def records(
        self, samples: dict[str, Sample], summaries: dict[str, DatasetSummary]
    ) -> list[Record]:
        """``cka_*`` of the reference dataset and ``drift`` of the others, for one checkpoint."""
        if self.reference not in summaries:
            return []
        base = summaries[self.reference]
        records: list[Record] = []
        if "drift" in self.wanted:
            for name, summary in summaries.items():
                if name != self.reference:
                    records.extend(self._drift(name, summary, base))
        if self.wanted & {"cka_gram", "cka_previous"}:
            records.extend(self._cka(samples[self.reference], base))
        return records

    def _drift(self, name: str, summary: DatasetSummary, base: DatasetSummary) -> list[Record]:
        records = []
        for layer, own in summary.layers.items():
            ref = base.layers.get(layer)
            if ref is None or own.samples == 0 or ref.samples == 0:
                continue
            with self.guard.running("drift", name, layer):
                mean, std = neurons.neuron_mean(own.moments), neurons.neuron_std(own.moments)
                ref_mean, ref_std = (
                    neurons.neuron_mean(ref.moments),
                    neurons.neuron_std(ref.moments),
                )
                if not similarity.varying_units(mean, std, ref_mean, ref_std).any():
                    continue  # every unit constant on both (dead, saturated): nothing to measure
                value = similarity.drift_effect(
                    mean, std, own.samples, ref_mean, ref_std, ref.samples
                )
                records.append(Record("drift", value, name, layer))
        return records

    def _cka(self, sample: Sample, summary: DatasetSummary) -> list[Record]:
        records = []
        rows = None
        for layer, layer_summary in summary.layers.items():
            if layer_summary.features is None:
                continue
            with self.guard.running("cka_gram", self.reference, layer):
                count = min(CKA_ROWS, len(layer_summary.features))
                if not layer_summary.feature_finite[:count].all():
                    self._previous.pop(layer, None)
                    raise ValueError(
                        "some of the first rows have non-finite values in this layer: no Gram "
                        "matrix at this checkpoint"
                    )
                features = layer_summary.features[:count]
                if np.ptp(features.reshape(count, -1), axis=0).max(initial=0.0) == 0:
                    # Every row alike (a dead or saturated layer): CKA is undefined, and the
                    # dead fraction already says why.
                    self._previous.pop(layer, None)
                    continue
                gram = similarity.centred_gram(features)
                stored = gram.astype(np.float16)
                if "cka_gram" in self.wanted:
                    records.append(Record("cka_gram", stored, self.reference, layer))
                previous = self._previous.get(layer)
                self._previous[layer] = stored
                rows = count
                if "cka_previous" in self.wanted and previous is not None:
                    if previous.shape == stored.shape:
                        value = similarity.gram_cka(previous, stored)
                        records.append(Record("cka_previous", value, self.reference, layer))
        if rows is not None and "cka_gram" in self.wanted:
            records.append(Record("cka_rows", self._fingerprint(sample, rows), self.reference))
        return records

    def _fingerprint(self, sample: Sample, rows: int) -> np.ndarray:
        if rows not in self._fingerprints:
            self._fingerprints[rows] = rows_fingerprint(take_rows(sample.x, slice(0, rows)))
        return self._fingerprints[rows]


def rows_fingerprint(x) -> np.ndarray:
    """A 128-bit hash of input rows (every array's dtype, shape and bytes), as 4 int32.

    Equal fingerprints mean the Grams of two runs were computed on identical inputs.
    """
    digest = hashlib.blake2b(digest_size=16)
    for path, array in _leaves_with_paths(x):
        array = np.ascontiguousarray(np.asarray(array))
        digest.update(f"{path}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return np.frombuffer(digest.digest(), dtype=np.int32).copy()


def _leaves_with_paths(x) -> list[tuple[str, np.ndarray]]:
    flat = keras.tree.flatten_with_path(x)
    return [("/".join(str(p) for p in path), leaf) for path, leaf in flat]
