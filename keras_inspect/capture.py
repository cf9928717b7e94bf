"""One forward pass of a model in inference mode -> every selected layer's output.

One mechanism serves Sequential, Functional and subclassed models alike: for the duration of a
trace, each selected layer's ``call`` is replaced on the instance by a wrapper that calls the
original and records the result (subclassed models have no ``inputs``/``outputs`` to build a
feature model from). For layers that fuse an activation (Dense, Conv), the wrapper calls the
layer with a linear activation and applies the real one itself, so the same pass also yields
the pre-activation. The pass is compiled once per input signature by :mod:`keras_inspect.backends`;
the wrappers only exist while the Python body runs, i.e. at trace time, and are always removed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_inspect.backends import compile_function

__all__ = [
    "Capture",
    "CaptureResult",
    "default_layers",
    "has_fused_activation",
    "model_layers",
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

    Dense, convolutional and recurrent layers are selected; Embedding, normalisation, pooling,
    Dropout and reshaping layers are not (name them in ``layers=`` to inspect them): their
    outputs either repeat their input's statistics or, for embeddings, are per-feature lookups
    better covered by feature-group saliency.
    """
    return [
        layer
        for layer in model_layers(model)
        if isinstance(layer, _TRANSFORM_TYPES) and not isinstance(layer, keras.Model)
    ]


def has_fused_activation(layer: keras.layers.Layer) -> bool:
    """Whether ``layer`` applies a non-linear activation inside its own ``call``."""
    activation = getattr(layer, "activation", None)
    return (
        isinstance(layer, _FUSED_TYPES)
        and activation is not None
        and activation is not keras.activations.linear
    )


@dataclass(frozen=True)
class CaptureResult:
    """What one pass over a sample produced, as NumPy arrays with samples first.

    Attributes:
        output: the scored model output, shape (N,) for a single unit or (N, K).
        activations: layer name -> output, channels last.
        pre_activations: layer name -> output before its fused activation (fused layers only).
    """

    output: np.ndarray
    activations: dict[str, np.ndarray]
    pre_activations: dict[str, np.ndarray]


class Capture:
    """Run a model once per sample and collect the outputs of selected layers.

    Args:
        model: a built Keras model of any family.
        layers: the layers to record (objects from :func:`model_layers`).
        output: which model output is scored: ``None`` for the first, an index, or an output name.
        batch_size: rows per compiled call; bounds the memory of one pass.

    Example:
        >>> capture = Capture(model, default_layers(model))
        >>> result = capture.run(x_sample)
        >>> result.activations["dense_1"].shape
        (2048, 256)
    """

    def __init__(
        self,
        model: keras.Model,
        layers: Sequence[keras.layers.Layer],
        output: int | str | None = None,
        batch_size: int = 4096,
    ) -> None:
        self.model = model
        self.layers = list(layers)
        self.output = output
        self.batch_size = batch_size
        self.fused = [has_fused_activation(layer) for layer in self.layers]
        self._compiled: dict[Any, Callable[[Any], Any]] = {}

    def run(self, x: Any) -> CaptureResult:
        """Forward ``x`` (array, list or dict of arrays; rows first) in inference mode."""
        n_rows = len(keras.tree.flatten(x)[0])
        parts = [
            self._run_batch(_take_rows(x, slice(start, start + self.batch_size)))
            for start in range(0, n_rows, self.batch_size)
        ]
        output = np.concatenate([p[0] for p in parts])
        activations, pre_activations = {}, {}
        fused_layers = [
            layer for layer, fused in zip(self.layers, self.fused, strict=True) if fused
        ]
        for i, layer in enumerate(self.layers):
            activations[layer.name] = _channels_last(
                layer, np.concatenate([p[1][i] for p in parts])
            )
        for i, layer in enumerate(fused_layers):
            pre = np.concatenate([p[2][i] for p in parts])
            pre_activations[layer.name] = _channels_last(layer, pre)
        if output.ndim == 2 and output.shape[1] == 1:
            output = output[:, 0]
        return CaptureResult(output, activations, pre_activations)

    @property
    def trace_count(self) -> int:
        """How many input signatures have been compiled (one per input structure)."""
        return len(self._compiled)

    def _run_batch(self, x: Any) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        key = _signature_key(x)
        if key not in self._compiled:
            self._compiled[key] = compile_function(self._forward, x)
        output, activations, pre_activations = self._compiled[key](x)
        to_numpy = keras.ops.convert_to_numpy
        return (
            to_numpy(output).astype(np.float32, copy=False),
            [to_numpy(a).astype(np.float32, copy=False) for a in activations],
            [to_numpy(a).astype(np.float32, copy=False) for a in pre_activations],
        )

    def _forward(self, x: Any) -> tuple[Any, list[Any], list[Any]]:
        records: dict[str, Any] = {}
        pre_records: dict[str, Any] = {}
        with _recording(self.layers, self.fused, records, pre_records):
            outputs = self.model(x, training=False)
        missing = [layer.name for layer in self.layers if layer.name not in records]
        if missing:
            raise LookupError(
                f"layers {missing} were not called by the model's forward pass, so their outputs "
                "cannot be recorded"
            )
        names = [layer.name for layer, fused in zip(self.layers, self.fused, strict=True) if fused]
        return (
            self._scored_output(outputs),
            [records[layer.name] for layer in self.layers],
            [pre_records[name] for name in names],
        )

    def _scored_output(self, outputs: Any) -> Any:
        if isinstance(outputs, dict):
            names = list(outputs)
            key = self.output if isinstance(self.output, str) else names[self.output or 0]
            return outputs[key]
        if isinstance(outputs, list | tuple):
            index = self.output or 0
            if isinstance(index, str):
                index = list(self.model.output_names).index(index)
            return outputs[index]
        return outputs


@contextmanager
def _recording(
    layers: Sequence[keras.layers.Layer],
    fused: Sequence[bool],
    records: dict[str, Any],
    pre_records: dict[str, Any],
) -> Iterator[None]:
    installed = []
    try:
        for layer, is_fused in zip(layers, fused, strict=True):
            own = layer.__dict__.get("call")
            layer.call = _recorder(layer, layer.call, is_fused, records, pre_records)
            installed.append((layer, own))
        yield
    finally:
        for layer, own in reversed(installed):
            if own is None:
                del layer.call
            else:
                layer.call = own


def _recorder(layer, original, fused, records, pre_records):
    @functools.wraps(original)
    def call(*args, **kwargs):
        if fused:
            activation = layer.activation
            layer.activation = keras.activations.linear
            try:
                pre = original(*args, **kwargs)
            finally:
                layer.activation = activation
            out = activation(pre)
            # A shared layer is recorded at its first call only.
            pre_records.setdefault(layer.name, pre)
        else:
            out = original(*args, **kwargs)
        first = out[0] if isinstance(out, list | tuple) else out
        records.setdefault(layer.name, first)
        return out

    return call


def _take_rows(x: Any, rows: slice) -> Any:
    return keras.tree.map_structure(lambda a: a[rows], x)


def _signature_key(x: Any) -> Any:
    leaves = keras.tree.flatten(x)
    structure = keras.tree.map_structure(lambda _: None, x)
    return repr(structure), tuple((a.shape[1:], str(a.dtype)) for a in leaves)


def _channels_last(layer: keras.layers.Layer, array: np.ndarray) -> np.ndarray:
    if getattr(layer, "data_format", None) == "channels_first" and array.ndim >= 3:
        return np.moveaxis(array, 1, -1)
    return array
