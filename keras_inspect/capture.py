"""One forward pass of a model in inference mode -> every selected layer's output.

One mechanism serves Sequential, Functional and subclassed models alike: for the duration of a
trace, each selected layer's ``call`` is replaced on the instance by a wrapper that calls the
original and records the result (subclassed models have no ``inputs``/``outputs`` to build a
feature model from). For layers that fuse an activation (Dense, Conv), the wrapper calls the
layer with a linear activation and applies the real one itself, so the same pass also yields
the pre-activation. The pass is compiled once per input signature by :mod:`keras_inspect.backends`;
the wrappers only exist while the Python body runs, i.e. at trace time, and are always removed.

Given a :class:`keras_inspect.gradients.GradientPlan`, the same compiled pass also returns the
gradients the saliency quantities need (see :mod:`keras_inspect.gradients`), and a second small
pass gives input saliency maps for a few rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from keras_inspect import gradients as grad_lib
from keras_inspect.backends import compile_function, compile_gradient_function

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
        source_gradients: ``FeatureGroup.key`` -> d objective / d source (gradient passes).
        deltas: layer name -> d objective / d pre-activation (the output for layers without a
            fused activation), channels last (gradient passes).
        no_gradient: source keys and layer names the objective does not depend on.
        input_saliency: ``{"output" or layer name: {input name: |gradient|}}`` for the first
            ``plan.saliency_samples`` rows (gradient passes that ask for it).
        saliency_inputs: ``{input name: rows}``: those rows' float inputs, which the maps are
            drawn over.
    """

    output: np.ndarray
    activations: dict[str, np.ndarray]
    pre_activations: dict[str, np.ndarray]
    source_gradients: dict[str, np.ndarray] = field(default_factory=dict)
    deltas: dict[str, np.ndarray] = field(default_factory=dict)
    no_gradient: frozenset[str] = frozenset()
    input_saliency: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    saliency_inputs: dict[str, np.ndarray] = field(default_factory=dict)


