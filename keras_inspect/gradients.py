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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_inspect.errors import ConfigError
from keras_inspect.recording import model_layers
from keras_inspect.reductions import row_objective

__all__ = [
    "FeatureGroup",
    "GradientPlan",
    "embedding_layers",
    "input_leaves",
    "input_names",
    "objective",
    "resolve_feature_groups",
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
class FeatureGroup:
    """A named group of model inputs for ``feature_saliency``.

    Attributes:
        name: the group's name (the ``group`` column of ``ki.load``).
        kind: ``"input"`` (a model input) or ``"layer"`` (a layer's output).
        source: the input's name or the layer's name.
        columns: indices along the last axis of the source, or ``None`` for all of it.
    """

    name: str
    kind: str
    source: str
    columns: tuple[int, ...] | None = None

    @property
    def key(self) -> str:
        """The key of the source's gradient in a capture result."""
        return f"{self.kind}:{self.source}"


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


def embedding_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every Embedding layer of ``model`` (nested ones included), in call order."""
    return [layer for layer in model_layers(model) if isinstance(layer, keras.layers.Embedding)]


def _is_float(array: Any) -> bool:
    return np.issubdtype(np.asarray(array).dtype, np.floating)


def resolve_feature_groups(
    model: keras.Model, x: Any, feature_groups: Mapping[str, Any] | None
) -> list[FeatureGroup]:
    """Check ``feature_groups`` against the model and an input sample; return the groups.

    Args:
        model: the built model.
        x: a few rows of model input, in the structure given to ``fit``.
        feature_groups: ``None`` for the defaults (one group per float model input, one per
            Embedding layer, whose output stands for the integer ids fed to it), or a dict of
            group name -> source, where a source is a list of column indices of the (only)
            model input, the name of a model input or a layer, or ``(name, [columns])``.

    Returns:
        The groups; empty when the defaults find nothing to differentiate (integer inputs and
        no Embedding layer).

    Raises:
        ConfigError: a source names no input or layer, columns are out of range or shared by
            two groups, or an integer input is named as a source (its embedding's output is
            used instead).
    """
    names = input_names(model, x)
    leaves = dict(zip(names, input_leaves(x), strict=True))
    embeddings = embedding_layers(model)
    layers = {layer.name: layer for layer in model_layers(model)}
    if feature_groups is None:
        groups = [FeatureGroup(n, "input", n) for n in names if _is_float(leaves[n])]
        groups += [FeatureGroup(layer.name, "layer", layer.name) for layer in embeddings]
        return groups
    if not isinstance(feature_groups, Mapping) or not feature_groups:
        raise ConfigError(
            f"feature_groups must be None or a non-empty dict of group name -> source, got "
            f"{feature_groups!r}. Example: feature_groups={{'price': [0, 1], "
            "'user': 'user_embedding'}."
        )
    groups = []
    for name, spec in feature_groups.items():
        groups.append(_group(str(name), spec, names, leaves, layers, embeddings, model))
    _check_overlaps(groups)
    return groups


def _group(name, spec, names, leaves, layers, embeddings, model) -> FeatureGroup:
    where = f"feature_groups[{name!r}]"
    if isinstance(spec, str):
        source, columns = spec, None
    elif (
        isinstance(spec, tuple)
        and len(spec) == 2
        and isinstance(spec[0], str)
        and _is_columns(spec[1])
    ):
        source, columns = spec[0], tuple(int(c) for c in spec[1])
    elif _is_columns(spec):
        if len(names) != 1:
            raise ConfigError(
                f"{where} = {spec!r} lists columns, but model {model.name!r} has inputs {names}; "
                f"say which one: {where} = ({names[0]!r}, {list(spec)!r})."
            )
        source, columns = names[0], tuple(int(c) for c in spec)
    else:
        raise ConfigError(
            f"{where} = {spec!r} is not a source; expected a list of column indices, an input "
            "or layer name, or (name, [columns])."
        )
    if source in leaves:
        leaf = np.asarray(leaves[source])
        if not _is_float(leaf):
            fed = [layer.name for layer in embeddings]
            hint = (
                f"name the Embedding layer's output instead (one of {fed})"
                if fed
                else "integer inputs have no gradient"
            )
            raise ConfigError(
                f"{where} names input {source!r}, whose dtype {leaf.dtype} is not differentiable "
                f"(ids); saliency is taken at the embedding output that the ids select: {hint}."
            )
        kind, width = "input", (leaf.shape[-1] if leaf.ndim > 1 else 1)
    elif source in layers:
        kind, width = "layer", _last_dim(layers[source])
    else:
        raise ConfigError(
            f"{where} names {source!r}, which is neither a model input ({names}) nor a layer "
            f"of model {model.name!r} ({sorted(layers)})."
        )
    if columns is not None:
        bad = [c for c in columns if width is not None and not 0 <= c < width]
        if not columns or bad or len(set(columns)) != len(columns):
            raise ConfigError(
                f"{where} columns {list(columns)} are not distinct indices in [0, {width}) of "
                f"{kind} {source!r} (its last axis has {width} entries)."
            )
    return FeatureGroup(name, kind, source, columns)


def _is_columns(spec: Any) -> bool:
    return (
        isinstance(spec, Sequence)
        and not isinstance(spec, str)
        and all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in spec)
    )


def _last_dim(layer: keras.layers.Layer) -> int | None:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return None
    return None if shape[-1] is None else int(shape[-1])


def _check_overlaps(groups: list[FeatureGroup]) -> None:
    by_source: dict[str, list[FeatureGroup]] = {}
    for group in groups:
        by_source.setdefault(group.key, []).append(group)
    for same in by_source.values():
        for i, a in enumerate(same):
            for b in same[i + 1 :]:
                if a.columns is None or b.columns is None:
                    common: Any = "all of it"
                else:
                    common = sorted(set(a.columns) & set(b.columns))
                if common:
                    raise ConfigError(
                        f"feature_groups {a.name!r} and {b.name!r} overlap on {a.kind} "
                        f"{a.source!r} ({common}); a column belongs to one group at most."
                    )
