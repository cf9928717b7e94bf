"""A slow lane: expensive per-checkpoint work on a thread of its own, after a checkpoint.

A t-SNE of every layer, or the kNN entropies, clusters and channel capacities of a 50-layer
CNN, can take longer than a checkpoint interval. A :class:`Lane` runs such jobs one at a time,
in the order offered, and holds at most one waiting job, so its memory is bounded. When the
work is slower than the checkpoints, either a newer job replaces the waiting one (its step is
recorded in :attr:`Lane.skipped`: the lane follows the newest checkpoint at its own pace), or,
with ``keep_all``, :meth:`Lane.offer` waits for the slot (every checkpoint gets its job, and the
caller slows down to the lane's pace, until :meth:`Lane.release` when it must not wait: then
the last few jobs queue up).

The thread can run at the lowest CPU priority (where the OS allows it), taking the cores only
when training leaves them idle. It is not a daemon: after :meth:`Lane.finish` it ends when the
last job is done, and a script's interpreter waits for that at exit rather than losing work.
An exception in a job (one that escaped the quantities' own isolation: a bug) is kept and
re-raised by the next :meth:`Lane.offer` or :meth:`Lane.drain`; an ``OSError`` on the lane's
thread is not (a file system's failure never reaches training): it is said once per cause as
an :class:`~keras_inspect.guard.InspectWarning` and the next job runs. Writing reports its own
failures (:mod:`keras_inspect.sink`); this is the last line of defence. A lane that is not
asynchronous (``strict=True``) raises every failure inside :meth:`Lane.offer`.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from keras_inspect.guard import say_os_error_once

__all__ = ["Lane"]


class Lane:
    """Runs ``run(job)`` for the newest offered jobs on one thread.

    Args:
        run: the work; ``job.step`` names the checkpoint a job belongs to.
        name: the thread's name (shown in tracebacks and profilers).
        asynchronous: ``False`` runs each job inside :meth:`offer` (e.g. for ``strict=True``).
        yielding: run at the lowest CPU priority. Work that should keep pace with training
            (one job per checkpoint) shares the cores instead: a yielding thread gets almost no
            time while training keeps both cores of a small machine busy.
        keep_all: never replace a waiting job: :meth:`offer` waits until the slot is free
            (after :meth:`release`, jobs queue instead).

    Example:
        >>> done = []
        >>> lane = Lane(lambda job: done.append(job.step), "example")
        >>> lane.offer(job); lane.finish(); lane.drain()
        True
    """

    def __init__(
        self,
        run: Callable[[Any], None],
        name: str,
        asynchronous: bool = True,
        yielding: bool = True,
        keep_all: bool = False,
    ) -> None:
        self._run = run
        self._yielding = yielding
        self._keep_all = keep_all
        self._name = name
        self._asynchronous = asynchronous
        self._lock = threading.Condition()
        self._waiting: deque[Any] = deque()  # one job, more only after release()
        self._released = False
        self._running: int | None = None  # the step being worked on
        self._thread: threading.Thread | None = None
        self._finishing = False
        self._error: BaseException | None = None
        self._said: set[str] = set()  # causes of OSErrors already told
        self.done: list[int] = []  # steps finished, in order
        self.skipped: list[int] = []  # steps replaced by a newer one before their turn

    def offer(self, job: Any) -> int | None:
        """Run ``job`` when the lane is free; returns the step of a waiting job it replaced
        (never with ``keep_all``: then it waits while another job is waiting)."""
        self._raise_pending()
        if not self._asynchronous:
            self._run(job)
            self.done.append(job.step)
            return None
        with self._lock:
            while self._keep_all and self._waiting and not self._released and not self._error:
                self._lock.wait()
            replaced = None
            if self._waiting and not self._keep_all:
                replaced = self._waiting.pop().step
                self.skipped.append(replaced)
            self._waiting.append(job)
            self._finishing = False
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=False)
                self._thread.start()
            self._lock.notify_all()
        return replaced

    def release(self) -> None:
        """From now on :meth:`offer` never waits (``keep_all``): jobs queue up instead."""
        with self._lock:
            self._released = True
            self._lock.notify_all()

    def hold(self) -> None:
        """Undo :meth:`release`: ``keep_all`` offers wait for the slot again."""
        with self._lock:
            self._released = False

    def finish(self) -> None:
        """No more jobs for now: the thread ends once the last one is done."""
        with self._lock:
            self._finishing = True
            self._lock.notify_all()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until no job is waiting or running; re-raise a failure a job let through.

        Args:
            timeout: wait at most this many seconds (``None``: as long as it takes).

        Returns:
            True when nothing is left; False when the timeout ran out first (the thread goes
            on and finishes the rest).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._waiting or self._running is not None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left)
        self._raise_pending()
        return True

    @property
    def unfinished(self) -> list[int]:
        """Steps being worked on or waiting for their turn."""
        with self._lock:
            steps = [] if self._running is None else [self._running]
            return steps + [job.step for job in self._waiting]

    @property
    def thread(self) -> threading.Thread | None:
        """The lane's thread while it lives (for a test or a caller that must join it)."""
        return self._thread

    def _loop(self) -> None:
        if self._yielding:
            _lower_priority()
        while True:
            with self._lock:
                while not self._waiting:
                    # Idle: end when finished or after a while; the next offer starts a new one.
                    if self._finishing or not self._lock.wait(timeout=30.0):
                        self._thread = None
                        return
                job = self._waiting.popleft()
                self._running = job.step
                self._lock.notify_all()  # the slot is free for a waiting offer
            try:
                if self._error is None:
                    self._run(job)
                    self.done.append(job.step)
            except OSError as error:
                try:
                    say_os_error_once(error, self._name, self._said)
                except BaseException as raised:  # warnings made errors: the caller's to see
                    self._error = raised
            except BaseException as error:  # kept for the training thread, never lost
                self._error = error
            finally:
                with self._lock:
                    self._running = None
                    self._lock.notify_all()

    def _raise_pending(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error


def _lower_priority() -> None:
    """Gives the calling thread the lowest CPU priority, where the OS allows it (Linux).

    On Linux a thread is scheduled on its own and has its own nice value: a niced lane takes
    the cores only when training leaves them idle. Elsewhere this does nothing.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass
