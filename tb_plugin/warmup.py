"""Reads whole series in the background, while the plugin has nothing else to do.

The tab opens at the newest checkpoint, which the plugin answers by reading each series' newest
point only (:func:`tb_plugin.data._read_at`). The first move of the checkpoint cursor then needs
the whole series, which the data provider can only read in full: 150-270 ms for the layer
statistics of 20 runs or a run's 200 correlation matrices. Those are exactly the series on
screen, so after answering at the newest checkpoint the plugin queues their whole-series reads
here, and a single worker thread runs them once no request has come in for ``quiet`` seconds
(a person looks at the page before scrubbing), one small job at a time so that a request
arriving meanwhile waits for one job at most. The newest job goes first: what was shown last
is what the user is looking at.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["Warmer"]

logger = logging.getLogger(__name__)


class Warmer:
    """A queue of background jobs run by one daemon thread when requests are quiet.

    Args:
        quiet: seconds without a request before the next job starts.
        max_jobs: queued jobs kept at most; the oldest are dropped beyond it.

    Jobs run newest first.
    """

    def __init__(self, quiet: float = 0.5, max_jobs: int = 512) -> None:
        self.quiet = quiet
        self.max_jobs = max_jobs
        self._jobs: OrderedDict[Hashable, Callable[[], object]] = OrderedDict()
        self._cond = threading.Condition()
        self._last_request = time.monotonic()
        self._active_requests = 0
        self._thread: threading.Thread | None = None
        self._running = False
        self._failures = 0
        self.done = 0

    def add(self, key: Hashable, job: Callable[[], object]) -> None:
        """Queues ``job`` (or moves a waiting job with the same ``key`` to the front)."""
        with self._cond:
            self._jobs.pop(key, None)
            self._jobs[key] = job
            while len(self._jobs) > self.max_jobs:
                self._jobs.popitem(last=False)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="keras-inspect-warmup", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._jobs)

    def request(self):
        """Context manager around a request: jobs wait while it runs and ``quiet`` after it."""
        return _Request(self)

    def wait_idle(self, timeout: float = 30) -> bool:
        """Blocks until the queue is empty (for tests and benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._jobs or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    idle_for = time.monotonic() - self._last_request
                    if self._jobs and not self._active_requests and idle_for >= self.quiet:
                        break
                    self._cond.wait(max(0.01, self.quiet - idle_for) if self._jobs else None)
                _, job = self._jobs.popitem(last=True)
                self._running = True
            try:
                job()
                self.done += 1
            except Exception as error:  # a warm-up is only an optimisation: never fatal
                self._failures += 1
                if self._failures == 1:
                    logger.warning("keras_inspect: a background read failed: %s", error)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()


class _Request:
    def __init__(self, warmer: Warmer) -> None:
        self.warmer = warmer

    def __enter__(self) -> None:
        with self.warmer._cond:
            self.warmer._active_requests += 1

    def __exit__(self, *exc_info: object) -> None:
        with self.warmer._cond:
            self.warmer._active_requests -= 1
            self.warmer._last_request = time.monotonic()
            self.warmer._cond.notify_all()
