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
from keras_inspect.guard import say_left_out
from keras_inspect.recording import model_layers, recorded_call
from keras_inspect.reductions import row_objective

__all__ = [
    "FeatureGroup",
    "GradientPlan",
    "MAX_COLUMN_GROUPS",
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


# A table's columns get a group each up to this width. Each group is one series per dataset:
# 64 columns x 3 datasets make fewer than the CTR example's 34 groups x 9 days, and 64 covers
# scikit-learn-style tables (wine 13, breast cancer 30, covertype 54, digits' 8 x 8 pixels).
# Wider inputs (784 pixels, a bag of words) have columns that mean little one at a time. The
# gradient pass does not depend on it: it sums |gradient| per column anyway.
MAX_COLUMN_GROUPS = 64


def resolve_feature_groups(
    model: keras.Model,
    x: Any,
    feature_groups: Mapping[str, Any] | None,
    feature_names: Sequence[str] | None = None,
    frame_columns: Sequence[str] | None = None,
) -> list[FeatureGroup]:
    """Check ``feature_groups`` against the model and an input sample; return the groups.

    The defaults: one group per float model input and one per Embedding layer, whose output
    stands for the integer ids fed to it (Guo et al.'s feature groups). A model whose only
    input is a 2-D float matrix (a table) has no groups of its own, so each column is a group
    (``input[3]``, or the name ``feature_names`` or a DataFrame gives it), up to
    :data:`MAX_COLUMN_GROUPS` columns unless named by ``feature_names``; a wider table is one
    group, said once. With several inputs each input stays one group: the inputs are the
    groups the model's author chose (name columns with ``feature_groups`` to split one).
    An Embedding whose output has no batch axis (a position embedding on ``ops.arange``) is
    left out, said once: its gradient is summed over every row, not taken per sample.

    Args:
        model: the built model.
        x: a few rows of model input, in the structure given to ``fit``.
        feature_groups: ``None`` for the defaults, or a dict of group name -> source, where a
            source is a list of column indices of the (only) model input, the name of a model
            input or a layer, or ``(name, [columns])``.
        feature_names: the user's names of the table's columns (checked with
            :func:`keras_inspect.config.check_feature_names`), for the defaults.
        frame_columns: the column names of the datasets given as DataFrames, used by the
            defaults when ``feature_names`` is not given.

    Returns:
        The groups; empty when the defaults find nothing to differentiate (integer inputs and
        no Embedding layer).

    Raises:
        ConfigError: a source names no input or layer, columns are out of range or shared by
            two groups, an integer input is named as a source (its embedding's output is used
            instead), a layer without a batch axis is named, or ``feature_names`` does not fit
            the model (not one 2-D float input, or another number of columns).
    """
    names = input_names(model, x)
    leaves = dict(zip(names, input_leaves(x), strict=True))
    embeddings = embedding_layers(model)
    layers = {layer.name: layer for layer in model_layers(model)}
    if feature_groups is None:
        groups = _input_groups(model, names, leaves, feature_names, frame_columns)
        unbatched = _unbatched(model, x, embeddings)
        if unbatched:
            say_left_out(
                f"feature_saliency leaves out Embedding layers {list(unbatched)}: their outputs "
                f"(shapes {list(unbatched.values())}) have no batch axis: they embed what every "
                "row shares, such as positions from ops.arange(length), so their gradient is "
                "summed over all rows and grows with their number instead of describing each "
                "sample."
            )
        groups += [
            FeatureGroup(layer.name, "layer", layer.name)
            for layer in embeddings
            if layer.name not in unbatched
        ]
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
    sources = [layers[g.source] for g in groups if g.kind == "layer"]
    unbatched = _unbatched(model, x, list(dict.fromkeys(sources)))
    for group in groups:
        if group.kind == "layer" and group.source in unbatched:
            raise ConfigError(
                f"feature_groups[{group.name!r}] names layer {group.source!r}, whose output has "
                f"no batch axis (shape {unbatched[group.source]} for 1 row and for 2), as a "
                "position embedding on ops.arange(length) has: its gradient is summed over all "
                "rows, so its saliency would grow with their number instead of describing each "
                "sample. Drop it from feature_groups; name layers whose output has a row per "
                "sample (the embedding of each row's ids)."
            )
    return groups


def _input_groups(model, names, leaves, feature_names, frame_columns) -> list[FeatureGroup]:
    """The default groups of the float inputs: per column for a table (see above)."""
    floats = [n for n in names if _is_float(leaves[n])]
    table = len(names) == 1 and bool(floats) and np.ndim(leaves[names[0]]) == 2
    if feature_names is not None and not table:
        inputs = {n: f"{np.asarray(a).dtype} rows {np.shape(a)[1:]}" for n, a in leaves.items()}
        raise ConfigError(
            f"feature_names names the columns of a table: a model whose only input is a 2-D "
            f"float matrix (rows x columns), but model {model.name!r} takes {inputs}. Drop "
            f"feature_names and group columns with feature_groups instead, e.g. "
            f"feature_groups={{'first': ({names[0]!r}, [0]), 'rest': ({names[0]!r}, [1, 2])}}."
        )
    if not table:
        return [FeatureGroup(n, "input", n) for n in floats]
    source = names[0]
    width = int(np.shape(leaves[source])[1])
    if feature_names is not None:
        if len(feature_names) != width:
            raise ConfigError(
                f"feature_names has {len(feature_names)} names, but input {source!r} of model "
                f"{model.name!r} has {width} columns (rows of shape ({width},)). Pass one name "
                f"per column, in column order, e.g. feature_names=list(df.columns)."
            )
        labels = list(feature_names)
    elif width == 1:
        return [FeatureGroup(source, "input", source)]
    elif width > MAX_COLUMN_GROUPS:
        say_left_out(
            f"feature_saliency keeps input {source!r} ({width} columns) as one group: only "
            f"tables of up to {MAX_COLUMN_GROUPS} columns get a group per column by default. "
            "For a group per column pass feature_names=[...] (one name per column); to group "
            "columns, feature_groups={'name': [0, 1, 2], ...}."
        )
        return [FeatureGroup(source, "input", source)]
    elif frame_columns is not None and len(frame_columns) == width:
        labels = list(frame_columns)
    else:
        labels = [f"{source}[{i}]" for i in range(width)]
    return [FeatureGroup(label, "input", source, (i,)) for i, label in enumerate(labels)]


def _unbatched(
    model: keras.Model, x: Any, layers: Sequence[keras.layers.Layer]
) -> dict[str, tuple[int, ...]]:
    """The layers among ``layers`` whose output has no batch axis, and its shape.

    A Functional model's own layers have a symbolic output whose leading ``None`` is the
    batch. Elsewhere (a layer inside a custom layer, a subclassed model) the model runs eagerly
    on one row and on two, and an output whose leading dimension does not follow is unbatched:
    a position embedding on ``ops.arange(length)`` gives (length, dim) for both. Each pass
    stops once the layers have run (embeddings come first), so it costs a few ops, not a model.
    """
    unknown = [layer for layer in layers if not _batched_output(layer)]
    if not unknown:
        return {}
    one, two = (_output_shapes(model, x, unknown, count) for count in (1, 2))
    if one is None or two is None:
        return {}  # the probe that follows reports a model that does not run, with context
    return {n: s for n, s in two.items() if one[n][:1] != (1,) or s[:1] != (2,)}


class _AllSeen(Exception):
    """Ends a forward pass once every wanted layer has run."""


def _output_shapes(model, x, layers, count) -> dict[str, tuple[int, ...]] | None:
    """The output shapes of ``layers`` on ``count`` copies of the first row of ``x``."""
    rows = keras.tree.map_structure(lambda a: np.repeat(a[:1], count, axis=0), x)
    shapes: dict[str, tuple[int, ...]] = {}

    def tap(key: str, tensor: Any) -> Any:
        shapes[key.partition(":")[2]] = tuple(tensor.shape)
        if len(shapes) == len(layers):
            raise _AllSeen
        return tensor

    try:
        recorded_call(model, layers, rows, tap=tap)
    except _AllSeen:
        return shapes
    except Exception:
        return None
    return None


def _batched_output(layer: keras.layers.Layer) -> bool:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return False
    return len(shape) > 0 and shape[0] is None


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
