"""The part of a checkpoint that may take longer than training allows: on slow lanes.

Projections (a t-SNE of every layer) and the map quantities (kNN entropies, k-means clusters,
channel capacities of every layer pair) can cost tens of seconds on a deep network. They run on
two :class:`~keras_inspect.lane.Lane` threads of their own after the worker has written the
checkpoint's other quantities. Projections follow the newest checkpoint at their own pace (a
newer one replaces a waiting one). The map quantities are computed for every checkpoint: when
they fall two checkpoints behind, the worker waits, as it does for the other quantities. At the
end, :meth:`SlowWork.close` waits at most :data:`GRACE` seconds for either; what is still
running is finished on its thread and written when done (a script's interpreter waits for it
at exit), and a warning says so.

The lanes write through the run's :class:`~keras_inspect.sink.RecordSink` like the worker: a
file-system failure loses that step's slow records only, is said once per cause, and the next
write tries again; an ``OSError`` on a lane's thread never reaches training
(:mod:`keras_inspect.lane`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from keras_inspect.accumulate import DatasetSummary
from keras_inspect.checkpoint import Record
from keras_inspect.guard import Guard
from keras_inspect.lane import Lane
from keras_inspect.projector import ProjectionJob, projection_job_of, projector_for
from keras_inspect.quantities.blas import single_blas_thread
from keras_inspect.sink import RecordSink
from tb_plugin import metadata

__all__ = ["GRACE", "MapsJob", "SlowWork"]

# Seconds close() waits for slow work still running before it lets fit end.
GRACE = 3.0


@dataclass(frozen=True)
class MapsJob:
    """One checkpoint's map quantities to compute: per dataset (sample, summary, labels)."""

    step: int
    datasets: list[tuple[Any, DatasetSummary, Any]]


class SlowWork:
    """Projections and map quantities of a run, each on its own lane.

    Args:
        quantities: the quantities asked for (projections only when ``projection`` is one).
        projection: ``"tsne"`` or ``"pca"``; checked here.
        projection_every: project every N-th checkpoint (and the last); checked here.
        guard: failure isolation shared with the callback.
        seed: seeds the projections' rows and t-SNE.
        sink: where the records go.
        asynchronous: ``False`` runs the work inline (``strict=True``).
    """

    def __init__(
        self,
        quantities: Any,
        projection: Any,
        projection_every: Any,
        guard: Guard,
        seed: int,
        sink: RecordSink,
        asynchronous: bool,
    ) -> None:
        self.guard = guard
        self.seed = seed
        self.sink = sink
        self.projector = projector_for(
            quantities,
            projection,
            projection_every,
            guard,
            seed,
            sink.write_records,
            asynchronous,
        )
        self.projection_every = projection_every
        # The map quantities are drawn as curves over steps: every checkpoint gets them, at
        # normal priority; when they fall two checkpoints behind, the worker (and then training)
        # waits, as it always did for the checkpoint's other quantities. The projector yields.
        self.maps = Lane(
            self._map_job, "keras-inspect-maps", asynchronous, yielding=False, keep_all=True
        )
        self._map_records: Any = None
        self._labels_of: Any = None
        self._projecting = False
        self._checkpoints = 0
        self._unprojected: ProjectionJob | None = None

    def bind(self, computer: Any) -> None:
        """Take the bound model's map quantities and label reading from ``computer``."""
        records = computer.map_records
        self._map_records = records if records is not None and records.slow else None
        self._labels_of = computer.labels_of
        self._projecting = self.projector is not None and "projection" in computer.wanted

    def offer(self, step: int, samples: dict[str, Any], summaries: dict[str, Any]) -> None:
        """Hand a written checkpoint's slow work to the lanes (on the worker thread)."""
        if self._map_records is not None:
            job = MapsJob(
                step,
                [(s, summaries[n], self._labels_of(s)) for n, s in samples.items()],
            )
            self.maps.offer(job)
        if self.projector is None or not self._projecting:
            return
        labelled = {n: (self._labels_of(s), summaries[n]) for n, s in samples.items()}
        job = projection_job_of(step, labelled, self.seed)
        due = self._checkpoints % self.projection_every == 0
        self._checkpoints += 1
        if due:
            self.projector.offer(job)
            self._unprojected = None
        else:
            self._unprojected = job

    def open(self) -> None:
        """A checkpoint is coming: map jobs wait for their slot again (see :meth:`release`)."""
        self.maps.hold()

    def release(self) -> None:
        """Closing: the worker must not wait for the map lane's slot any more; its last jobs
        queue up and :meth:`close` waits for them only :data:`GRACE` seconds."""
        self.maps.release()

    def close(self) -> None:
        """Offer the last checkpoint's projection; wait at most :data:`GRACE` for the lanes."""
        deadline = time.monotonic() + GRACE
        lanes = {"entropies, filter clusters and channel capacity": self.maps}
        if self.projector is not None:
            if self._unprojected is not None:  # the last checkpoint is always projected
                self.projector.offer(self._unprojected)
                self._unprojected = None
            lanes[f"{self.projector.method} projection"] = self.projector.lane
        for lane in lanes.values():
            lane.finish()
        for what, lane in lanes.items():
            if not lane.drain(timeout=max(0.0, deadline - time.monotonic())):
                self._say_goes_on(what, lane.unfinished)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until both lanes are idle; False if ``timeout`` seconds ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        lanes = [self.maps] + ([] if self.projector is None else [self.projector.lane])
        for lane in lanes:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not lane.drain(timeout=left):
                return False
        return True

    def _say_goes_on(self, what: str, steps: list[int]) -> None:
        self.guard.warn_once(
            (what, "", "close"),
            f"keras_inspect: work on the {what} of step(s) {steps} is still running after "
            f"{GRACE:g} s; fit is not held for it. It goes on in the background and is written to "
            f"{os.path.join(self.sink.log_dir, metadata.RUN_SUBDIR)} when done; "
            "inspector.wait() waits for it, and so does a script at exit (Ctrl-C drops it)."
            + (
                " projection='pca' takes milliseconds, or raise projection_every."
                if "projection" in what
                else ""
            ),
        )

    def _map_job(self, job: MapsJob) -> None:
        records: list[Record] = []
        with single_blas_thread():
            for sample, summary, labels in job.datasets:
                records.extend(self._map_records.slow_records(sample, summary, labels))
        self.sink.write_records(job.step, records)
