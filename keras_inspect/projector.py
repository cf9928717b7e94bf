"""2-D projections of each layer's output, on their own thread and their own sparser schedule.

A t-SNE of 500 rows takes one to two seconds on one core, so projecting every inspected layer
of every dataset costs tens of seconds: far more than a checkpoint's other quantities, and more
than an epoch of a small model. The :class:`Projector` therefore runs on a
:class:`~keras_inspect.lane.Lane` and never makes training wait: a newer checkpoint replaces a
waiting one (the skipped step is simply not projected), so when projections are slower than
checkpoints they follow the newest checkpoint at their own pace. Each layout starts from the
previous projected layout of the same (dataset, layer), so consecutive pictures stay
comparable (:mod:`keras_inspect.quantities.projection`).

The value written per (dataset, layer) is an (N, 3) array: the two coordinates of each of the N
fixed rows and its label (class index or target value); (N, 2) for a dataset without labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from keras_inspect.checkpoint import Record
from keras_inspect.errors import ConfigError
from keras_inspect.guard import Guard
from keras_inspect.lane import Lane
from keras_inspect.quantities import projection
from keras_inspect.quantities.blas import single_blas_thread

__all__ = [
    "MAX_PROJECTION_ROWS",
    "METHODS",
    "MIN_PROJECTION_ROWS",
    "ProjectionJob",
    "Projector",
    "job_rows",
    "labels_column",
    "projection_job_of",
    "projector_for",
]

METHODS = {"tsne": projection.tsne, "pca": projection.pca}


@dataclass(frozen=True)
class ProjectionJob:
    """The fixed rows of one checkpoint to project.

    Attributes:
        step: the checkpoint's step.
        datasets: dataset -> (labels (N,) or None; layer -> (N, features)).
    """

    step: int
    datasets: dict[str, tuple[np.ndarray | None, dict[str, np.ndarray]]]


class Projector:
    """Computes projections of offered checkpoints and hands them to ``emit(step, records)``.

    The work runs on a :class:`~keras_inspect.lane.Lane` of its own: at most one job waits, a
    newer checkpoint replaces it, and training never waits for a projection.

    Args:
        method: ``"tsne"`` or ``"pca"``.
        emit: called (on the projector's thread) with each projected checkpoint's records.
        guard: failure isolation: a failing layer is reported once and skipped.
        seed: seeds t-SNE.
        asynchronous: project on the lane's thread (the default); ``False`` projects inside
            :meth:`offer`, e.g. for ``strict=True``.
    """

    def __init__(
        self,
        method: str,
        emit: Callable[[int, list[Record]], None],
        guard: Guard,
        seed: int = 0,
        asynchronous: bool = True,
    ) -> None:
        self._project = METHODS[method]
        self.method = method
        self._emit = emit
        self._guard = guard
        self._seed = seed
        self._previous: dict[tuple[str, str], np.ndarray] = {}
        self.lane = Lane(self._run_job, "keras-inspect-projector", asynchronous)

    def offer(self, job: ProjectionJob) -> None:
        """Project ``job`` when the projector is free; replaces a job still waiting."""
        self.lane.offer(job)

    def finish(self) -> None:
        """No more jobs for now (see :meth:`keras_inspect.lane.Lane.finish`)."""
        self.lane.finish()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for the projections offered (see :meth:`keras_inspect.lane.Lane.drain`)."""
        return self.lane.drain(timeout)

    @property
    def unfinished(self) -> list[int]:
        """Steps being projected or waiting for their turn."""
        return self.lane.unfinished

    @property
    def projected(self) -> list[int]:
        """Steps projected, in order."""
        return self.lane.done

    @property
    def skipped(self) -> list[int]:
        """Steps replaced by a newer one before their turn."""
        return self.lane.skipped

    def _run_job(self, job: ProjectionJob) -> None:
        records: list[Record] = []
        with single_blas_thread():
            for dataset, (labels, layers) in job.datasets.items():
                for layer, features in layers.items():
                    if not np.isfinite(features).all():
                        continue  # a diverging training: counted in nonfinite_rows, said once
                    with self._guard.running(f"projection ({self.method})", dataset, layer):
                        layout = self._layout(dataset, layer, features)
                        value = layout if labels is None else np.column_stack([layout, labels])
                        value = value.astype(np.float32)
                        records.append(Record("projection", value, dataset, layer))
        self._emit(job.step, records)

    def _layout(self, dataset: str, layer: str, features: np.ndarray) -> np.ndarray:
        previous = self._previous.get((dataset, layer))
        if self.method == "tsne":
            layout = self._project(features, previous=previous, seed=self._seed)
        else:
            layout = self._project(features, previous=previous)
        if not np.isfinite(layout).all():
            raise FloatingPointError("the projection has non-finite coordinates")
        self._previous[(dataset, layer)] = layout
        return layout


# Rows per dataset that are projected (a t-SNE of 500 rows takes 1-2 s on one core), the same
# fixed rows at every checkpoint so that each layout can start from the previous one.
MAX_PROJECTION_ROWS = 500
MIN_PROJECTION_ROWS = 5


def projector_for(
    quantities: Any,
    method: Any,
    every: Any,
    guard: Guard,
    seed: int,
    emit: Callable[[int, list[Record]], None],
    asynchronous: bool,
) -> Projector | None:
    """The projector of ``projection``, after checking its arguments (None if not wanted).

    Raises:
        ConfigError: an unknown method, or ``every`` is not a positive integer.
    """
    if method not in METHODS:
        raise ConfigError(
            f"projection must be one of {sorted(METHODS)}, got {method!r}; 'pca' is the cheap "
            "choice (milliseconds), 'tsne' the one that shows neighbourhoods."
        )
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(
            f"projection_every must be a positive integer (project every N-th checkpoint), "
            f"got {every!r}; e.g. projection_every=5."
        )
    if "projection" not in quantities:
        return None
    return Projector(method, emit, guard, seed=seed, asynchronous=asynchronous)


def projection_job_of(step: int, datasets: dict[str, tuple[Any, Any]], seed: int) -> ProjectionJob:
    """The fixed rows of one checkpoint to project, from its dataset summaries.

    Args:
        step: the checkpoint's step.
        datasets: dataset -> (labels or None, its :class:`~keras_inspect.accumulate.
            DatasetSummary`); the per-row features of the summary's layers are projected.
        seed: fixes which rows (the same at every checkpoint).
    """
    jobs = {}
    for name, (labels, summary) in datasets.items():
        kept = min(
            (len(s.features) for s in summary.layers.values() if s.features is not None),
            default=0,
        )
        rows = job_rows(kept, MAX_PROJECTION_ROWS, seed)
        if len(rows) < MIN_PROJECTION_ROWS:
            continue
        layers = {
            layer: s.features[rows]
            for layer, s in summary.layers.items()
            if s.features is not None and s.features.shape[1] >= 2
        }  # a layer of one number per row has no 2-D picture
        jobs[name] = (labels_column(labels, rows), layers)
    return ProjectionJob(step, jobs)


def job_rows(count: int, limit: int, seed: int) -> np.ndarray:
    """The fixed rows (sorted) of a dataset that are projected at every checkpoint."""
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed + 17).choice(count, limit, replace=False))


def labels_column(labels: Any, rows: np.ndarray) -> np.ndarray | None:
    """Labels of the projected rows as floats, or None without labels."""
    if labels is None:
        return None
    return np.asarray(labels, dtype=np.float64).reshape(-1)[rows]