class Capture:
    """Run a model once per sample and collect the outputs of selected layers.

    Args:
        model: a built Keras model of any family.
        layers: the layers to record (objects from :func:`model_layers`).
        output: which model output is scored: ``None`` for the first, an index, or an output name.
        batch_size: rows per compiled call; bounds the memory of one pass.
        plan: gradients to take in the same pass (``None``: a forward pass only).

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
        plan: grad_lib.GradientPlan | None = None,
    ) -> None:
        self.model = model
        self.layers = list(layers)
        self.output = output
        self.batch_size = batch_size
        self.plan = plan
        self.fused = [has_fused_activation(layer) for layer in self.layers]
        # Layers recorded only as gradient sources (an Embedding's output, say).
        self.extra = (
            []
            if plan is None
            else [layer for layer in plan.source_layers if layer not in self.layers]
        )
        self._compiled: dict[Any, Callable[[Any], Any]] = {}
        self._saliency: dict[Any, Callable[[Any], Any]] = {}
        self._saliency_goals: dict[Any, list[str]] = {}  # per signature: "output", layer names

    def run(self, x: Any) -> CaptureResult:
        """Forward ``x`` (array, list or dict of arrays; rows first) in inference mode."""
        n_rows = len(keras.tree.flatten(x)[0])
        parts = [
            self._run_batch(_take_rows(x, slice(start, start + self.batch_size)))
            for start in range(0, n_rows, self.batch_size)
        ]

        def joined(key: str, name: str) -> np.ndarray:
            return np.concatenate([p[key][name] for p in parts])

        output = np.concatenate([p["output"] for p in parts])
        layer_of = {layer.name: layer for layer in self.layers}
        activations = {
            name: _channels_last(layer_of[name], joined("activations", name))
            for name in parts[0]["activations"]
        }
        pre_activations = {
            name: _channels_last(layer_of[name], joined("pre", name)) for name in parts[0]["pre"]
        }
        sources = {key: joined("sources", key) for key in parts[0]["sources"]}
        deltas = {
            name: _channels_last(layer_of[name], joined("deltas", name))
            for name in parts[0]["deltas"]
        }
        if output.ndim == 2 and output.shape[1] == 1:
            output = output[:, 0]
        saliency, inputs = {}, {}
        if self.plan is not None and self.plan.saliency_samples > 0:
            head = _take_rows(x, slice(0, self.plan.saliency_samples))
            saliency = self._input_saliency(head)
            if saliency:
                names = grad_lib.input_names(self.model, head)
                leaves = dict(zip(names, grad_lib.input_leaves(head), strict=True))
                inputs = {n: np.asarray(leaves[n], np.float32) for n in saliency["output"]}
        return CaptureResult(
            output,
            activations,
            pre_activations,
            sources,
            deltas,
            frozenset(parts[0]["missing"]),
            saliency,
            inputs,
        )

    @property
    def trace_count(self) -> int:
        """How many input signatures have been compiled (one per input structure)."""
        return len(self._compiled)

    def _run_batch(self, x: Any) -> dict[str, Any]:
        key = _signature_key(x)
        if key not in self._compiled:
            if self.plan is None:
                self._compiled[key] = compile_function(self._forward, x)
            else:
                self._compiled[key] = compile_gradient_function(self._gradient_forward, x)
        names = [layer.name for layer in self.layers]
        fused = [n for n, f in zip(names, self.fused, strict=True) if f]
        if self.plan is None:
            output, activations, pres = self._compiled[key](x)
            grads, targets = [], []
        else:
            (output, activations, pres), (grads,) = self._compiled[key](x)
            targets = self._target_names()
        result = {
            "output": _numpy(output),
            "activations": {n: _numpy(a) for n, a in zip(names, activations, strict=True)},
            "pre": {n: _numpy(a) for n, a in zip(fused, pres, strict=True)},
            "sources": {},
            "deltas": {},
            "missing": [],
        }
        for (kind, name), grad in zip(targets, grads, strict=True):
            if grad is None:
                result["missing"].append(name)
            else:
                result["sources" if kind == "source" else "deltas"][name] = _numpy(grad)
        return result

    def _pass(self, x: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        """The forward pass with recording: (scored output, outputs, pre-activations)."""
        records: dict[str, Any] = {}
        pre_records: dict[str, Any] = {}
        layers = self.layers + self.extra
        fused = self.fused + [False] * len(self.extra)
        with _recording(layers, fused, records, pre_records):
            outputs = self.model(x, training=False)
        missing = [layer.name for layer in layers if layer.name not in records]
        if missing:
            raise LookupError(
                f"layers {missing} were not called by the model's forward pass, so their outputs "
                "cannot be recorded"
            )
        return self._scored_output(outputs), records, pre_records

    def _forward(self, x: Any) -> tuple[Any, list[Any], list[Any]]:
        output, records, pre_records = self._pass(x)
        names = [layer.name for layer, fused in zip(self.layers, self.fused, strict=True) if fused]
        return (
            output,
            [records[layer.name] for layer in self.layers],
            [pre_records[name] for name in names],
        )

    def _target_names(self) -> list[tuple[str, str]]:
        """(kind, name) of each gradient target of the pass, in order."""
        plan = self.plan
        targets = [("source", key) for key in plan.sources]
        if plan.layer_deltas:
            targets += [("delta", layer.name) for layer in self.layers]
        return targets

    def _gradient_forward(self, x: Any) -> tuple[list[Any], Any, list[Any]]:
        output, records, pre_records = self._pass(x)
        names = [layer.name for layer, fused in zip(self.layers, self.fused, strict=True) if fused]
        leaves = dict(
            zip(grad_lib.input_names(self.model, x), grad_lib.input_leaves(x), strict=True)
        )
        targets = []
        for key in self.plan.sources:
            kind, _, name = key.partition(":")
            targets.append(leaves[name] if kind == "input" else records[name])
        if self.plan.layer_deltas:
            for layer in self.layers:
                targets.append(pre_records.get(layer.name, records[layer.name]))
        outputs = (
            output,
            [records[layer.name] for layer in self.layers],
            [pre_records[name] for name in names],
        )
        return [grad_lib.objective(output)], outputs, targets

    def _input_saliency(self, x: Any) -> dict[str, dict[str, np.ndarray]]:
        """|d objective / d input| and |d sum(layer output) / d input| for the rows of ``x``."""
        names = grad_lib.input_names(self.model, x)
        floats = [
            n
            for n, leaf in zip(names, grad_lib.input_leaves(x), strict=True)
            if np.issubdtype(np.asarray(leaf).dtype, np.floating)
        ]
        if not floats:
            return {}

        def forward(inputs: Any) -> tuple[list[Any], Any, list[Any]]:
            output, records, _ = self._pass(inputs)
            leaves = dict(
                zip(
                    grad_lib.input_names(self.model, inputs),
                    grad_lib.input_leaves(inputs),
                    strict=True,
                )
            )
            # The layer that produces the scored output adds nothing to the "output" map (and
            # the sum of a softmax is constant: a zero gradient); it is left out.
            goals[key] = ["output"] + [
                layer.name for layer in self.layers if records[layer.name] is not output
            ]
            sums = [keras.ops.sum(records[name]) for name in goals[key][1:]]
            return [grad_lib.objective(output), *sums], (), [leaves[n] for n in floats]

        key = _signature_key(x)
        goals = self._saliency_goals
        if key not in self._saliency:
            self._saliency[key] = compile_gradient_function(forward, x)
        _, grads = self._saliency[key](x)  # traces on the first call, which fills goals[key]
        result = {}
        for goal, per_input in zip(goals[key], grads, strict=True):
            pairs = zip(floats, per_input, strict=True)
            result[goal] = {n: np.abs(_numpy(g)) for n, g in pairs if g is not None}
        return result

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


def _numpy(tensor: Any) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor).astype(np.float32, copy=False)


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
