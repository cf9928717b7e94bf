"""One BLAS thread for the small matrix work of a checkpoint.

On this project's 2-core reference machine scikit-learn's logistic regression ran about 12 x
faster with BLAS capped to one thread: the arrays of a checkpoint are too small to amortise
thread start-up, and training already uses the cores. ``threadpoolctl.threadpool_limits`` scans
the loaded libraries on every call (about 5 ms), so the controller is built once and reused.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager

from threadpoolctl import ThreadpoolController

__all__ = ["single_blas_thread"]


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def single_blas_thread() -> AbstractContextManager:
    """Context in which BLAS libraries use one thread; restores the previous limits on exit."""
    return _controller().limit(limits=1, user_api="blas")
