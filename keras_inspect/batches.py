"""Rows of a model input (an array, or a list or dict of arrays): counting, slicing, signatures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

from keras_inspect import backends

__all__ = ["batches", "row_count", "signature_key", "take_rows", "to_numpy"]


def row_count(x: Any) -> int:
    """Rows of ``x`` (every array in it has one row per sample)."""
    return len(keras.tree.flatten(x)[0])


def take_rows(x: Any, rows: slice) -> Any:
    """The rows ``rows`` of every array in ``x``, in the same structure."""
    return keras.tree.map_structure(lambda a: a[rows], x)


def signature_key(x: Any) -> Any:
    """What a compiled pass is traced for: the structure, and each leaf's row shape and dtype."""
    leaves = keras.tree.flatten(x)
    structure = keras.tree.map_structure(lambda _: None, x)
    return repr(structure), tuple((np.shape(a)[1:], str(np.asarray(a).dtype)) for a in leaves)


def to_numpy(tree: Any) -> Any:
    """Every tensor of ``tree`` as a NumPy array (what leaves a compiled pass)."""
    return keras.tree.map_structure(backends.to_numpy, tree)


def batches(x: Any, step: int, fixed: bool) -> Iterator[tuple[Any, np.ndarray, int]]:
    """``x`` in batches of ``step`` rows: ``(rows, valid flags, real row count)``.

    With ``fixed`` (a backend that traces once per shape), a short last batch is padded to
    ``step`` rows by repeating its first row, and ``valid`` flags the real ones; a compiled
    pass leaves the padding out of its statistics and the caller drops its per-row results.
    """
    total = row_count(x)
    for start in range(0, total, step):
        part = take_rows(x, slice(start, start + step))
        count = row_count(part)
        valid = np.ones(count, dtype=bool)
        if fixed and count < step:
            part = keras.tree.map_structure(lambda a, n=step - count: _padded(a, n), part)
            valid = np.concatenate([valid, np.zeros(step - count, dtype=bool)])
        yield part, valid, count


def _padded(rows: np.ndarray, extra: int) -> np.ndarray:
    return np.concatenate([rows, np.repeat(rows[:1], extra, axis=0)])
