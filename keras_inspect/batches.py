"""Rows of a model input (an array, or a list or dict of arrays): counting, slicing, signatures."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

__all__ = ["row_count", "signature_key", "take_rows", "to_numpy"]


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
    return keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), tree)
