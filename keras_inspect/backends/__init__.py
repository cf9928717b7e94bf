"""Backend-specific code, one module per Keras backend with the same function names.

Only this package knows which framework runs the model; everything else calls
:func:`compile_function` and gets NumPy arrays back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

__all__ = ["compile_function", "compile_gradient_function"]


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


def compile_gradient_function(
    fn: Callable[[Any], tuple[list[Any], Any, list[Any]]], example: Any
) -> Callable[[Any], tuple[Any, list[list[Any]]]]:
    """Compile ``x -> (outputs, gradients)`` from a forward function that names its targets.

    Args:
        fn: ``fn(x) -> (objectives, outputs, targets)``: ``objectives`` a list of scalar
            tensors computed from ``x``; ``outputs`` any structure of tensors to return as they
            are; ``targets`` a list of tensors of the same pass (intermediate tensors, or
            leaves of ``x``) to differentiate each objective against.
        example: NumPy inputs of the shape ``fn`` will see (the row count is left free).

    Returns:
        A callable giving ``outputs`` and, per objective and target, d objective / d target
        (same shape as the target), or ``None`` for a target the objective does not depend on.

    Raises:
        NotImplementedError: the active Keras backend has no implementation yet.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from keras_inspect.backends import tensorflow as backend_impl

        return backend_impl.compile_gradient_function(fn, example)
    raise NotImplementedError(
        f"gradient quantities need the TensorFlow backend for now (KERAS_BACKEND={backend!r}); "
        "leave feature_saliency, filter_importance and input_saliency out of quantities=."
    )
