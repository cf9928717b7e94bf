"""The on-disk contract shared by the keras_inspect writer, ``ki.load`` and the plugin.

Every value the callback records is one TensorBoard summary under the plugin name
:data:`PLUGIN_NAME`. Its tag is readable (``neuron_mean/train/dense_1``) but nobody should parse
it: the axes of the value (quantity, dataset, layer and any of :data:`EXTRA_AXES`) travel as a
small versioned JSON document in ``SummaryMetadata.plugin_data.content``.

Headline values are also mirrored as native TensorBoard scalars (:func:`scalar_tag`) so they
show in the Time Series tab beside Keras' own logs (:func:`keras_log_tag`). Plugin tags and
native scalar tags share one tag namespace per run, so the two schemes are built never to
produce the same string: a mirror tag spells every axis as ``key=value``, a plugin tag spells
only the extra axes that way and escapes ``=`` inside dataset and layer names.

This module is imported by both sides, including the TensorBoard server, so it uses only the
standard library.

Example:
    >>> make_tag("neuron_mean", "train", "dense_1")
    'neuron_mean/train/dense_1'
    >>> decode_content(encode_content("model_auc", "test1"))
    {'quantity': 'model_auc', 'dataset': 'test1', 'layer': ''}
"""

from __future__ import annotations

import json
import re

__all__ = [
    "EXTRA_AXES",
    "FORMAT_VERSION",
    "KERAS_LOG_PREFIX",
    "PART_MIN_SIZE",
    "PART_NUMBERS",
    "PART_POINTS",
    "PLUGIN_NAME",
    "RUN_SUBDIR",
    "TRAINING_TAG",
    "decode_content",
    "decode_order",
    "decode_part",
    "encode_content",
    "keras_log_tag",
    "make_tag",
    "part_tag",
    "scalar_tag",
]

PLUGIN_NAME = "keras_inspect"
FORMAT_VERSION = 1
RUN_SUBDIR = "inspect"
EXTRA_AXES = ("group", "class", "sample", "pair", "type")
KERAS_LOG_PREFIX = "keras/"
# Native scalar written with every checkpoint: the 0-based index of the training (``fit`` call)
# that recorded it in its run directory; a later training into the same directory continues
# the step count (keras_inspect.resume) and this tells the trainings apart.
TRAINING_TAG = "keras_inspect/training"

# Large arrays (a correlation matrix of a 256-unit layer is 128 KB a checkpoint, 26 MB over
# 200 checkpoints) are written in parts of PART_POINTS consecutive checkpoints, one tag each, so
# that a reader asking for one old checkpoint reads one part, not the whole series: TensorBoard's
# data provider reads whole series or newest points only. A part is named after the step of its
# first point. Arrays of at most PART_MIN_SIZE numbers stay in one tag. A part holds at most
# PART_NUMBERS numbers (1 MiB as float16): 32 checkpoints of a 128 x 128 correlation matrix,
# 8 of a 256 x 256 CKA Gram matrix. Readers find parts by their first step, whatever their size.
PART_MIN_SIZE = 4096
PART_POINTS = 32
PART_NUMBERS = 2**19

# Quantity names double as the Time Series card group, so keep them to one plain path segment.
_QUANTITY_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
# Escaping keeps tags unambiguous when a user-chosen name contains a separator; ordinary names
# pass through unchanged so tags stay readable.
_ESCAPES = {"%": "%25", "/": "%2F", "=": "%3D"}
_ESCAPE_RE = re.compile("[%/=]")


def _escape(text: str) -> str:
    return _ESCAPE_RE.sub(lambda match: _ESCAPES[match.group(0)], text)


def _check_quantity(quantity: str) -> str:
    if not isinstance(quantity, str) or not _QUANTITY_RE.match(quantity):
        raise ValueError(
            f"quantity must be a non-empty name of letters, digits, '_', '.' or '-'; "
            f"got {quantity!r}."
        )
    if quantity == KERAS_LOG_PREFIX.rstrip("/"):
        # Its tags would collide with keras_log_tag() in the same run.
        raise ValueError(f"quantity {quantity!r} is reserved for Keras' logs (keras_log_tag).")
    return quantity


