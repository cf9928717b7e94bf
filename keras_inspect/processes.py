"""This process's part in a multi-process job: who records, and who takes part in the passes.

Every process of a job runs the same script and so makes the same callback. Only process 0
captures and writes, so each checkpoint is recorded once; the others train. When the model's
weights are sharded across processes, the capture passes are collectives, so every process
takes part in them (and only process 0 writes). The processes' datasets are compared once (a
digest, through the backend's collective) so that a difference is said, or refused when the
passes need every process.
"""

from __future__ import annotations

from typing import Any

from keras_inspect import backends
from keras_inspect.datasets import Sample, digest
from keras_inspect.errors import ConfigError
from keras_inspect.guard import Guard

__all__ = ["Processes"]


class Processes:
    """Decides, once, whether this process records.

    Args:
        index: this process's index as the user gave it, or ``None`` to ask the backend.
        guard: says once that the processes' datasets differ.
    """

    def __init__(self, index: int | None, guard: Guard) -> None:
        self.index = index
        self.guard = guard
        self.writes: bool | None = None  # whether this process records (known when joined)
        self.same_data = True
        # Whether every process takes part in the capture passes (weights sharded across
        # processes: the passes are collectives); known when binding.
        self.in_step = False

    def join(self, samples: dict[str, Sample]) -> bool:
        """Whether this process records; the first call, on every process of a job, compares
        the processes' datasets (a collective every process takes)."""
        if self.writes is None:
            index = self.index if self.index is not None else backends.process_index()
            count = backends.process_count()
            self.same_data = count == 1 or backends.all_equal(digest(samples))
            self.writes = index == 0
            if not self.same_data and self.writes:
                self.guard.warn_once(
                    ("processes", "", ""),
                    f"keras_inspect: the {count} processes of this job passed different "
                    "datasets to InspectCallback (each its own shard?); process 0's are the "
                    "ones inspected. Pass every process the same datasets to silence this.",
                )
        return self.writes

    def bind(self, model: Any) -> None:
        """Whether ``model``'s weights span processes, so that every process takes part in
        the capture passes (refused when their datasets differ)."""
        self.in_step = backends.process_count() > 1 and backends.spans_processes(model.variables)
        if self.in_step and not self.same_data:
            raise ConfigError(
                f"model {model.name!r} is sharded across the processes of this job, so every "
                "process takes part in the capture passes, but the processes passed different "
                "datasets to InspectCallback; pass every process the same datasets."
            )

