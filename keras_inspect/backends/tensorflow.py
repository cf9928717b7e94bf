"""TensorFlow implementation of the backend functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = ["compile_function", "compile_gradient_function"]


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
