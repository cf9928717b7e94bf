"""Backend-specific code, one module per Keras backend with the same function names.

Only this package knows which framework runs the model; everything else builds its passes from
Keras calls and ``keras.ops``, hands them to :func:`compile_function` or
:func:`compile_gradient_function`, and converts what comes back with ``keras.ops``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

__all__ = ["compile_function", "compile_gradient_function", "read_tf_dataset"]


def compile_function(
    fn: Callable[[Any], Any], example: Any, compiled: bool = True
) -> Callable[[Any], Any]:
    """Compile ``fn(inputs)`` for the active Keras backend, once per input signature.

    Args:
        fn: a Python function of one (possibly nested) input structure, built from Keras calls.
        example: NumPy inputs of the shape ``fn`` will see; only the per-row shapes and dtypes
            are used (the row count is left free so one trace serves every batch size).
        compiled: ``False`` runs ``fn`` eagerly (a cheap first look at a model: nothing traced).

    Returns:
        A callable with the same contract as ``fn``. On backends without a compiler wired in
        yet it is ``fn`` itself (eager, correct but slower).
    """
    if compiled and keras.backend.backend() == "tensorflow":
        from keras_inspect.backends import tensorflow as backend_impl

        return backend_impl.compile_function(fn, example)
    return fn


def compile_gradient_function(
    fn: Callable[[Any], tuple[list[Any], Any, list[Any]]],
    example: Any,
    reduce: Callable[[Any, list[list[Any]]], Any],
    compiled: bool = True,
) -> Callable[[Any], Any]:
    """Compile ``x -> reduce(outputs, gradients)`` from a forward function that names its targets.

    Args:
        fn: ``fn(x) -> (objectives, outputs, targets)``: ``objectives`` a list of scalar
            tensors computed from ``x``; ``outputs`` any structure of tensors; ``targets`` a list
            of tensors of the same pass (intermediate tensors, or leaves of ``x``) to
            differentiate each objective against.
        example: NumPy inputs of the shape ``fn`` will see (the row count is left free).
        reduce: ``reduce(outputs, gradients)``, built from ``keras.ops``, runs inside the
            compiled function: ``gradients[i][j]`` is d objectives[i] / d targets[j] (same shape
            as the target), or ``None`` where the objective does not depend on the target.
            What it returns is what the compiled function returns, so full gradients need not
            leave the device.
        compiled: ``False`` runs eagerly (nothing traced).

    Raises:
        NotImplementedError: the active Keras backend has no implementation yet.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from keras_inspect.backends import tensorflow as backend_impl

        return backend_impl.compile_gradient_function(fn, example, reduce, compiled)
    raise NotImplementedError(
        f"gradient quantities need the TensorFlow backend for now (KERAS_BACKEND={backend!r}); "
        "leave feature_saliency, filter_importance and input_saliency out of quantities=."
    )


def read_tf_dataset(dataset: Any, limit: int) -> tuple[Any, Any]:
    """Up to ``limit`` rows of a ``tf.data.Dataset`` as NumPy ``(x, y)`` (``(None, None)`` if
    it yields nothing); a tf.data pipeline needs TensorFlow whatever the Keras backend."""
    from keras_inspect.backends import tensorflow as backend_impl

    return backend_impl.read_dataset(dataset, limit)
