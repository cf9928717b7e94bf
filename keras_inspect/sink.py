"""Where a run's records go: one event file, shared by the worker and the projector.

The file is opened on the first write and closed by :meth:`RecordSink.close`; a write after
that (a projection that finished late) goes into an event file of its own, closed at once.
Headline values are mirrored as native scalars (the Time Series tab), image feature maps as
pictures (the Images tab). A record that cannot be written is reported once and skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_inspect import images
from keras_inspect.checkpoint import Record
from keras_inspect.guard import Guard
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

    def open(self) -> None:
        """A new checkpoint is coming: writes go to the run's event file again."""
        with self._lock:
            self._closed = False

    def write_checkpoint(
        self, step: int, records: Sequence[Record], logs: dict[str, Any], seconds: Any
    ) -> None:
        """A checkpoint's records, pictures, Keras' logs and ``seconds()`` it took, flushed."""
        with self._lock:
            writer = self._open()
            for record in records:
                self._write(writer, step, record)
            self._write_pictures(writer, step, records)
            for name, value in logs.items():
                if np.ndim(value) == 0 and np.isfinite(value):
                    writer.write_scalar(step, metadata.keras_log_tag(name), float(value))
            writer.write_scalar(step, "keras_inspect/checkpoint_seconds", float(seconds()))
            writer.flush()

    def write_records(self, step: int, records: Sequence[Record]) -> None:
        """Records computed apart from a checkpoint's own (the projector's), flushed."""
        with self._lock:
            writer = self._open()
            for record in records:
                self._write(writer, step, record)
            writer.flush()
            if self._closed:
                writer.close()
                self._writer = None

    def close(self) -> None:
        """Flush and close the event file."""
        with self._lock:
            self._closed = True
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def _open(self) -> InspectWriter:
        if self._writer is None:
            self._writer = InspectWriter(self.log_dir)
        return self._writer

    def _write(self, writer: InspectWriter, step: int, record: Record) -> None:
        with self.guard.running(f"write {record.quantity}", record.dataset, record.layer):
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
            with self.guard.running("feature_maps (Images tab)", dataset, layer):
                draw = images.picture if layer == "input" else images.mosaic
                pictures = [draw(value) for value in values]
                writer.write_images(step, f"feature maps/{dataset}/{layer}", pictures)
