"""Backend-specific code, one module per Keras backend with the same function names.

Only this package knows which framework runs the model; everything else calls
:func:`compile_function` and gets NumPy arrays back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

__all__ = ["compile_function"]


def compile_function(fn: Callable[[Any], Any], example: Any) -> Callable[[Any], Any]:
    """Compile ``fn(inputs)`` for the active Keras backend, once per input signature.

    Args:
        fn: a Python function of one (possibly nested) input structure, built from Keras calls.
        example: NumPy inputs of the shape ``fn`` will see; only the per-row shapes and dtypes
            are used (the row count is left free so one trace serves every batch size).

    Returns:
        A callable with the same contract as ``fn``. On backends without a compiler wired in
        yet it is ``fn`` itself (eager, correct but slower).
    """
    if keras.backend.backend() == "tensorflow":
        from keras_inspect.backends import tensorflow as backend_impl

        return backend_impl.compile_function(fn, example)
    return fn
