"""The only writer of keras_inspect event files.

Values go into ``<log_dir>/inspect`` as TensorBoard summaries under the plugin name of
:mod:`tb_plugin.metadata`, built from TensorBoard's own protos so that writing needs no
TensorFlow API. Local directories are written synchronously by :mod:`keras_inspect.eventfile`;
remote ones (``gs://``) by TensorBoard's ``EventFileWriter``.

Values are encoded by :mod:`keras_inspect.encoding` (dtypes, data classes); arrays of more than
:data:`tb_plugin.metadata.PART_MIN_SIZE` numbers are written in parts (one tag per part).

A writer whose file system fails (an ``OSError`` from opening, writing or flushing; remote
errors are raised as ``OSError`` too) keeps what its last successful :meth:`InspectWriter.flush`
wrote, closes itself and re-raises: its idea of which tags already carry their metadata no
longer matches the file, so writing goes on with a new writer, i.e. a new event file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import numpy as np
from tensorboard.compat.proto import (
    event_pb2,
    summary_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    types_pb2,
)
from tensorboard.plugins.image import metadata as image_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata

from keras_inspect.encoding import encode, png, size
from keras_inspect.eventfile import EventFile, RemoteEventFile
from tb_plugin.metadata import (
    PART_MIN_SIZE,
    PART_NUMBERS,
    PART_POINTS,
    PLUGIN_NAME,
    RUN_SUBDIR,
    encode_content,
    make_tag,
    part_tag,
)

__all__ = ["InspectWriter"]


class InspectWriter:
    """Writes keras_inspect values and native scalars for one run.

    The event file is created on the first write, so a writer that never records anything
    leaves no empty run behind. Each tag must get strictly increasing steps: TensorBoard's
    Python and Rust loaders disagree about repeated or backward steps. Safe to share between
    threads.

    Args:
        log_dir: The run directory; events go into ``<log_dir>/inspect``.

    Example:
        >>> import tempfile
        >>> with InspectWriter(tempfile.mkdtemp()) as writer:
        ...     writer.write(0, "neuron_mean", [0.1, 0.2], dataset="train", layer="dense_1")
        ...     writer.write_scalar(0, "keras/loss", 0.69)
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        self._log_dir = os.fspath(log_dir)
        self._dir = os.path.join(self._log_dir, RUN_SUBDIR)
        self._writer: EventFile | RemoteEventFile | None = None
        self._closed = False
        self._lock = threading.Lock()
        # tag -> (plugin name, last step): metadata goes on the first event only, and a tag
        # must never be reused by the other plugin because TensorBoard keeps one metadata per tag.
        self._tags: dict[str, tuple[str, int]] = {}
        # tag of a series written in parts -> (first step of its current part, points in it,
        # last step written).
        self._parts: dict[str, tuple[int, int, int]] = {}

    @property
    def directory(self) -> str:
        """The directory the event files go into (``<log_dir>/inspect``)."""
        return self._dir

    def write(
        self,
        step: int,
        quantity: str,
        value: object,
        *,
        dataset: str = "",
        layer: str = "",
        order: tuple[int, int] | None = None,
        **extra: str,
    ) -> None:
        """Records one value of a quantity at a step.

        Args:
            step: Checkpoint step (epoch or global batch count), >= 0 and greater than the
                last step written for the same axes.
            quantity: Quantity name, e.g. ``neuron_mean``.
            value: A number, or an array of numbers (see the module docstring for the
                encoding).
            dataset: Dataset name, or ``""``.
            layer: Layer name, or ``""``.
            order: (dataset position, layer position), so readers can restore the user's
                dataset order and the model's layer order.
            **extra: Extra axes of :data:`tb_plugin.metadata.EXTRA_AXES`.

        Raises:
            ValueError: If the value contains NaN or Inf, integers beyond int32, the step is
                not increasing for this series, or the axes are invalid.
            TypeError: If the value is not numeric.
            RuntimeError: If the writer is closed.

        Example:
            >>> import tempfile
            >>> with InspectWriter(tempfile.mkdtemp()) as writer:
            ...     writer.write(3, "model_auc", 0.91, dataset="test1")
        """
        tag = make_tag(quantity, dataset, layer, **extra)
        where = _describe(quantity, dataset, layer, extra)
        tensor, data_class = encode(value, where)
        part = None
        numbers = size(tensor)
        if numbers > PART_MIN_SIZE:
            points = max(1, min(PART_POINTS, PART_NUMBERS // numbers))
            part = self._part_of(tag, _check_step(step, tag), points)
            tag = part_tag(tag, part)
        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(
                plugin_name=PLUGIN_NAME,
                content=encode_content(quantity, dataset, layer, order=order, part=part, **extra),
            ),
            data_class=data_class,
        )
        self._add(step, tag, tensor, metadata, PLUGIN_NAME)

    def _part_of(self, tag: str, step: int, points: int) -> int:
        """The first step of the part that the point of series ``tag`` at ``step`` goes into
        (a part holds ``points`` checkpoints)."""
        with self._lock:
            first, count, last = self._parts.get(tag, (step, 0, -1))
            if step <= last:
                raise _not_increasing(tag, step, last)
            if count >= points:
                first, count = step, 0
            self._parts[tag] = (first, count + 1, step)
            return first

    def write_scalar(self, step: int, tag: str, value: float) -> None:
        """Records a native TensorBoard scalar (shown in the Time Series tab).

        Use it for Keras' logs (:func:`tb_plugin.metadata.keras_log_tag`) and for mirrors of
        headline values (:func:`tb_plugin.metadata.scalar_tag`).

        Args:
            step: Step, >= 0 and greater than the last step written for ``tag``.
            tag: The scalar's tag.
            value: A finite number.

        Raises:
            ValueError: If the value is not finite or not a single number, the step is not
                increasing for ``tag``, or ``tag`` is used by plugin data.
            TypeError: If the value is not numeric.
            RuntimeError: If the writer is closed.

        Example:
            >>> import tempfile
            >>> with InspectWriter(tempfile.mkdtemp()) as writer:
            ...     writer.write_scalar(1, "keras/val_loss", 0.42)
        """
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"tag must be a non-empty string; got {tag!r}.")
        array = np.asarray(value)
        if array.ndim != 0:
            raise ValueError(f"Scalar {tag!r} must be a single number; got shape {array.shape}.")
        tensor, _ = encode(array, f"scalar {tag!r}")
        metadata = scalar_metadata.create_summary_metadata(display_name="", description="")
        metadata.data_class = summary_pb2.DATA_CLASS_SCALAR
        self._add(step, tag, tensor, metadata, scalar_metadata.PLUGIN_NAME)

    def flush(self) -> None:
        """Writes everything recorded so far to disk (call it after each checkpoint).

        Raises:
            OSError: If the file system fails; the events since the last flush are dropped
                (see the module docstring) and the writer is closed.
        """
        with self._lock:
            if self._writer is not None and not self._closed:
                with self._failing_closes():
                    self._writer.flush()

    def close(self) -> None:
        """Flushes and closes the event file; calling it again does nothing.

        Raises:
            OSError: If the last flush fails; the writer is closed all the same.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._writer is not None:
                writer, self._writer = self._writer, None
                writer.close()

    def lost(self) -> bool:
        """Whether the open event file was deleted or replaced (or its folder) since it was
        opened; writes to it would vanish. Always False for remote directories."""
        with self._lock:
            return self._writer is not None and self._writer.lost()

    def abandon(self) -> None:
        """Closes the writer, dropping events not flushed yet; never raises."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abandon()

    @contextmanager
    def _failing_closes(self) -> Iterator[None]:
        """An ``OSError`` inside closes the writer (the caller holds the lock)."""
        try:
            yield
        except OSError:
            self._drop()
            raise

    def __enter__(self) -> InspectWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"InspectWriter({self._log_dir!r}, {state})"

    def write_images(self, step: int, tag: str, images: list[np.ndarray]) -> None:
        """Records pictures for TensorBoard's Images tab (one summary, several images).

        Args:
            step: Step, increasing per tag.
            tag: The images' tag (shown as the card's title).
            images: uint8 arrays of shape (H, W) (grey) or (H, W, 3) (colour), at least one.

        Raises:
            ValueError: For no images, or an image of another shape or dtype.
        """
        if not images:
            raise ValueError(f"write_images({tag!r}) needs at least one image.")
        encoded = []
        for image in images:
            image = np.asarray(image)
            if image.dtype != np.uint8 or not (
                image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)
            ):
                raise ValueError(
                    f"Images for {tag!r} must be uint8 (H, W) or (H, W, 3); got "
                    f"{image.dtype} {image.shape}."
                )
            encoded.append(png(image))
        height, width = np.asarray(images[0]).shape[:2]
        tensor = tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING,
            tensor_shape=tensor_shape_pb2.TensorShapeProto(
                dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=2 + len(encoded))]
            ),
            string_val=[str(width).encode(), str(height).encode(), *encoded],
        )
        metadata = image_metadata.create_summary_metadata(
            display_name=tag, description="", converted_to_tensor=True
        )
        metadata.data_class = summary_pb2.DATA_CLASS_BLOB_SEQUENCE
        self._add(step, tag, tensor, metadata, image_metadata.PLUGIN_NAME)

    def _add(
        self,
        step: int,
        tag: str,
        tensor: tensor_pb2.TensorProto,
        metadata: summary_pb2.SummaryMetadata,
        plugin_name: str,
    ) -> None:
        step = _check_step(step, tag)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self!r} is closed; create a new InspectWriter to write.")
            known = self._tags.get(tag)
            if known is not None and known[0] != plugin_name:
                raise ValueError(
                    f"Tag {tag!r} is already used by {known[0]!r} data in this run; "
                    f"TensorBoard keeps one metadata per tag. Use scalar_tag() for mirrors."
                )
            if known is not None and step <= known[1]:
                raise _not_increasing(tag, step, known[1])
            value = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
            if known is None:
                value.metadata.CopyFrom(metadata)
            event = event_pb2.Event(
                wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=[value])
            )
            with self._failing_closes():
                if self._writer is None:
                    self._writer = _open_events(self._dir)
                self._writer.add_event(event)
            self._tags[tag] = (plugin_name, step)


def _open_events(directory: str) -> EventFile | RemoteEventFile:
    # Remote file systems (gs://, s3://) go through TensorBoard's writer and its gfile layer.
    if "://" in directory:
        return RemoteEventFile(directory)
    return EventFile(directory)


def _check_step(step: object, tag: str) -> int:
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
        raise ValueError(f"step for {tag!r} must be an int >= 0; got {step!r}.")
    return int(step)


def _not_increasing(tag: str, step: int, last: int) -> ValueError:
    return ValueError(
        f"Step {step} for {tag!r} is not after the last step written ({last}); "
        f"steps must be unique and increasing per tag."
    )


def _describe(quantity: str, dataset: str, layer: str, extra: dict[str, object]) -> str:
    axes = [f"quantity={quantity!r}", f"dataset={dataset!r}", f"layer={layer!r}"]
    axes.extend(f"{key}={value!r}" for key, value in extra.items())
    return ", ".join(axes)