def _check_name(value: object, axis: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{axis} must be a string; got {value!r} ({type(value).__name__}).")
    return value


def _check_extra(extra: dict[str, object]) -> dict[str, str]:
    """Validates extra axes and returns the non-empty ones as strings in EXTRA_AXES order."""
    unknown = sorted(set(extra) - set(EXTRA_AXES))
    if unknown:
        raise ValueError(
            f"Unknown extra axis {', '.join(map(repr, unknown))}; allowed: "
            f"{', '.join(EXTRA_AXES)}. Put other indices into the quantity's value."
        )
    checked = {}
    for key in EXTRA_AXES:
        value = extra.get(key, "")
        # Class and sample indices are naturally ints; store every axis as a string so the
        # reader, the JSON and the plugin agree on one type.
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        value = _check_name(value, key)
        if value:
            checked[key] = value
    return checked


def make_tag(quantity: str, dataset: str = "", layer: str = "", **extra: str) -> str:
    """Builds the tag of one series of plugin data.

    Parts are ``quantity/dataset/layer`` followed by the extra axes as ``key=value`` in
    :data:`EXTRA_AXES` order; empty parts are omitted. ``%``, ``/`` and ``=`` inside names are
    percent-escaped. The tag is unique for a quantity as long as the quantity is always written
    with the same set of axes (the quantity vocabulary fixes them); readers use the content
    (:func:`decode_content`), never the tag.

    Args:
        quantity: Quantity name from the vocabulary, e.g. ``neuron_mean``.
        dataset: Dataset name, or ``""``.
        layer: Layer name, or ``""``.
        **extra: Extra axes (``group``, ``class``, ``sample``, ``pair``); ints are accepted
            and converted to strings.

    Returns:
        The tag.

    Raises:
        ValueError: For an unknown extra axis, a non-string name, or a quantity that is
            empty, contains other characters or is the reserved ``keras``.

    Example:
        >>> make_tag("model_score_histogram", "test1", **{"class": "1"})
        'model_score_histogram/test1/class=1'
    """
    parts = [_check_quantity(quantity)]
    for axis, value in (("dataset", dataset), ("layer", layer)):
        if _check_name(value, axis):
            parts.append(_escape(value))
    parts.extend(f"{key}={_escape(value)}" for key, value in _check_extra(extra).items())
    return "/".join(parts)


def part_tag(tag: str, first_step: int) -> str:
    """The tag of the part of a series that begins at ``first_step`` (see :data:`PART_POINTS`).

    ``part`` is not an axis name, so a part tag never equals another series' tag; like every
    tag, it is not parsed by readers (the part's first step travels in the content).

    Example:
        >>> part_tag("correlation_matrix/train/dense_1", 64)
        'correlation_matrix/train/dense_1/part=64'
    """
    return f"{tag}/part={int(first_step)}"


def scalar_tag(quantity: str, dataset: str = "", layer: str = "", **extra: str) -> str:
    """Builds the tag of the native TensorBoard scalar mirroring a headline value.

    The quantity comes first so the Time Series tab groups the cards by quantity; then the
    layer, the dataset and the extra axes, each spelled ``key=value``. Spelling ``layer=`` /
    ``dataset=`` is what keeps a mirror from ever sharing a tag with the plugin data of the
    same value, which lives in the same run (``make_tag("model_auc", "test1")`` is
    ``model_auc/test1``).

    Args:
        quantity: Quantity name, e.g. ``model_auc``.
        dataset: Dataset name, or ``""``.
        layer: Layer name, or ``""``.
        **extra: Extra axes, as for :func:`make_tag`.

    Returns:
        The tag.

    Raises:
        ValueError: If both dataset and layer are empty (a mirror is a per-dataset or
            per-layer value), or for the reasons of :func:`make_tag`.

    Example:
        >>> scalar_tag("model_auc", "test1")
        'model_auc/dataset=test1'
        >>> scalar_tag("probe_auc", "test1", "dense_1")
        'probe_auc/layer=dense_1/dataset=test1'
    """
    _check_quantity(quantity)
    axes = {}
    for axis, value in (("layer", layer), ("dataset", dataset)):
        if _check_name(value, axis):
            axes[axis] = value
    if not axes:
        raise ValueError(
            f"scalar_tag({quantity!r}) needs a dataset or a layer; a mirror of a value with "
            f"neither would share its tag with the plugin data."
        )
    axes.update(_check_extra(extra))
    return "/".join([quantity, *(f"{key}={_escape(value)}" for key, value in axes.items())])


def keras_log_tag(name: str) -> str:
    """Builds the native scalar tag for one entry of Keras' ``logs`` (loss, metrics).

    Args:
        name: The key in Keras' ``logs`` dict, e.g. ``val_loss``.

    Returns:
        ``"keras/" + name``.

    Raises:
        ValueError: If ``name`` is empty or not a string.

    Example:
        >>> keras_log_tag("val_loss")
        'keras/val_loss'
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"Keras log name must be a non-empty string; got {name!r}.")
    return KERAS_LOG_PREFIX + name


def encode_content(
    quantity: str,
    dataset: str = "",
    layer: str = "",
    *,
    order: tuple[int, int] | None = None,
    part: int | None = None,
    **extra: str,
) -> bytes:
    """Encodes the axes of a series as the ``plugin_data.content`` of its summary metadata.

    Compact JSON with the format version under ``"v"``; empty fields are omitted because the
    first event of every tag carries it.

    Args:
        quantity: Quantity name.
        dataset: Dataset name, or ``""``.
        layer: Layer name, or ``""``.
        order: optional (dataset position, layer position): the user's dataset order and the
            model's layer order, which tag names cannot carry (readers see tags sorted).
        part: for a series written in parts (:func:`part_tag`), the first step of this part.
            Readers that ignore it see the parts as one series, split over several tags.
        **extra: Extra axes, as for :func:`make_tag`.

    Returns:
        UTF-8 JSON bytes.

    Raises:
        ValueError: For the reasons of :func:`make_tag`.

    Example:
        >>> encode_content("neuron_mean", "train", "dense_1")
        b'{"v":1,"quantity":"neuron_mean","dataset":"train","layer":"dense_1"}'
    """
    document: dict[str, object] = {"v": FORMAT_VERSION, "quantity": _check_quantity(quantity)}
    for axis, value in (("dataset", dataset), ("layer", layer)):
        if _check_name(value, axis):
            document[axis] = value
    document.update(_check_extra(extra))
    if order is not None:
        document["o"] = [int(order[0]), int(order[1])]
    if part is not None:
        document["p"] = int(part)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_content(content: bytes) -> dict[str, str] | None:
    """Decodes the content written by :func:`encode_content`.

    Args:
        content: ``SummaryMetadata.plugin_data.content``.

    Returns:
        The axes, always with ``quantity``, ``dataset`` and ``layer`` (``""`` when absent) and
        with the extra axes that are present; or ``None`` when the content comes from a newer
        format version or cannot be parsed, so the caller can skip the series.

    Example:
        >>> decode_content(b'{"v":1,"quantity":"model_auc","dataset":"test1","class":"0"}')
        {'quantity': 'model_auc', 'dataset': 'test1', 'layer': '', 'class': '0'}
        >>> decode_content(b'{"v":99,"quantity":"model_auc"}') is None
        True
    """
    try:
        document = json.loads(bytes(content).decode("utf-8"))
    except (TypeError, ValueError):
        return None
    if not isinstance(document, dict):
        return None
    version = document.get("v")
    # bool is an int subclass; a True version is garbage, not version 1.
    if not isinstance(version, int) or isinstance(version, bool):
        return None
    if version < 1 or version > FORMAT_VERSION:
        return None
    quantity = document.get("quantity")
    if not isinstance(quantity, str) or not quantity:
        return None
    axes = {"quantity": quantity}
    for key in ("dataset", "layer", *EXTRA_AXES):
        value = document.get(key, "")
        if not isinstance(value, str):
            return None
        if value or key in ("dataset", "layer"):
            axes[key] = value
    return axes


def decode_order(content: bytes) -> tuple[int, int]:
    """The (dataset position, layer position) stored by :func:`encode_content`.

    Returns ``(-1, -1)`` when the content has none (or is unreadable), so such series sort
    after ordered ones.

    Example:
        >>> decode_order(encode_content("neuron_mean", "train", "dense_1", order=(0, 2)))
        (0, 2)
    """
    try:
        order = json.loads(bytes(content).decode("utf-8")).get("o")
    except (TypeError, ValueError, AttributeError):
        return (-1, -1)
    if (
        isinstance(order, list)
        and len(order) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in order)
    ):
        return (order[0], order[1])
    return (-1, -1)


def decode_part(content: bytes) -> int:
    """The first step of the part stored by :func:`encode_content`, or ``-1`` for a series
    kept in one tag (or unreadable content).

    Example:
        >>> decode_part(encode_content("correlation_matrix", "train", "dense_1", part=64))
        64
        >>> decode_part(encode_content("neuron_mean", "train", "dense_1"))
        -1
    """
    try:
        part = json.loads(bytes(content).decode("utf-8")).get("p")
    except (TypeError, ValueError, AttributeError):
        return -1
    if isinstance(part, int) and not isinstance(part, bool) and part >= 0:
        return part
    return -1
