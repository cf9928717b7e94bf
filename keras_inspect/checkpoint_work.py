"""One checkpoint's work after its capture passes: the quantities, then writing them.

On the worker thread when the callback is asynchronous (:mod:`keras_inspect.worker`), on the
training thread otherwise. The map quantities and projections are then offered to the slow
lanes (:mod:`keras_inspect.slow_work`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from keras_inspect.accumulate import DatasetSummary
from keras_inspect.checkpoint import CheckpointComputer, Record
from keras_inspect.datasets import Sample
from keras_inspect.quantities.blas import single_blas_thread
from keras_inspect.sink import RecordSink
from keras_inspect.slow_work import SlowWork

__all__ = ["Checkpoint", "CheckpointWork"]


@dataclass(frozen=True)
class Checkpoint:
    """What the training thread hands over: every dataset's summary."""

    step: int
    summaries: dict[str, DatasetSummary]
    logs: dict[str, Any]
    capture_seconds: float
    kernels: dict[str, np.ndarray]  # weights_hinton's kernels, by layer
    training: int  # which training in log_dir (tb_plugin.metadata.TRAINING_TAG)


class CheckpointWork:
    """Computes and writes checkpoints of one run.

    Args:
        samples: the datasets' fixed samples, by name.
        sink: where records go.
        slow: the lanes of the map quantities and projections.

    Attributes:
        computer: the bound model's quantities (set when the callback binds).
        model_records: records of the model itself, written with the first checkpoint that
            reaches the disk.
        timings: per checkpoint, seconds spent in each phase: capture (on the training
            thread), statistics, probes, write, total.
    """

    def __init__(self, samples: dict[str, Sample], sink: RecordSink, slow: SlowWork) -> None:
        self.samples = samples
        self.sink = sink
        self.slow = slow
        self.computer: CheckpointComputer | None = None
        self.model_records: list[Record] = []
        self.timings: list[dict[str, float]] = []

    def process(self, job: Checkpoint) -> None:
        """Quantities and writing for one checkpoint."""
        started = time.perf_counter()
        timing = {"capture": job.capture_seconds, "statistics": 0.0}
        records: list[Record] = []
        features: dict[str, dict] = {}
        with single_blas_thread():
            for name, sample in self.samples.items():
                found, features[name] = self.computer.dataset_records(sample, job.summaries[name])
                records.extend(found)
            if self.computer.similarity is not None:
                records.extend(self.computer.similarity.records(self.samples, job.summaries))
            timing["statistics"] = time.perf_counter() - started
            records.extend(self.computer.probe_records(features))
            records.extend(self.computer.weight_records(job.kernels))
            records.extend(self.model_records)
        timing["probes"] = time.perf_counter() - started - timing["statistics"]
        mark = time.perf_counter()
        if self.sink.write_checkpoint(
            job.step,
            records,
            job.logs,
            lambda: job.capture_seconds + time.perf_counter() - started,
            job.training,
        ):
            self.model_records = []  # kept until a checkpoint is on disk (not on a full one)
        timing["write"] = time.perf_counter() - mark
        self.slow.offer(job.step, self.samples, job.summaries)
        timing["total"] = job.capture_seconds + time.perf_counter() - started
        self.timings.append(timing)
