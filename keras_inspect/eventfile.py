"""A synchronous TensorBoard event file for local directories, which never keeps half a write.

TensorBoard's own ``EventFileWriter`` checksums every record with a pure-Python CRC-32C when
TensorFlow's is not used: about 27 ms for one 256 x 256 float16 matrix, paid on a thread that
holds the GIL, i.e. by the training loop. The record framing is simple enough to write here with
``google-crc32c`` (C, about 7 us for the same matrix), synchronously, so a checkpoint is on disk
when ``flush`` returns and no extra thread competes with training.

Each record is: uint64 length, uint32 masked CRC of the length, the serialized ``Event``, uint32
masked CRC of the data (little-endian), as TensorBoard's readers expect.

Records wait in memory until :meth:`EventFile.flush`, which hands them to the operating system
in one go. When that fails half-way (a full disk), the file is cut back to the end of the last
flush that succeeded: a reader never meets a truncated record followed by other data, and the
space the partial write took is given back. The file remembers its identity (device and inode),
so :meth:`EventFile.lost` tells when it was deleted or replaced under the writer.

Remote directories (``gs://``) are written by TensorBoard's ``EventFileWriter`` through
:class:`RemoteEventFile`, which offers the same methods and raises its failures as ``OSError``.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager

import google_crc32c
from tensorboard.compat.proto import event_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

__all__ = ["EventFile", "RemoteEventFile", "masked_crc", "read_events"]

_counter = itertools.count()

# O_EXCL: a new file starts empty, so its committed length is known. O_APPEND: after cutting
# back a failed write, the next write lands at the new end, not after a hole.
_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | os.O_APPEND
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def masked_crc(data: bytes) -> bytes:
    """The CRC-32C of ``data``, masked as TFRecord framing does, little-endian."""
    crc = google_crc32c.value(data)
    masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    return struct.pack("<I", masked)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class EventFile:
    """Appends ``Event`` protos to a new event file in ``directory`` (created if missing).

    Args:
        directory: a local directory path.

    Raises:
        OSError: if the directory or the file cannot be created or its first record written
            (nothing is left behind then).

    Example:
        >>> events = EventFile(tempfile.mkdtemp())
        >>> events.add_event(event_pb2.Event(step=0, wall_time=time.time()))
        >>> events.flush()
        >>> events.close()
    """

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        host, pid, serial = socket.gethostname(), os.getpid(), next(_counter)
        # The serial is zero-padded: TensorBoard's Python loader reads a run's files in the
        # order of their names, and a file opened after a failure in the same second must
        # sort after the one it replaces ("...10" sorts before "...9").
        name = f"events.out.tfevents.{int(time.time()):010d}.{host}.{pid}.{serial:06d}.v2"
        self.path = os.path.join(directory, name)
        self._fd: int | None = os.open(self.path, _FLAGS, 0o666)
        self._identity = _identity(os.fstat(self._fd))
        self._pending: list[bytes] = []
        self._committed = 0  # bytes of records written by flushes that succeeded
        self.add_event(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))
        try:
            self.flush()
        except OSError:
            self.abandon()
            _remove(self.path)  # holds no complete record
            raise

    @property
    def committed(self) -> int:
        """Length of the file up to the end of the last flush that succeeded."""
        return self._committed

    def add_event(self, event: event_pb2.Event) -> None:
        """Append one event (kept in memory until :meth:`flush`)."""
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        self._pending.append(header + masked_crc(header) + data + masked_crc(data))

    def flush(self) -> None:
        """Hand everything added since the last flush to the operating system.

        Raises:
            OSError: if the write fails (a full disk); the events of this flush are dropped
                and the file is cut back to its length before it, so it stays readable.
            ValueError: if the file is closed.
        """
        if self._fd is None:
            raise ValueError(f"{self.path} is closed.")
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        try:
            _write_all(self._fd, data)
        except OSError:
            self._cut_back()
            raise
        self._committed += len(data)

    def lost(self) -> bool:
        """Whether the file was deleted or replaced (its folder too) since it was opened.

        Writes to a deleted file succeed and vanish; callers check this before writing.
        """
        if self._fd is None:
            return False
        try:
            on_disk = os.stat(self.path)
        except OSError:
            return True
        return _identity(on_disk) != self._identity

    def abandon(self) -> None:
        """Close the file, dropping events not flushed yet; never raises."""
        self._pending.clear()
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        """Flush and close the file (closed even when the flush fails).

        Raises:
            OSError: if the last flush fails (see :meth:`flush`).
        """
        if self._fd is None:
            return
        try:
            self.flush()
        finally:
            fd, self._fd = self._fd, None
            os.close(fd)

    def _cut_back(self) -> None:
        # Best effort: cutting a file back frees space even on a full disk; on a file system
        # that refuses (read-only since), the partial record is the file's last one, and
        # readers treat a truncated last record as the end of the file.
        try:
            os.ftruncate(self._fd, self._committed)
        except OSError:
            pass


class RemoteEventFile:
    """TensorBoard's ``EventFileWriter`` (gfile) behind :class:`EventFile`'s methods.

    gfile raises its own error types (TensorFlow's ``OpError`` and the like); they come out as
    ``OSError``. A remote file is not cut back after a failure (what was queued is lost) and
    its loss is not watched: :meth:`lost` is always False.

    Args:
        directory: a remote directory (``gs://bucket/run/inspect``).
    """

    def __init__(self, directory: str) -> None:
        self.path = directory
        with _as_os_error(directory):
            self._writer = EventFileWriter(directory, max_queue_size=4096)

    def add_event(self, event: event_pb2.Event) -> None:
        """Queue one event (written by TensorBoard's thread)."""
        with _as_os_error(self.path):
            self._writer.add_event(event)

    def flush(self) -> None:
        """Write the queued events."""
        with _as_os_error(self.path):
            self._writer.flush()

    def lost(self) -> bool:
        """Never known for a remote file."""
        return False

    def abandon(self) -> None:
        """Close, ignoring a failure (nothing of a broken remote file can be kept)."""
        try:
            self._writer.close()
        except Exception:
            pass

    def close(self) -> None:
        """Flush and close."""
        with _as_os_error(self.path):
            self._writer.close()


@contextmanager
def _as_os_error(directory: str) -> Iterator[None]:
    try:
        yield
    except OSError:
        raise
    except Exception as error:
        raise OSError(f"{type(error).__name__}: {error} (writing to {directory})") from error


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def read_events(path: str) -> Iterator[event_pb2.Event]:
    """The events of one event file, in order, up to the first incomplete or corrupt record.

    The last record of a file still being written (or cut by a full disk) may be incomplete,
    and ends the iteration. Checked with ``google-crc32c``: TensorBoard's own record reader
    checks every record with a pure-Python CRC when TensorFlow is absent.
    """
    with open(path, "rb") as file:
        while True:
            header = file.read(12)
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            if header[8:] != masked_crc(header[:8]):
                return
            data = file.read(length)
            footer = file.read(4)
            if len(data) < length or footer != masked_crc(data):
                return
            yield event_pb2.Event.FromString(data)
