"""What the gradient quantities differentiate, and against what.

One compiled pass (:class:`keras_inspect.capture.Capture` with a :class:`GradientPlan`) gives
the model output, the inspected layers' statistics and, for the scalar :func:`objective`, the
sums of the absolute values of its gradients with respect to

* each feature group's source: a float model input, or a layer's output (an Embedding's output
  for id inputs: the h0 slices of Guo et al., section 3.4);
* each inspected layer's pre-activation z (the output for layers without a fused activation):
  TSViz's delta = d a^L / d a^l * d a^l / d z^l (Siddiqui et al., eq. 11), from which filter
  importance is summed.

A second, small pass over a handful of fixed samples gives the input saliency maps: per float
input, d objective / d input and, per inspected layer, d (sum of the layer's output) / d input
(TSViz eq. 13-15, for the whole layer rather than one chosen filter). It is one backward pass
for every layer at once: each sample is repeated once per goal, and the objective of a repeat
is its goal's (samples do not interact in inference mode).

The framework-specific part (the tape) is :func:`keras_inspect.backends.compile_gradient_function`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras

from keras_inspect.reductions import row_objective

__all__ = [
    "GradientPlan",
    "input_leaves",
    "input_names",
    "objective",
    "source_tap",
    "tapped_inputs",
]


def objective(output: Any, valid: Any = None) -> Any:
    """The scalar whose gradients the saliency quantities use, summed over samples.

    A single-unit output (binary classifier, regressor) is summed as it is. For an output of
    K > 1 units (a multi-class classifier) each sample contributes its largest unit, the score
    of the class it predicts, so the gradients explain the decision the model made (summing
    all K softmax probabilities would give a constant 1 and zero gradients). Samples do not
    interact in inference mode, so the gradient of the sum with respect to one sample's input
    is that sample's own gradient. ``valid`` flags the real rows of a padded batch: the others
    do not count (their gradients are zero).
    """
    scores = row_objective(output)
    if valid is not None:
        scores = keras.ops.where(valid, scores, keras.ops.zeros_like(scores))
    return keras.ops.sum(scores)


@dataclass(frozen=True)
class GradientPlan:
    """What one gradient pass differentiates against.

    Attributes:
        sources: gradient sources of the feature groups, as ``FeatureGroup.key`` strings.
        source_layers: layers whose outputs are sources (recorded in the pass for that).
        layer_deltas: whether to return d objective / d z of every inspected layer.
        saliency_samples: rows per dataset for the input saliency maps (0: none).
    """

    sources: tuple[str, ...] = ()
    source_layers: tuple[Any, ...] = ()
    layer_deltas: bool = True
    saliency_samples: int = 0


# Names Keras makes up for an unnamed keras.Input; shown to users as "input" / "input_<i>".
_GENERATED_NAME = re.compile(r"(keras_tensor|input_layer)(_\d+)?")


def input_names(model: keras.Model, x: Any) -> list[str]:
    """Names of the model's inputs in the order of ``input_leaves(x)``.

    The keys of a dict ``x``; else the names of the model's ``keras.Input`` layers, where the
    user gave them; else ``"input"`` for a single input and ``"input_<i>"`` for several.
    """
    if isinstance(x, Mapping):
        return list(x)
    try:
        names = [tensor.name for tensor in model.inputs]
    except (AttributeError, TypeError, ValueError):
        names = []
    count = len(x) if isinstance(x, list | tuple) else 1
    defaults = ["input"] if count == 1 else [f"input_{i}" for i in range(count)]
    if len(names) != count:
        return defaults
    return [
        default if _GENERATED_NAME.fullmatch(name) else name
        for name, default in zip(names, defaults, strict=True)
    ]


def input_leaves(x: Any) -> list[Any]:
    """The input arrays (or tensors) of ``x``, in the order of :func:`input_names`."""
    if isinstance(x, Mapping):
        return list(x.values())
    if isinstance(x, list | tuple):
        return list(x)
    return [x]


def source_tap(key: str) -> str:
    """The tap key (:func:`keras_inspect.recording.recorded_call`, :func:`tapped_inputs`) of
    a gradient source key (``FeatureGroup.key``)."""
    kind, _, name = key.partition(":")
    return f"{'in' if kind == 'input' else 'out'}:{name}"


def tapped_inputs(model: keras.Model, x: Any, tap: Any) -> Any:
    """``x`` with each leaf passed through ``tap("in:<input name>", leaf)`` (same structure)."""
    names = input_names(model, x)
    leaves = [tap(f"in:{n}", leaf) for n, leaf in zip(names, input_leaves(x), strict=True)]
    if isinstance(x, Mapping):
        return dict(zip(x, leaves, strict=True))
    if isinstance(x, list | tuple):
        return type(x)(leaves)
    return leaves[0]
