"""A single background thread that processes checkpoints in order, one at a time.

The training thread hands over a checkpoint's captured activations and goes on; the worker
computes the quantities and writes them. The queue holds at most one waiting checkpoint, so
memory stays bounded by two checkpoints' activations however fast training is: a training
thread that gets ahead waits in :meth:`Worker.submit`. An exception in the worker (one that
escaped the quantities' own isolation: a bug) is kept and re-raised on the training thread at
the next :meth:`submit` or at :meth:`drain`.

An ``OSError`` is the exception: a file system's failure never reaches training. The writer
reports its own (:mod:`keras_inspect.sink`); one that escapes anyway is said once per cause as
an :class:`~keras_inspect.guard.InspectWarning`, and the next item is processed. There is no
worker with ``strict=True`` (checkpoints are processed inline, where failures are raised).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from keras_inspect.guard import say_os_error_once

__all__ = ["Worker"]

_STOP = object()


class Worker:
    """Runs ``process(item)`` for each submitted item on one daemon thread, in order.

    Args:
        process: the function applied to each item.
        name: the thread's name (shown in tracebacks and profilers).

    Example:
        >>> done = []
        >>> worker = Worker(done.append)
        >>> worker.submit(1); worker.submit(2); worker.drain()
        >>> done
        [1, 2]
    """

    def __init__(self, process: Callable[[Any], None], name: str = "keras-inspect") -> None:
        self._process = process
        self._name = name
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._said: set[str] = set()  # causes of OSErrors already told

    def submit(self, item: Any) -> None:
        """Queue ``item``; waits while the previous item is still waiting to be processed."""
        self._raise_pending()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._queue.put(item)

    def drain(self) -> None:
        """Wait until every submitted item is processed; re-raise a worker failure."""
        if self._thread is not None:
            self._queue.join()
        self._raise_pending()

    def stop(self) -> None:
        """Drain, then end the thread (a later :meth:`submit` starts a new one)."""
        try:
            self.drain()
        finally:
            if self._thread is not None and self._thread.is_alive():
                self._queue.put(_STOP)
                self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if self._error is None:
                    self._process(item)
            except OSError as error:
                self._say(error)
            except BaseException as error:  # kept for the training thread, never lost
                self._error = error
            finally:
                self._queue.task_done()

    def _say(self, error: OSError) -> None:
        try:
            say_os_error_once(error, self._name, self._said)
        except BaseException as raised:  # warnings made errors: then the caller's to see
            self._error = raised

    def _raise_pending(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error
