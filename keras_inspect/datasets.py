"""Named probe datasets: validated, sampled once, and kept fixed across checkpoints.

A dataset is given as ``x``, ``(x, y)`` or ``(x, y, sample_weight)`` (the weight is ignored),
where ``x`` is an array, a list/tuple of arrays or a dict of arrays (multi-input models), or as a
``tf.data.Dataset`` yielding the same structures. Labels may be binary, integer classes, one-hot,
continuous or absent. A pandas DataFrame ``x`` becomes an array; its column names are kept
(:attr:`Sample.columns`) to name the per-column feature groups of ``feature_saliency``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from keras_inspect.errors import ConfigError

__all__ = [
    "LabelKind",
    "Sample",
    "digest",
    "frame_columns",
    "infer_label_kind",
    "prepare_datasets",
    "take",
]

# How many rows of a tf.data.Dataset are read before sampling: bounds memory and time for
# datasets that are huge or repeat forever.
DATASET_READ_FACTOR = 8


class LabelKind:
    """The kinds of labels a dataset may carry (plain strings, compared by value)."""

    NONE = "none"
    BINARY = "binary"
    MULTICLASS = "multiclass"
    CONTINUOUS = "continuous"


@dataclass
class Sample:
    """The fixed rows of one dataset that every checkpoint runs through the model.

    Attributes:
        name: the user's name for the dataset (``train``, ``test1``, ...).
        x: inputs for the rows, in the structure the user gave (array, list or dict of arrays).
        y: labels for the rows as given (one-hot kept as is), or ``None``.
        rows: indices of the chosen rows in the user's data (``None`` for a tf.data.Dataset).
        columns: the column names of a pandas DataFrame ``x`` (``None`` for other inputs, or
            when its labels are not distinct non-empty strings, e.g. a default RangeIndex).
    """

    name: str
    x: Any
    y: np.ndarray | None
    rows: np.ndarray | None = None
    columns: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(_leaves(self.x)[0])

    @property
    def label_kind(self) -> str:
        """The kind of :attr:`y`, as :func:`infer_label_kind` sees it."""
        return infer_label_kind(self.y)


def prepare_datasets(datasets: Any, max_samples: int, seed: int) -> dict[str, Sample]:
    """Validate the ``datasets`` argument and draw each dataset's fixed sample.

    Args:
        datasets: mapping of name -> data (see the module docstring).
        max_samples: rows kept per dataset; larger datasets are sub-sampled without replacement.
        seed: seeds the sub-sampling, so the same rows are chosen on every run.

    Returns:
        name -> :class:`Sample`, in the user's order.

    Raises:
        ConfigError: the mapping is empty, a name is not a plain string, a dataset is empty,
            its arrays have different lengths, or its labels contain NaN.
    """
    if not isinstance(datasets, Mapping) or not datasets:
        raise ConfigError(
            f"datasets must be a non-empty dict of name -> (x, y), got {_describe(datasets)}. "
            'Pass e.g. datasets={"train": (x_train, y_train), "test1": (x_test, y_test)}.'
        )
    samples = {}
    for name, data in datasets.items():
        if not isinstance(name, str) or not name or "/" in name or name != name.strip():
            raise ConfigError(
                f"datasets keys must be non-empty names without '/' or surrounding spaces, "
                f"got {name!r}. Rename the dataset, e.g. 'test1'."
            )
        label = f"datasets[{name!r}]"
        x, y = _split(data, label, max_samples, seed)
        samples[name] = _sample(name, x, y, label, max_samples, seed)
    frame_columns(samples)
    return samples


def frame_columns(samples: dict[str, Sample]) -> tuple[str, ...] | None:
    """The column names shared by the datasets given as DataFrames (``None`` if there are none).

    Raises:
        ConfigError: two DataFrames name their columns differently: the model reads columns by
            position, so one of them feeds it the wrong columns.
    """
    named = [(name, s.columns) for name, s in samples.items() if s.columns is not None]
    for name, columns in named[1:]:
        first, expected = named[0]
        if columns != expected:
            pairs = enumerate(zip(columns, expected, strict=False))
            at = next((i for i, (a, b) in pairs if a != b), min(len(columns), len(expected)))
            raise ConfigError(
                f"datasets[{name!r}] x is a DataFrame whose columns differ from those of "
                f"datasets[{first!r}] from column {at} on ({list(columns[at : at + 3])} vs "
                f"{list(expected[at : at + 3])}); the model reads columns by position. Pass "
                f"the same columns in the same order, e.g. x_{name}[x_{first}.columns]."
            )
    return named[0][1] if named else None


def infer_label_kind(y: np.ndarray | None) -> str:
    """Classify labels: none, binary (0/1), multiclass (integers or one-hot), or continuous.

    A 2-D array whose rows are one-hot is multiclass; any other 2-D float array is continuous
    (multi-target regression). Integer-valued labels with more than two values are classes.
    """
    if y is None:
        return LabelKind.NONE
    if y.ndim == 2 and y.shape[1] > 1:
        is_one_hot = np.isin(y, (0, 1)).all() and np.all(y.sum(axis=1) == 1)
        return LabelKind.MULTICLASS if is_one_hot else LabelKind.CONTINUOUS
    flat = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
    if flat.dtype == bool or np.isin(flat, (0, 1)).all():
        return LabelKind.BINARY
    if np.issubdtype(flat.dtype, np.integer) or np.all(np.mod(flat, 1) == 0):
        return LabelKind.MULTICLASS if flat.min() >= 0 else LabelKind.CONTINUOUS
    return LabelKind.CONTINUOUS


def class_indices(y: np.ndarray) -> np.ndarray:
    """Integer class per row from binary, integer or one-hot labels."""
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    return y.reshape(len(y)).astype(np.int64)


def _split(data: Any, label: str, max_samples: int, seed: int) -> tuple[Any, Any]:
    if _is_tf_dataset(data):
        return _read_tf_dataset(data, label, max_samples * DATASET_READ_FACTOR)
    if isinstance(data, tuple) and len(data) in (2, 3):
        return data[0], data[1]
    if isinstance(data, tuple):
        raise ConfigError(
            f"{label} is a tuple of {len(data)} items; expected x, (x, y) or (x, y, sample_weight)."
        )
    return data, None


def _sample(name: str, x: Any, y: Any, label: str, max_samples: int, seed: int) -> Sample:
    columns = _column_names(x)
    x = _as_arrays(x, f"{label} x")
    lengths = {len(a) for a in _leaves(x)}
    if len(lengths) > 1:
        raise ConfigError(
            f"{label} x holds arrays of different lengths {sorted(lengths)}; every input needs "
            "one row per sample."
        )
    n = lengths.pop()
    if n == 0:
        raise ConfigError(f"{label} is empty (0 rows); pass at least one row or drop the dataset.")
    if isinstance(y, Mapping | list):
        raise ConfigError(
            f"{label} y is a {type(y).__name__} (one entry per model output?); pass the labels "
            "of the scored output only, e.g. y['click'], and choose that output with "
            "InspectCallback(output='click')."
        )
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != n:
            raise ConfigError(
                f"{label} has {n} rows in x but y has shape {y.shape}; x and y need the same "
                "number of rows."
            )
        if y.dtype.kind not in "biuf":
            raise ConfigError(
                f"{label} y has dtype {y.dtype}; expected numeric labels (binary, integer "
                "classes, one-hot or continuous). Encode string classes as integers first."
            )
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            bad = int((~np.isfinite(y)).reshape(n, -1).any(axis=1).sum())
            raise ConfigError(
                f"{label} y has {bad} rows with NaN or infinite labels; drop those rows or pass "
                "x alone for a label-free dataset."
            )
    rows = None
    if n > max_samples:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))
        x = take(x, rows)
        y = None if y is None else y[rows]
    return Sample(name, x, y, rows, columns)


def _column_names(x: Any) -> tuple[str, ...] | None:
    """A DataFrame's column names, when they are distinct non-empty strings."""
    if not (type(x).__module__.startswith("pandas") and hasattr(x, "columns")):
        return None
    names = tuple(x.columns)
    named = all(isinstance(n, str) and n.strip() for n in names)
    return names if named and len(set(names)) == len(names) else None


