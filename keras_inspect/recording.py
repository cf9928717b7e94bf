"""Which layers are inspected, and which tensors of a forward pass are recorded.

One mechanism serves Sequential, Functional and subclassed models alike: for the duration of a
call, each selected layer's ``call`` is replaced on the instance by a wrapper that calls the
original and records the result (subclassed models have no ``inputs``/``outputs`` to build a
feature model from). For layers that fuse an activation (Dense, Conv), the wrapper calls the
layer with a linear activation and applies the real one itself, so the same pass also yields
the pre-activation. Inside a compiled function the wrappers run at trace time only; they are
always removed when the call returns.

This module knows Keras, not a framework: :mod:`keras_inspect.capture` decides what is computed
from the recorded tensors and :mod:`keras_inspect.backends` compiles it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import keras

from keras_inspect.errors import ConfigError

__all__ = [
    "Recorded",
    "channels_last",
    "declared_outputs",
    "default_layers",
    "has_fused_activation",
    "model_layers",
    "recorded_call",
]

_FUSED_TYPES: tuple[type, ...] = (
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
)
_OPAQUE_TYPES: tuple[type, ...] = (keras.layers.RNN, keras.layers.Wrapper)
# Layers whose output is a learned representation; the default selection.
_TRANSFORM_TYPES: tuple[type, ...] = (
    *_FUSED_TYPES,
    keras.layers.EinsumDense,
    keras.layers.RNN,
    keras.layers.Bidirectional,
)


def model_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer of ``model``, nested ones included, in call order, without input layers."""
    found: list[keras.layers.Layer] = []

    def visit(parent: keras.layers.Layer) -> None:
        for layer in parent._flatten_layers(include_self=False, recursive=False):
            if isinstance(layer, keras.layers.InputLayer) or layer in found:
                continue
            found.append(layer)
            # A recurrent cell or wrapped layer runs inside its parent's loop; it has no
            # output of its own to record.
            if not isinstance(layer, _OPAQUE_TYPES):
                visit(layer)

    visit(model)
    return found


