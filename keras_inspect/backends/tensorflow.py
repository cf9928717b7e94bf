"""TensorFlow implementation of the backend functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = ["compile_function"]


def compile_function(fn: Callable[[Any], Any], example: Any) -> Callable[[Any], Any]:
    """Wrap ``fn`` in a ``tf.function`` whose signature leaves the row count free.

    A fixed signature means exactly one trace per input structure: the last, shorter batch of
    a sample does not trigger a second trace (``reduce_retracing`` would need two).
    """

    def spec(array: Any) -> tf.TensorSpec:
        array = np.asarray(array)
        return tf.TensorSpec((None, *array.shape[1:]), tf.as_dtype(array.dtype))

    signature = tf.nest.map_structure(spec, example)
    return tf.function(fn, input_signature=[signature])