def _as_arrays(x: Any, label: str) -> Any:
    if isinstance(x, Mapping):
        if not x:
            raise ConfigError(f"{label} is an empty dict; expected one array per model input.")
        return {str(k): _as_array(v, f"{label}[{k!r}]") for k, v in x.items()}
    if isinstance(x, list | tuple):
        if not x:
            raise ConfigError(f"{label} is an empty list; expected one array per model input.")
        return [_as_array(v, f"{label}[{i}]") for i, v in enumerate(x)]
    return _as_array(x, label)


def _as_array(a: Any, label: str) -> np.ndarray:
    if a is None:
        raise ConfigError(f"{label} is None; expected an array of inputs.")
    array = np.asarray(a)
    if array.ndim == 0 or array.dtype.kind not in "biuf":
        raise ConfigError(
            f"{label} must be a numeric array with one row per sample, got "
            f"{_describe(a)} (dtype {array.dtype}, shape {array.shape})."
        )
    return array


def digest(samples: dict[str, Sample]) -> bytes:
    """A SHA-256 of the datasets' names, rows and labels: equal on two processes exactly when
    they inspect the same data."""
    hasher = hashlib.sha256()
    for name, sample in samples.items():
        hasher.update(name.encode())
        for array in [*_leaves(sample.x), *([] if sample.y is None else [sample.y])]:
            array = np.ascontiguousarray(array)
            hasher.update(f"{array.dtype}{array.shape}".encode())
            hasher.update(array.data)
    return hasher.digest()


def take(x: Any, rows: np.ndarray | slice) -> Any:
    """The rows ``rows`` of every array of ``x`` (an array, or a list or dict of arrays)."""
    if isinstance(x, dict):
        return {k: v[rows] for k, v in x.items()}
    if isinstance(x, list):
        return [v[rows] for v in x]
    return x[rows]


def _leaves(x: Any) -> list[np.ndarray]:
    if isinstance(x, dict):
        return list(x.values())
    if isinstance(x, list):
        return x
    return [x]


def _is_tf_dataset(data: Any) -> bool:
    return type(data).__module__.startswith("tensorflow") and hasattr(data, "element_spec")


def _read_tf_dataset(dataset: Any, label: str, limit: int) -> tuple[Any, Any]:
    """Read up to ``limit`` rows of a batched or unbatched dataset into NumPy arrays."""
    from keras_inspect.backends import read_tf_dataset

    x, y = read_tf_dataset(dataset, limit)
    if x is None:
        raise ConfigError(f"{label} is a tf.data.Dataset that yields no elements.")
    return x, y


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
