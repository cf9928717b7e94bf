"""Feature groups of ``feature_saliency``: the defaults, or the user's, checked on the model.

The defaults are Guo et al.'s (section 3.4): one group per float model input (one per column
of a table, see :data:`MAX_COLUMN_GROUPS`) and one per Embedding layer, whose output stands for
the integer ids fed to it. :mod:`keras_inspect.gradients` says what a pass differentiates
against; this module says which sources the groups are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_inspect.errors import ConfigError
from keras_inspect.gradients import input_leaves, input_names
from keras_inspect.guard import say_left_out
from keras_inspect.recording import model_layers, recorded_call

__all__ = [
    "FeatureGroup",
    "MAX_COLUMN_GROUPS",
    "embedding_layers",
    "resolve_feature_groups",
]


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