def default_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers inspected when the user names none: those that learn a transform.

    Dense, convolutional and recurrent layers are selected (also inside ``TimeDistributed``,
    whose output is then inspected); Embedding, normalisation, pooling,
    Dropout and reshaping layers are not (name them in ``layers=`` to inspect them): their
    outputs either repeat their input's statistics or, for embeddings, are per-feature lookups
    better covered by feature-group saliency.
    """
    return [layer for layer in model_layers(model) if _learns_transform(layer)]


def _learns_transform(layer: keras.layers.Layer) -> bool:
    """A transform layer, or a ``TimeDistributed`` one (its output: the inner layer's, per
    step; the wrapped layer itself runs inside the wrapper and has no output of its own)."""
    if isinstance(layer, keras.layers.TimeDistributed):
        return _learns_transform(layer.layer)
    return isinstance(layer, _TRANSFORM_TYPES) and not isinstance(layer, keras.Model)


def has_fused_activation(layer: keras.layers.Layer) -> bool:
    """Whether ``layer`` applies a non-linear activation inside its own ``call``."""
    activation = getattr(layer, "activation", None)
    return (
        isinstance(layer, _FUSED_TYPES)
        and activation is not None
        and activation is not keras.activations.linear
    )


def channels_last(layer: keras.layers.Layer, tensor: Any) -> Any:
    """``tensor`` (a layer's output, rows first) with its channel axis moved last."""
    if getattr(layer, "data_format", None) == "channels_first" and len(tensor.shape) >= 3:
        return keras.ops.moveaxis(tensor, 1, -1)
    return tensor


@dataclass(frozen=True)
class Recorded:
    """The tensors of one recorded forward pass.

    The tensors are the ones of the pass itself (channels as the layer lays them out, see
    :func:`channels_last`), so they can be differentiated against.

    Attributes:
        output: the scored model output.
        outputs: layer name -> its output (the first, for a layer with several).
        pre_activations: layer name -> output before its fused activation (fused layers only).
    """

    output: Any
    outputs: dict[str, Any]
    pre_activations: dict[str, Any]


def recorded_call(
    model: keras.Model,
    layers: Sequence[keras.layers.Layer],
    x: Any,
    output: int | str | None = None,
    pre_activations: Sequence[keras.layers.Layer] = (),
    tap: Callable[[str, Any], Any] | None = None,
) -> Recorded:
    """Call ``model(x, training=False)`` and record the outputs of ``layers``.

    Args:
        model: any Keras model.
        layers: the layers whose outputs are recorded.
        x: the model input, in the structure the model takes.
        output: which model output is scored: ``None`` for the first, an index or a name.
        pre_activations: layers (among ``layers``, with a fused activation) whose output before
            the activation is recorded too.
        tap: offered every recorded tensor as ``tap("out:<layer>", output)`` and
            ``tap("pre:<layer>", pre_activation)``; the pass continues with what it returns
            (see :func:`keras_inspect.backends.compile_gradient_function`).

    Raises:
        LookupError: a layer was not called by the model's forward pass.
    """
    records: dict[str, Any] = {}
    pre_records: dict[str, Any] = {}
    split = {id(layer) for layer in pre_activations}
    with _recording(layers, split, records, pre_records, tap or _untapped):
        outputs = model(x, training=False)
    missing = [layer.name for layer in layers if layer.name not in records]
    if missing:
        raise LookupError(
            f"layers {missing} were not called by the model's forward pass, so their outputs "
            "cannot be recorded"
        )
    return Recorded(_scored_output(model, outputs, output), records, pre_records)


def _untapped(key: str, tensor: Any) -> Any:
    return tensor


def declared_outputs(model: keras.Model, outputs: Any = None) -> list[str] | None:
    """The names of a dict-output model's outputs in the order the model declares them.

    A Functional model keeps the structure it was built with (``_outputs_struct``; its
    ``output_names`` are sorted, and on PyTorch so is the dict its call returns); for another
    model, the order of the dict ``outputs`` its call returned. ``None`` if the outputs are not
    a dict.
    """
    struct = getattr(model, "_outputs_struct", None)
    if isinstance(struct, dict):
        return [str(key) for key in struct]
    if isinstance(outputs, dict):
        return list(outputs)
    return None


def _scored_output(model: keras.Model, outputs: Any, output: int | str | None) -> Any:
    if isinstance(outputs, dict):
        names = declared_outputs(model, outputs)
        if output is None or isinstance(output, str):
            key = names[0] if output is None else output
        else:
            key = names[output] if output < len(names) else None
        if key not in outputs:
            _no_output(model, output, names)
        return outputs[key]
    if isinstance(outputs, list | tuple):
        names = [str(n) for n in getattr(model, "output_names", None) or []]
        index = output or 0
        if isinstance(index, str):
            index = names.index(index) if index in names else len(outputs)
        if index >= len(outputs):
            _no_output(model, output, names or list(range(len(outputs))))
        return outputs[index]
    if output not in (None, 0) and output not in (getattr(model, "output_names", None) or []):
        _no_output(model, output, ["the only output: 0"])
    return outputs


def _no_output(model: keras.Model, output: Any, names: list) -> None:
    raise ConfigError(
        f"output={output!r} names no output of model {model.name!r}, whose outputs are "
        f"{names}; pass an index into that list or one of its names (None: the first)."
    )


@contextmanager
def _recording(
    layers: Sequence[keras.layers.Layer],
    split: set[int],
    records: dict[str, Any],
    pre_records: dict[str, Any],
    tap: Callable[[str, Any], Any],
) -> Iterator[None]:
    installed = []
    try:
        for layer in layers:
            own = layer.__dict__.get("call")
            layer.call = _recorder(layer, layer.call, id(layer) in split, records, pre_records, tap)
            installed.append((layer, own))
        yield
    finally:
        for layer, own in reversed(installed):
            if own is None:
                del layer.call
            else:
                layer.call = own


def _recorder(layer, original, split, records, pre_records, tap):
    # A shared layer is recorded (and tapped) at its first call only.
    @functools.wraps(original)
    def call(*args, **kwargs):
        first_call = layer.name not in records
        if split:
            activation = layer.activation
            layer.activation = keras.activations.linear
            try:
                pre = original(*args, **kwargs)
            finally:
                layer.activation = activation
            if first_call:
                pre = tap(f"pre:{layer.name}", pre)
                pre_records[layer.name] = pre
            out = activation(pre)
        else:
            out = original(*args, **kwargs)
        if not first_call:
            return out
        several = type(out) in (list, tuple)
        first = tap(f"out:{layer.name}", out[0] if several else out)
        records[layer.name] = first
        return type(out)([first, *out[1:]]) if several else first

    return call
