"""Backend-specific code, one module per Keras backend with the same function names.

Only this package knows which framework runs the model; everything else builds its passes from
Keras calls and ``keras.ops``, hands them to :func:`compile_function` or
:func:`compile_gradient_function`, and converts what comes back with :func:`to_numpy`.

The gradient contract is framework-neutral: a forward function marks the tensors it wants
differentiated with a **tap**, ``tap(key, tensor) -> tensor``, and goes on with the tensor the
tap returns. On TensorFlow the tap watches the tensor on a tape; on PyTorch it makes sure the
tensor is part of the autograd graph; on JAX it adds a zero "tap" argument to it and the
gradient is taken with respect to that argument (JAX cannot differentiate against a tensor
after the fact). Whatever the framework, the passes see ``{key: gradient}``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import keras
import numpy as np

__all__ = [
    "GRADIENT_BACKENDS",
    "Tap",
    "all_equal",
    "compile_function",
    "compile_gradient_function",
    "fixed_rows",
    "process_count",
    "process_index",
    "read_tf_dataset",
    "spans_processes",
    "to_numpy",
]

Tap = Callable[[str, Any], Any]

# Keras backends whose gradients keras_inspect can take.
GRADIENT_BACKENDS = ("tensorflow", "jax", "torch")


def _impl() -> ModuleType | None:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from keras_inspect.backends import tensorflow as impl
    elif backend == "jax":
        from keras_inspect.backends import jax as impl
    elif backend == "torch":
        from keras_inspect.backends import torch as impl
    else:
        return None
    return impl


def compile_function(
    fn: Callable[[Any], Any],
    example: Any,
    variables: Sequence[Any] = (),
    compiled: bool = True,
) -> Callable[[Any], Any]:
    """Compile ``fn(inputs)`` for the active Keras backend, once per input signature.

    Args:
        fn: a Python function of one (possibly nested) input structure, built from Keras calls.
        example: NumPy inputs of the shape ``fn`` will see; only the per-row shapes and dtypes
            are used (on TensorFlow the row count is left free so one trace serves every batch
            size; on JAX every call must have the example's row count, see :func:`fixed_rows`).
        variables: the Keras variables ``fn`` reads (a model's ``variables``). JAX compiles
            them in as arguments, so the compiled function follows training; elsewhere they are
            read where they live.
        compiled: ``False`` runs ``fn`` eagerly (a cheap first look at a model: nothing traced).

    Returns:
        A callable of NumPy inputs with ``fn``'s outputs (backend tensors; see
        :func:`to_numpy`). PyTorch always runs eagerly (``torch.compile`` is slow to compile and
        fails on common layers), without autograd. Backends without a module here run ``fn``
        as it is.
    """
    impl = _impl()
    if impl is None:
        return fn
    return impl.compile_function(fn, example, list(variables), compiled)


def compile_gradient_function(
    fn: Callable[[Any, Tap], tuple[Any, Any]],
    example: Any,
    reduce: Callable[[Any, dict[str, Any]], Any],
    variables: Sequence[Any] = (),
    compiled: bool = True,
) -> Callable[[Any], Any]:
    """Compile ``x -> reduce(outputs, gradients)`` from a forward function that taps its targets.

    Args:
        fn: ``fn(x, tap) -> (objective, outputs)``: ``objective`` a scalar tensor computed from
            ``x``; ``outputs`` any structure of tensors. Each tensor to differentiate against
            (a leaf of ``x``, an intermediate tensor) goes through ``tap(key, tensor)``, and the
            pass continues with what the tap returns (the same values). A key tapped twice keeps
            its first tensor; a non-float tensor is passed through and has no gradient.
        example: NumPy inputs of the shape ``fn`` will see (see :func:`compile_function`).
        reduce: ``reduce(outputs, gradients)``, built from ``keras.ops``, runs inside the
            compiled function: ``gradients[key]`` is d objective / d tapped tensor (same shape),
            or ``None`` where the objective does not depend on it (structurally: a tensor on no
            path to the objective; JAX tells this in eager mode only and gives zeros when
            compiled). What ``reduce`` returns is what the compiled function returns, so full
            gradients need not leave the device.
        variables: the Keras variables ``fn`` reads (see :func:`compile_function`).
        compiled: ``False`` runs eagerly (nothing traced).

    Raises:
        NotImplementedError: the active Keras backend has no gradient implementation.
    """
    impl = _impl()
    if impl is None:
        raise NotImplementedError(
            f"gradient quantities need the TensorFlow, JAX or PyTorch backend, not "
            f"KERAS_BACKEND={keras.backend.backend()!r}"
        )
    return impl.compile_gradient_function(fn, example, reduce, list(variables), compiled)


def fixed_rows() -> bool:
    """Whether a compiled function must see the same row count at every call (JAX traces once
    per shape): callers pad a short last batch and drop the padding's results."""
    impl = _impl()
    return bool(impl is not None and impl.FIXED_ROWS)


def to_numpy(tensor: Any) -> Any:
    """A tensor of the active backend (or a NumPy value) as a NumPy array.

    A float type NumPy has no kind for (``bfloat16`` of mixed precision, which ``ml_dtypes``
    gives NumPy as an opaque ``V`` type) comes back as float32, which every quantity and the
    writer read.
    """
    impl = _impl()
    array = keras.ops.convert_to_numpy(tensor) if impl is None else impl.to_numpy(tensor)
    if getattr(array, "dtype", None) is not None and array.dtype.kind == "V":
        array = array.astype(np.float32)
    return array


def process_index() -> int:
    """This process's index in a multi-process job, from the backend (0 alone): JAX's
    ``jax.process_index()``, PyTorch's ``torch.distributed`` rank, TensorFlow's task under a
    multi-worker strategy."""
    impl = _impl()
    return 0 if impl is None else impl.process_index()


def process_count() -> int:
    """How many processes the job has (1 alone)."""
    impl = _impl()
    return 1 if impl is None else impl.process_count()


def spans_processes(variables: Sequence[Any]) -> bool:
    """Whether some of ``variables`` are sharded across processes (not replicated): then every
    process must take part in a pass over the model (its passes are collectives)."""
    impl = _impl()
    return bool(impl is not None and impl.spans_processes(list(variables)))


def all_equal(digest: bytes) -> bool:
    """Whether every process of the job passed the same ``digest``. A collective: with more
    than one process, every process must call it, or the job waits."""
    impl = _impl()
    return True if impl is None or process_count() == 1 else impl.all_equal(digest)


def read_tf_dataset(dataset: Any, limit: int) -> tuple[Any, Any]:
    """Up to ``limit`` rows of a ``tf.data.Dataset`` as NumPy ``(x, y)`` (``(None, None)`` if
    it yields nothing); a tf.data pipeline needs TensorFlow whatever the Keras backend."""
    from keras_inspect.backends import tensorflow as backend_impl

    return backend_impl.read_dataset(dataset, limit)
