"""Checks of InspectCallback's arguments, and what to compute for the labels given.

Everything here runs before training starts and needs no model: a bad argument is a
:class:`~keras_inspect.errors.ConfigError` that names it, what was received, what was expected
and the fix; a quantity a preset cannot apply is left out with one log line.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_inspect.backends import GRADIENT_BACKENDS
from keras_inspect.checkpoint import Task
from keras_inspect.checkpoint_maps import MIN_CAPACITY_ROWS
from keras_inspect.datasets import LabelKind, Sample, class_indices
from keras_inspect.errors import ConfigError
from keras_inspect.guard import say_left_out
from keras_inspect.presets import (
    NEEDS_CLASSES,
    NEEDS_CONTINUOUS,
    NEEDS_GRADIENTS,
    NEEDS_LABELS,
    NEEDS_TRAIN,
    NEEDS_TWO_DATASETS,
)
from keras_inspect.quantities import entropy
from tb_plugin import metadata

__all__ = [
    "check_batch_size",
    "check_classes",
    "check_feature_names",
    "check_labels",
    "check_layer_pairs",
    "check_layer_spec",
    "check_log_dir",
    "check_row_counts",
    "drop",
    "task_for",
]


def check_batch_size(batch_size: Any) -> int | None:
    """``batch_size`` as a positive int or None, or ConfigError."""
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise ConfigError(
            f"batch_size must be None (sized automatically) or a positive integer, got "
            f"{batch_size!r} ({type(batch_size).__name__}); e.g. batch_size=32 rows per pass."
        )
    if batch_size < 1:
        raise ConfigError(
            f"batch_size must be a positive integer (rows per capture pass), got {batch_size}; "
            "e.g. batch_size=32, or None to size batches automatically."
        )
    return int(batch_size)


def supported_by_backend(quantities: tuple[str, ...], explicit: bool) -> tuple[str, ...]:
    """``quantities`` without the gradient ones where the Keras backend has no gradients here
    (an explicit list naming them is refused)."""
    backend = keras.backend.backend()
    if backend in GRADIENT_BACKENDS:
        return quantities
    reason = (
        f"keras_inspect takes gradients on the {', '.join(GRADIENT_BACKENDS)} backends, not "
        f"KERAS_BACKEND={backend!r} (set KERAS_BACKEND to one of them to get them)"
    )
    return tuple(drop(list(quantities), NEEDS_GRADIENTS, explicit, reason))


def check_feature_names(feature_names: Any, feature_groups: Any = None) -> tuple[str, ...] | None:
    """``feature_names`` as a tuple of distinct non-empty strings, or ConfigError.

    Any ordered collection works (a list, ``df.columns``, scikit-learn's ``data.feature_names``
    array); a single string or a set does not. They name the per-column default groups of
    ``feature_saliency``, so they exclude ``feature_groups`` (which names its own groups); the
    count is checked against the input's width when training starts.
    """
    if feature_names is None:
        return None
    example = "e.g. feature_names=list(df.columns) or load_breast_cancer().feature_names"
    if isinstance(feature_names, str | bytes | set | frozenset | dict) or not hasattr(
        feature_names, "__len__"
    ):
        raise ConfigError(
            f"feature_names must be None or a list of column names (one string per column of "
            f"the model's input, in order), got {type(feature_names).__name__} "
            f"{feature_names!r:.80}; {example}."
        )
    names = list(feature_names)
    bad = [n for n in names if not isinstance(n, str) or not n.strip()]
    if not names or bad:
        got = f"non-string or blank names {bad[:3]!r}" if bad else "an empty list"
        raise ConfigError(
            f"feature_names must hold one non-empty string per input column, got {got}; "
            f"{example} (convert other labels with [str(n) for n in names])."
        )
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise ConfigError(
            f"feature_names names {repeated[:5]} more than once; each column needs its own "
            "name, since each becomes a feature group of its own. Rename the duplicates."
        )
    if feature_groups is not None:
        raise ConfigError(
            "feature_names and feature_groups were both given, but feature_names names the "
            "per-column default groups that feature_groups replaces. Pass one of them: "
            "feature_names=[...] for a group per column, or feature_groups={'name': [columns]}."
        )
    return tuple(str(n) for n in names)


def check_output(output: Any) -> int | str | None:
    """``output`` as None, a non-negative int or a str, or ConfigError (the model checks that
    it names one of its outputs when training starts)."""
    if output is None or isinstance(output, str):
        return output
    if isinstance(output, bool) or not isinstance(output, int | np.integer) or output < 0:
        raise ConfigError(
            f"output must be None (the model's first output), an output index >= 0 or an "
            f"output name, got {output!r} ({type(output).__name__}); e.g. output='click'."
        )
    return int(output)


def check_process_index(index: Any) -> int | None:
    """``process_index`` as None or a non-negative int, or ConfigError."""
    if index is None:
        return None
    if isinstance(index, bool) or not isinstance(index, int | np.integer) or index < 0:
        raise ConfigError(
            f"process_index must be None (asked of the backend) or an integer >= 0, got "
            f"{index!r}; e.g. process_index=int(os.environ['RANK']). Process 0 records."
        )
    return int(index)


def check_log_dir(log_dir: Any) -> str:
    if not isinstance(log_dir, str | os.PathLike) or not os.fspath(log_dir):
        raise ConfigError(
            f"log_dir must be a directory path, got {log_dir!r}; e.g. log_dir='logs/run1'."
        )
    path = os.fspath(log_dir)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(
            f"log_dir={path!r} is a file; expected a directory (it is created if missing). "
            "Choose another path, e.g. os.path.join('logs', 'run1')."
        )
    inspect_dir = os.path.join(path, metadata.RUN_SUBDIR)
    if os.path.exists(inspect_dir) and not os.path.isdir(inspect_dir):
        raise ConfigError(
            f"{inspect_dir!r} is a file, but the callback writes its event files there; "
            "remove it or choose another log_dir."
        )
    return path


def check_layer_pairs(pairs: Any) -> tuple[tuple[str, str], ...] | None:
    """``layer_pairs`` as a tuple of (name, name), or ConfigError."""
    if pairs is None:
        return None
    ok = isinstance(pairs, Sequence) and not isinstance(pairs, str) and len(pairs) > 0
    ok = ok and all(
        isinstance(p, Sequence)
        and not isinstance(p, str)
        and len(p) == 2
        and all(isinstance(n, str) for n in p)
        for p in pairs
    )
    if not ok:
        raise ConfigError(
            f"layer_pairs must be None or a non-empty list of (layer name, layer name) pairs, "
            f"got {pairs!r}; e.g. layer_pairs=[('conv_1', 'conv_2')]."
        )
    return tuple((str(a), str(b)) for a, b in pairs)


def check_layer_spec(layers: Any) -> tuple[str, ...] | None:
    if layers is None:
        return None
    items = [layers] if isinstance(layers, str) else layers
    if not isinstance(items, Sequence) or not items or not all(isinstance(i, str) for i in items):
        raise ConfigError(
            f"layers must be None, a layer name or regex, or a non-empty list of them, got "
            f"{layers!r}; e.g. layers=['dense_1', r'conv\\d+']."
        )
    for item in items:
        try:
            re.compile(item)
        except re.error as error:
            raise ConfigError(
                f"layers entry {item!r} is neither a layer name nor a valid regular expression "
                f"({error})."
            ) from None
    return tuple(items)


def check_labels(samples: dict[str, Sample], quantities: Sequence[str], explicit: bool) -> None:
    """Model-independent label checks: NaN is caught earlier; here train and class counts."""
    wanted = set(quantities)
    labelled = {n: s for n, s in samples.items() if s.y is not None}
    if explicit and wanted & NEEDS_TRAIN:
        train = samples.get("train")
        if train is None or train.y is None:
            names = sorted(wanted & NEEDS_TRAIN)
            state = "missing" if train is None else "unlabelled"
            raise ConfigError(
                f"{names} fit their probes on a labelled dataset named 'train', but datasets "
                f"has {sorted(samples)} and 'train' is {state}. "
                "Add datasets['train'] = (x_train, y_train) or drop the probe quantities."
            )
    if explicit and wanted & NEEDS_LABELS and not labelled:
        raise ConfigError(
            f"{sorted(wanted & NEEDS_LABELS)} need labels, but no dataset has y. Pass (x, y) "
            "pairs or choose label-free quantities (e.g. quantities='light')."
        )
    unlabelled = sorted(name for name, s in samples.items() if s.y is None)
    if labelled and unlabelled and wanted & NEEDS_LABELS:
        say_left_out(
            f"datasets {unlabelled} have no labels: they get the label-free quantities only "
            f"(not {sorted(wanted & NEEDS_LABELS)}; entropy_intra for all samples, not per "
            "class). Pass (x, y) for them to get those too."
        )


def check_row_counts(samples: dict[str, Sample], quantities: Sequence[str], explicit: bool) -> None:
    """Datasets too small for the kNN entropy (k neighbours) or the capacity's sample pairs.

    An explicit list is refused with the numbers; with a preset, the quantity leaves those
    datasets out (said once here, and the checkpoint skips them).
    """
    needs = {
        "entropy_inter": (entropy.DEFAULT_K + 1, f"its k = {entropy.DEFAULT_K} nearest neighbours"),
        "channel_capacity": (MIN_CAPACITY_ROWS, "pairs of samples' feature-map distances"),
    }
    for quantity, (least, why) in needs.items():
        if quantity not in quantities:
            continue
        small = {name: len(s) for name, s in samples.items() if len(s) < least}
        if not small:
            continue
        listed = ", ".join(f"{name!r} has {rows}" for name, rows in sorted(small.items()))
        if explicit:
            raise ConfigError(
                f"{quantity} needs at least {least} rows per dataset ({why}), but {listed}. "
                f"Give those datasets at least {least} rows or drop {quantity} from quantities."
            )
        say_left_out(
            f"{quantity} leaves out datasets with fewer than {least} rows ({why}): {listed}. "
            f"Give them at least {least} rows to get it."
        )


def task_for(
    samples: dict[str, Sample], quantities: Sequence[str], explicit: bool, width: int
) -> Task:
    kinds = {s.label_kind for s in samples.values() if s.y is not None}
    if not kinds:
        kind = LabelKind.NONE
    elif LabelKind.CONTINUOUS in kinds or (width == 1 and kinds != {LabelKind.BINARY}):
        kind = LabelKind.CONTINUOUS
    else:
        kind = LabelKind.BINARY if width == 1 else LabelKind.MULTICLASS
    wanted = list(quantities)
    if kind != LabelKind.CONTINUOUS:
        wanted = drop(wanted, NEEDS_CONTINUOUS, explicit, f"labels are {kind}, not continuous")
    if kind not in (LabelKind.BINARY, LabelKind.MULTICLASS):
        wanted = drop(wanted, NEEDS_CLASSES, explicit, f"labels are {kind}, not classes")
    if "train" not in samples or samples["train"].y is None:
        wanted = drop(wanted, NEEDS_TRAIN, explicit, "there is no labelled 'train' dataset")
    if len(samples) < 2:
        wanted = drop(
            wanted,
            NEEDS_TWO_DATASETS,
            explicit,
            "there is one dataset only (drift compares each dataset with 'train', else the "
            "first one)",
        )
    if kind in (LabelKind.BINARY, LabelKind.MULTICLASS):
        check_classes(samples, set(wanted) & NEEDS_CLASSES, width)
    return Task(kind, tuple(wanted))


def drop(wanted: list[str], names: frozenset, explicit: bool, reason: str) -> list[str]:
    dropped = [q for q in wanted if q in names]
    if dropped and explicit:
        raise ConfigError(
            f"quantities {dropped} cannot be computed because {reason}. Drop them from "
            "quantities, or use a preset, which leaves out what does not apply."
        )
    if dropped:
        say_left_out(f"leaving out {dropped} because {reason}.")
    return [q for q in wanted if q not in names]


def check_classes(samples: dict[str, Sample], needing: set[str], width: int) -> None:
    if not needing:
        return
    for name, sample in samples.items():
        if sample.y is None:
            continue
        classes = np.unique(class_indices(sample.y))
        if len(classes) < 2:
            raise ConfigError(
                f"datasets[{name!r}] has 1 class in y ({classes.tolist()}, shape "
                f"{sample.y.shape}); {sorted(needing)} need at least 2. Pass a sample with both "
                "classes, pass x alone for a label-free dataset, or drop those quantities."
            )
        if width > 1 and classes.max() >= width:
            raise ConfigError(
                f"datasets[{name!r}] has class {int(classes.max())} in y, but the scored model "
                f"output has {width} units; labels must be class indices below {width} or "
                "one-hot rows of that width."
            )
