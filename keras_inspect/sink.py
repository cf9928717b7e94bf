"""Where a run's records go: one event file, shared by the worker and the slow lanes.

The file is opened on the first write and closed by :meth:`RecordSink.close`; a write after
that (a projection that finished late) goes into an event file of its own, closed at once.
Headline values are mirrored as native scalars (the Time Series tab), image feature maps as
pictures (the Images tab). A record that cannot be written is reported once and skipped.

The file system may fail under a run (a full disk, ``<log_dir>/inspect`` turned into a file, a
read-only folder) or the file may vanish (the folder deleted). Neither reaches training:

- Each write (a checkpoint, or a slow lane's records) is all or nothing: on an ``OSError`` the
  event file is cut back to the end of the last write that went through
  (:class:`~keras_inspect.eventfile.EventFile`) and left; that step is not recorded. The next
  write opens a new event file (named to sort after the old one, with every tag's metadata
  again), so TensorBoard's readers see whole checkpoints in both files and nothing broken.
- Said once per cause (the errno: ``ENOSPC``, ``EACCES``, ...), as an
  :class:`~keras_inspect.guard.InspectWarning` naming the folder and the cause; when writing
  works again, said once which steps were lost.
- Before each write the open file is compared with what its path holds now; a deleted or
  replaced file is left for a new one (the folder is created again), said once.

With ``strict=True`` the ``OSError`` itself is re-raised (after the cut-back, so the files stay
readable), not wrapped in a :class:`~keras_inspect.errors.QuantityError`: it is the machine's
failure, not a quantity's, and a test can check its ``errno``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keras_inspect import images
from keras_inspect.checkpoint import Record
from keras_inspect.guard import Guard, os_error_cause
from keras_inspect.presets import HEADLINE
from keras_inspect.writer import InspectWriter
from tb_plugin import metadata

__all__ = ["RecordSink"]


class RecordSink:
    """Writes records of one run under ``<log_dir>/inspect``.

    Args:
        log_dir: the run directory.
        guard: failure isolation: a record that cannot be written is reported once.
    """

    def __init__(self, log_dir: str, guard: Guard) -> None:
        self.log_dir = log_dir
        self.guard = guard
        self.dataset_order: dict[str, int] = {}
        self.layer_order: dict[str, int] = {}
        self._lock = threading.Lock()
        self._writer: InspectWriter | None = None
        self._closed = False
        self._outage: _Outage | None = None
        self.lost_steps: list[int] = []  # steps of which a write failed, in order

    @property
    def directory(self) -> str:
        """The folder the event files go into."""
        return os.path.join(os.fspath(self.log_dir), metadata.RUN_SUBDIR)

    def open(self) -> None:
        """A new checkpoint is coming: writes go to the run's event file again."""
        with self._lock:
            self._closed = False

    def write_checkpoint(
        self,
        step: int,
        records: Sequence[Record],
        logs: dict[str, Any],
        seconds: Any,
        training: int = 0,
    ) -> bool:
        """A checkpoint's records, pictures, Keras' logs, ``seconds()`` it took and the index
        of the ``training`` that recorded it (:data:`tb_plugin.metadata.TRAINING_TAG`), flushed.

        Returns:
            Whether the checkpoint is on disk (False after a file-system failure).
        """

        def write(writer: InspectWriter) -> None:
            for record in records:
                self._write(writer, step, record)
            self._write_pictures(writer, step, records)
            for name, value in logs.items():
                with self.guard.running(f"write Keras log {name!r}", passes=(OSError,)):
                    if np.ndim(value) == 0 and np.isfinite(value):
                        writer.write_scalar(step, metadata.keras_log_tag(name), float(value))
            with self.guard.running("write checkpoint_seconds", passes=(OSError,)):
                writer.write_scalar(step, "keras_inspect/checkpoint_seconds", float(seconds()))
                writer.write_scalar(step, metadata.TRAINING_TAG, float(training))

        with self._lock:
            return self._attempt(step, write)

    def write_records(self, step: int, records: Sequence[Record]) -> None:
        """Records computed apart from a checkpoint's own (the slow lanes'), flushed."""

        def write(writer: InspectWriter) -> None:
            for record in records:
                self._write(writer, step, record)

        with self._lock:
            self._attempt(step, write)
            if self._closed:
                self._close_writer()

    def close(self) -> None:
        """Flush and close the event file (a failure is reported like a write's)."""
        with self._lock:
            self._closed = True
            self._close_writer()

    def _attempt(self, step: int, write: Callable[[InspectWriter], None]) -> bool:
        """``write`` to the event file and flush: all of it, or (on an ``OSError``) none."""
        try:
            writer = self._writer_for(step)
            write(writer)
            writer.flush()
        except OSError as error:
            self._failed(f"step {step}", step, error)
            if self.guard.strict:
                raise
            return False
        self._went_through(step)
        return True

    def _writer_for(self, step: int) -> InspectWriter:
        if self._writer is not None and self._writer.lost():
            self._writer.abandon()
            self._writer = None
            self.guard.warn_once(
                ("event file", "lost", ""),
                f"keras_inspect: the event file in {self.directory} was deleted or replaced "
                f"(or the folder itself) during training; from step {step} on, records go to a "
                "new event file there (the folder is made again if missing). What the lost "
                "file held is gone. Training goes on.",
            )
        if self._writer is None:
            self._writer = InspectWriter(self.log_dir)
        return self._writer

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            writer.close()
        except OSError as error:
            self._failed("the last records (closing the event file)", None, error)
            if self.guard.strict:
                raise

    def _failed(self, what: str, step: int | None, error: OSError) -> None:
        """Leave the event file (cut back to its last complete write); say so once per cause."""
        if self._writer is not None:
            self._writer.abandon()
            self._writer = None
        key, cause = os_error_cause(error)
        if self._outage is None:
            self._outage = _Outage(key, cause)
        if step is not None:
            self._outage.steps.append(step)
            self.lost_steps.append(step)
        if self.guard.strict:
            return  # the caller re-raises
        self.guard.warn_once(
            ("write", key, ""),
            f"keras_inspect: could not write {what} to {self.directory}: {cause}. Training "
            "goes on without it; writing is retried at the next checkpoint (and said once "
            "when it works again). Later failures of this kind are not reported.",
        )

    def _went_through(self, step: int) -> None:
        outage, self._outage = self._outage, None
        if outage is None or not outage.steps or self.guard.strict:
            return
        self.guard.warn_once(
            ("write", outage.key, "resumed"),
            f"keras_inspect: writing to {self.directory} works again at step {step} after "
            f"{outage.cause}; {_steps_text(outage.steps)} not recorded. Later gaps of this "
            "kind are not reported.",
        )

    def _write(self, writer: InspectWriter, step: int, record: Record) -> None:
        where = (record.dataset, record.layer)
        with self.guard.running(f"write {record.quantity}", *where, passes=(OSError,)):
            order = (
                self.dataset_order.get(record.dataset, -1),
                self.layer_order.get(record.layer, -1),
            )
            writer.write(
                step,
                record.quantity,
                record.value,
                dataset=record.dataset,
                layer=record.layer,
                order=order,
                **record.extra,
            )
            if record.quantity in HEADLINE:
                tag = metadata.scalar_tag(
                    record.quantity, record.dataset, record.layer, **record.extra
                )
                writer.write_scalar(step, tag, float(record.value))

    def _write_pictures(self, writer: InspectWriter, step: int, records: Sequence[Record]) -> None:
        """Feature maps of image models also go to TensorBoard's Images tab.

        One card per (dataset, layer), tagged ``feature maps/<dataset>/<layer>``, with one
        picture per sample: the input itself, or a layer's channels side by side.
        """
        maps: dict[tuple[str, str], list[np.ndarray]] = {}
        for record in records:
            if record.quantity == "feature_maps" and images.is_image_map(record.value):
                maps.setdefault((record.dataset, record.layer), []).append(record.value)
        for (dataset, layer), values in maps.items():
            with self.guard.running("feature_maps (Images tab)", dataset, layer, (OSError,)):
                draw = images.picture if layer == "input" else images.mosaic
                pictures = [draw(value) for value in values]
                writer.write_images(step, f"feature maps/{dataset}/{layer}", pictures)


@dataclass
class _Outage:
    """Writes failing since a first failure: its cause, and the steps not recorded."""

    key: str
    cause: str
    steps: list[int] = field(default_factory=list)


def _steps_text(steps: list[int]) -> str:
    unique = sorted(set(steps))
    if len(unique) == 1:
        return f"step {unique[0]} was"
    if len(unique) <= 8:
        return f"steps {', '.join(map(str, unique))} were"
    return f"{len(unique)} steps ({unique[0]}, {unique[1]}, ..., {unique[-1]}) were"
