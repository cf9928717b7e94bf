"""TensorFlow implementation of the backend functions (see :mod:`keras_inspect.backends`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = [
    "FIXED_ROWS",
    "all_equal",
    "compile_function",
    "compile_gradient_function",
    "process_count",
    "process_index",
    "read_dataset",
    "spans_processes",
    "to_numpy",
]

# A tf.function with a free row dimension serves every batch size with one trace.
FIXED_ROWS = False


def _signature(example: Any) -> list:
    def spec(array: Any) -> tf.TensorSpec:
        array = np.asarray(array)
        return tf.TensorSpec((None, *array.shape[1:]), tf.as_dtype(array.dtype))

    return [tf.nest.map_structure(spec, example)]


def _tensors(x: Any) -> Any:
    return tf.nest.map_structure(tf.convert_to_tensor, x)


def compile_function(
    fn: Callable[[Any], Any], example: Any, variables: list, compiled: bool
) -> Callable[[Any], Any]:
    """Wrap ``fn`` in a ``tf.function`` whose signature leaves the row count free.

    A fixed signature means exactly one trace per input structure: the last, shorter batch of
    a sample does not trigger a second trace (``reduce_retracing`` would need two). Variables
    are read live by the graph, so ``variables`` is not needed.
    """
    if not compiled:
        return lambda x: fn(_tensors(x))
    return tf.function(fn, input_signature=_signature(example))


def compile_gradient_function(
    fn: Callable, example: Any, reduce: Callable, variables: list, compiled: bool
) -> Callable:
    """See :func:`keras_inspect.backends.compile_gradient_function`.

    The tap watches each tensor on a ``tf.GradientTape``, so the operations that consume it are
    recorded whatever it depends on (an embedding of integer ids, a frozen layer's output).
    """

    def run(x: Any) -> Any:
        tapped: dict[str, Any] = {}

        with tf.GradientTape() as tape:

            def tap(key: str, tensor: Any) -> Any:
                tensor = tf.convert_to_tensor(tensor)
                if tensor.dtype.is_floating and key not in tapped:
                    tape.watch(tensor)
                    tapped[key] = tensor
                return tensor

            goal, outputs = fn(x, tap)
        gradients = tape.gradient(goal, tapped) if tapped else {}
        return reduce(outputs, dict(gradients))

    if not compiled:
        return lambda x: run(_tensors(x))
    return tf.function(run, input_signature=_signature(example))


def to_numpy(tensor: Any) -> np.ndarray:
    """A tensor as a NumPy array."""
    return np.asarray(tensor.numpy() if hasattr(tensor, "numpy") else tensor)


def _cluster() -> Any:
    """The cluster resolver of a multi-worker strategy in scope, or None."""
    resolver = getattr(tf.distribute.get_strategy(), "cluster_resolver", None)
    return resolver if resolver is not None and resolver.task_type else None


def spans_processes(variables: list) -> bool:
    """Always false: each process holds its weights whole (or as a strategy's replicas)."""
    return False


def process_index() -> int:
    """0 for the chief of a multi-worker strategy (worker 0 without a chief); else its place
    after it. 0 without a multi-worker strategy (MirroredStrategy is one process)."""
    resolver = _cluster()
    if resolver is None:
        return 0
    chief = "chief" in resolver.cluster_spec().as_dict()
    if resolver.task_type == "chief":
        return 0
    return int(resolver.task_id) + int(chief)


def process_count() -> int:
    """Chief and workers of a multi-worker strategy; 1 otherwise."""
    resolver = _cluster()
    if resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return len(spec.get("chief", [])) + len(spec.get("worker", []))


def all_equal(digest: bytes) -> bool:
    """Always true: without a collective that every worker is sure to take, nothing is
    compared (Keras 3's fit does not run under a multi-worker strategy)."""
    return True


def read_dataset(dataset: Any, limit: int) -> tuple[Any, Any]:
    """Up to ``limit`` rows of a batched or unbatched ``tf.data.Dataset`` as NumPy ``(x, y)``.

    ``x`` keeps the element's structure (a tuple becomes a list); ``y`` is ``None`` when the
    elements have no labels; ``(None, None)`` when the dataset yields nothing.
    """
    spec = dataset.element_spec
    parts = spec if isinstance(spec, tuple) else (spec,)
    first = tf.nest.flatten(parts[0])[0]
    # A batched dataset has a free leading dimension, unless batched with drop_remainder=True,
    # which tf.data records only in the dataset's class name.
    batched = first.shape.rank > 0 and (first.shape[0] is None or "Batch" in type(dataset).__name__)
    if not batched:
        dataset = dataset.batch(256)
    xs, ys, count = [], [], 0
    for element in dataset:
        element = element if isinstance(element, tuple) else (element,)
        xs.append(tf.nest.map_structure(lambda t: t.numpy(), element[0]))
        if len(element) > 1:
            ys.append(element[1].numpy())
        count += len(tf.nest.flatten(element[0])[0])
        if count >= limit:
            break
    if not xs:
        return None, None
    x = tf.nest.map_structure(lambda *a: np.concatenate(a), *xs)
    if isinstance(x, tuple):
        x = list(x)
    y = np.concatenate(ys) if ys else None
    return x, y
