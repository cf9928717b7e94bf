"""TensorFlow implementation of the backend functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = ["compile_function", "compile_gradient_function", "read_dataset"]


def _signature(example: Any) -> list:
    def spec(array: Any) -> tf.TensorSpec:
        array = np.asarray(array)
        return tf.TensorSpec((None, *array.shape[1:]), tf.as_dtype(array.dtype))

    return [tf.nest.map_structure(spec, example)]


def compile_function(fn: Callable[[Any], Any], example: Any) -> Callable[[Any], Any]:
    """Wrap ``fn`` in a ``tf.function`` whose signature leaves the row count free.

    A fixed signature means exactly one trace per input structure: the last, shorter batch of
    a sample does not trigger a second trace (``reduce_retracing`` would need two).
    """
    return tf.function(fn, input_signature=_signature(example))


def compile_gradient_function(
    fn: Callable, example: Any, reduce: Callable, compiled: bool = True
) -> Callable:
    """See :func:`keras_inspect.backends.compile_gradient_function`.

    The forward pass runs under a ``tf.GradientTape`` that watches the floating-point leaves
    of ``x`` (the model's weights are watched anyway, so every intermediate tensor of the pass
    is recorded and can be a target).
    """

    def run(x: Any) -> Any:
        with tf.GradientTape(persistent=True) as tape:
            for leaf in tf.nest.flatten(x):
                if leaf.dtype.is_floating:
                    tape.watch(leaf)
            objectives, outputs, targets = fn(x)
        gradients = [tape.gradient(goal, list(targets)) for goal in objectives]
        del tape
        return reduce(outputs, gradients)

    if not compiled:
        return lambda x: run(tf.nest.map_structure(tf.convert_to_tensor, x))
    return tf.function(run, input_signature=_signature(example))


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
