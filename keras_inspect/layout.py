"""How much of each layer a checkpoint looks at: batch sizes, row caps and fixed subsets.

Everything here is decided once, from the output shape of one row of each inspected layer
(channels last), when the callback binds to the model; the same batches and subsets are used
at every checkpoint, so values stay comparable over training. The budgets keep a checkpoint's
memory independent of the number of rows in a dataset, and its cost near a forward pass for
networks whose feature maps hold millions of values a row.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BATCH_BYTES",
    "CKA_ROWS",
    "FEATURE_BYTES",
    "FEATURE_ROWS",
    "GRAM_BYTES",
    "LayerPlan",
    "MAP_BYTES",
    "MAX_CORRELATION_POSITIONS",
    "MAX_CORRELATION_UNITS",
    "MAX_FEATURES",
    "MAX_STAT_POSITIONS",
    "batch_rows",
    "feature_rows",
    "feature_width",
    "layer_plan",
    "map_rows",
    "units_of",
]

# The layer outputs (times 2 with pre-activations, times 2 with gradients) that one batch of
# the capture records: about 27 rows of a ResNet50 at 128 x 128 with gradients, a whole
# 2,048-row sample of a small tabular model. Smaller batches cost time on a CPU (a ResNet
# pass at 9 rows is ~30 % slower per row than at 32) without saving memory that matters.
BATCH_BYTES = 768 * 2**20
# Correlations of a layer wider than this are taken over a fixed random subset of its units
# (written as ``correlation_units``): 128 x 128 is a readable heatmap, 32 KiB as float16, and
# keeps the matrices of a 50-layer CNN within a few MiB a checkpoint.
MAX_CORRELATION_UNITS = 128
# Moments and filter importance of a feature map use a fixed random subset of this many
# positions of each sample; its minimum, maximum, non-finite values and active units use every
# position. Reading a large map once more per statistic would cost as much as the layer.
MAX_STAT_POSITIONS = 256
# The correlation cross-product costs positions x units^2 a sample: it uses a smaller subset
# of those positions (over a 2,048-row sample still 131,072 rows per unit pair).
MAX_CORRELATION_POSITIONS = 64
# Per-row features (probes, projections): the flattened output up to this width, else the
# mean over positions (one value per unit).
MAX_FEATURES = 1024
# Per-row features are kept for at most this many first rows, and at most FEATURE_BYTES.
FEATURE_ROWS = 2048
FEATURE_BYTES = 128 * 2**20
# Full feature maps of the maps pass (entropies, clusters, capacity): at most this many bytes
# per dataset.
MAP_BYTES = 256 * 2**20
# CKA's Gram matrices: of the reference dataset's first this many rows (256 x 256 float16 is
# 128 KiB per layer and checkpoint, and keeps linear CKA's bias modest) ...
CKA_ROWS = 256
# ... and a preset writes them only while all inspected layers' fit this many bytes a checkpoint
# (8 layers): ResNet50's 54 would add 6.8 MiB to its 3.8 MiB checkpoint.
GRAM_BYTES = 2**20


@dataclass(frozen=True)
class LayerPlan:
    """How one layer's statistics are taken: unit and position subsets (``None``: all).

    Attributes:
        units: the units of the correlation matrix.
        positions: the positions of the moments and filter importance.
        correlated: the positions of the correlations, a subset of ``positions``.
    """

    units: np.ndarray | None
    positions: np.ndarray | None
    correlated: np.ndarray | None


def units_of(shape: tuple[int, ...]) -> int:
    """Units (channels) of a row of ``shape``: its last axis, 1 for a one-number row."""
    return int(shape[-1]) if shape else 1


def layer_plan(name: str, shape: tuple[int, ...], seed: int) -> LayerPlan:
    """The fixed unit and position subsets of one layer.

    Seeded by ``seed`` and the layer's name, so a layer keeps its subsets from one checkpoint,
    run or layer selection to the next.

    Example:
        >>> layer_plan("conv", (64, 64, 256), 0).units.shape
        (128,)
    """
    count = math.prod(shape[:-1])
    positions = _subset(count, MAX_STAT_POSITIONS, seed, name, "positions")
    correlated = None
    if count > MAX_CORRELATION_POSITIONS:
        pool = np.arange(count) if positions is None else positions
        rng = _rng(seed, name, "correlated")
        correlated = np.sort(rng.choice(pool, MAX_CORRELATION_POSITIONS, replace=False))
    units = _subset(units_of(shape), MAX_CORRELATION_UNITS, seed, name, "units")
    return LayerPlan(units, positions, correlated)


def batch_rows(shapes: Iterable[tuple[tuple[int, ...], int]]) -> int:
    """Rows per batch so that the recorded tensors take about :data:`BATCH_BYTES`.

    Args:
        shapes: per inspected layer, (output shape of one row, copies recorded: 1 for the
            output, +1 with its pre-activation, +1 with its gradient).
    """
    per_row = sum(4 * math.prod(shape) * copies for shape, copies in shapes)
    return max(1, BATCH_BYTES // max(per_row, 1))


def feature_width(shape: tuple[int, ...]) -> int:
    """Columns of :func:`keras_inspect.reductions.row_features` for one row of ``shape``."""
    width = math.prod(shape) if shape else 1
    return width if width <= MAX_FEATURES or len(shape) <= 1 else units_of(shape)


def feature_rows(shapes: Iterable[tuple[int, ...]], rows: int) -> int:
    """How many first rows keep their per-row features: at most :data:`FEATURE_ROWS` and
    :data:`FEATURE_BYTES` (at least one)."""
    per_row = 4 * sum(feature_width(s) for s in shapes)
    return min(rows, FEATURE_ROWS, max(1, FEATURE_BYTES // max(per_row, 1)))


def map_rows(shapes: Iterable[tuple[int, ...]], wanted: int) -> int:
    """How many of ``wanted`` first rows of whole feature maps fit :data:`MAP_BYTES`."""
    per_row = 4 * sum(math.prod(s) for s in shapes)
    return min(wanted, max(1, MAP_BYTES // max(per_row, 1)))


def _rng(seed: int, name: str, what: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(f"{name}/{what}".encode())])


def _subset(count: int, limit: int, seed: int, name: str, what: str) -> np.ndarray | None:
    """A fixed random subset (sorted) of ``limit`` of ``count`` indices, or None for all."""
    if count <= limit:
        return None
    return np.sort(_rng(seed, name, what).choice(count, limit, replace=False))
