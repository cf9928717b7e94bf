"""``ki.load``: keras_inspect event files -> one pandas DataFrame.

Reading goes through TensorBoard's own event processing, so ``load`` sees exactly the points
TensorBoard would show (with retention switched off).
"""

from __future__ import annotations

import bisect
import os
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
from tensorboard.backend.event_processing import plugin_event_accumulator as accumulator_lib
from tensorboard.util.tensor_util import make_ndarray

from keras_inspect.errors import ConfigError
from tb_plugin.metadata import (
    EXTRA_AXES,
    FORMAT_VERSION,
    KERAS_LOG_PREFIX,
    PLUGIN_NAME,
    RUN_SUBDIR,
    TRAINING_TAG,
    decode_content,
)

__all__ = ["COLUMNS", "load", "read_frame"]

COLUMNS = ("run", "step", "dataset", "layer", "quantity", "value", "wall_time", "training")
"""The columns every frame returned by :func:`load` has, in order; extra axes follow."""

_SCALARS_PLUGIN = "scalars"
_EVENTS_MARKER = "tfevents"


def load(logdir: str | os.PathLike[str]) -> pd.DataFrame:
    """Loads everything keras_inspect recorded under a directory.

    Every ``<run>/inspect`` directory below ``logdir`` is a run, named by the path of ``<run>``
    relative to ``logdir`` (``"a/b"`` for ``logdir/a/b/inspect``); when ``logdir`` is itself a
    run directory the run is named after it.

    Args:
        logdir: The directory given to ``InspectCallback(log_dir=...)``, or any parent of it.

    Returns:
        One row per recorded value, sorted by run, step, quantity, dataset, layer. Columns:
        ``run, step, dataset, layer, quantity, value, wall_time, training``, then whichever of
        ``group, class, sample, pair`` occur (``None`` where a row lacks them). ``training`` is
        the 0-based index of the training (``fit`` call) that recorded the row: a later
        training into the same ``log_dir`` continues the step count after the last recorded
        step, so steps never repeat, and this column tells the trainings apart. ``value`` is a
        float for a single number, else a NumPy array (float32 for floats, int32 for
        integers). Keras'
        logs are rows too, with the log name as quantity (``loss``, ``val_loss``) and empty
        dataset and layer.

    Raises:
        ConfigError: If ``logdir`` does not exist or holds no run.

    Warns:
        UserWarning: Once per run whose files hold data of a newer keras_inspect format
            (upgrade keras_inspect to read it); that data is skipped.

    Example:
        >>> frame = ki.load("logs")  # doctest: +SKIP
        >>> frame.query("quantity == 'model_auc'").pivot(index="step", columns="dataset",
        ...                                              values="value")  # doctest: +SKIP
    """
    return read_frame(logdir)


def read_frame(logdir: str | os.PathLike[str], required: bool = True) -> pd.DataFrame:
    """:func:`load`, or (``required=False``) an empty frame with :data:`COLUMNS` for an
    existing directory without any run."""
    root = os.path.abspath(os.fspath(logdir))
    runs = _find_runs(root, required)
    rows: list[dict[str, object]] = []
    for run, directory in runs:
        rows.extend(_read_run(run, directory))
    extras = [axis for axis in EXTRA_AXES if any(axis in row for row in rows)]

    def order(row: dict[str, object]) -> tuple:
        # Extra axes and wall time only break ties, so series with a class or sample axis
        # come out in a stable order.
        extra = tuple(row.get(axis) or "" for axis in extras)
        return (
            row["run"],
            row["step"],
            row["quantity"],
            row["dataset"],
            row["layer"],
            *extra,
            row["wall_time"],
        )

    rows.sort(key=order)
    frame = pd.DataFrame(
        {
            "run": pd.Series([row["run"] for row in rows], dtype=str),
            "step": pd.Series([row["step"] for row in rows], dtype="int64"),
            "dataset": pd.Series([row["dataset"] for row in rows], dtype=str),
            "layer": pd.Series([row["layer"] for row in rows], dtype=str),
            "quantity": pd.Series([row["quantity"] for row in rows], dtype=str),
            "value": pd.Series([row["value"] for row in rows], dtype=object),
            "wall_time": pd.Series([row["wall_time"] for row in rows], dtype="float64"),
            "training": pd.Series([row["training"] for row in rows], dtype="int64"),
        }
    )
    for axis in extras:
        # object dtype keeps None for absent axes instead of turning it into NaN.
        frame[axis] = pd.Series([row.get(axis) for row in rows], dtype=object)
    return frame


def _find_runs(root: str, required: bool = True) -> list[tuple[str, str]]:
    """Returns (run name, inspect directory) pairs, sorted by run name (an error when there is
    none and ``required``)."""
    if not os.path.isdir(root):
        what = "a file" if os.path.exists(root) else "nothing"
        raise ConfigError(
            f"ki.load(logdir={root!r}): found {what} there; expected a directory of keras_inspect "
            f"runs. Pass the directory given to InspectCallback(log_dir=...) or its parent."
        )
    runs: dict[str, str] = {}
    if os.path.basename(root) == RUN_SUBDIR and _has_events(root):
        # Pointing at <run>/inspect itself is a natural slip; name the run after <run>.
        runs[os.path.basename(os.path.dirname(root))] = root
    for current, subdirs, _ in os.walk(root):
        subdirs.sort()
        inspect_dir = os.path.join(current, RUN_SUBDIR)
        if RUN_SUBDIR in subdirs and _has_events(inspect_dir):
            relative = os.path.relpath(current, root)
            name = os.path.basename(root) if relative == "." else relative.replace(os.sep, "/")
            runs[name] = inspect_dir
    if not runs and required:
        raise ConfigError(
            f"ki.load(logdir={root!r}) found no keras_inspect run: {_describe_found(root)}. "
            f"A run is a directory with an '{RUN_SUBDIR}/' subdirectory of event files. "
            f"Pass the directory given to InspectCallback(log_dir=...) or its parent."
        )
    return sorted(runs.items())


def _has_events(directory: str) -> bool:
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    return any(_EVENTS_MARKER in name for name in names)


def _describe_found(root: str) -> str:
    event_dirs = sorted(
        os.path.relpath(current, root)
        for current, _, files in os.walk(root)
        if any(_EVENTS_MARKER in name for name in files)
    )
    if event_dirs:
        shown = ", ".join(repr(path) for path in event_dirs[:3])
        more = f" and {len(event_dirs) - 3} more" if len(event_dirs) > 3 else ""
        return (
            f"event files only in {shown}{more} (Keras' TensorBoard callback writes 'train/' and "
            f"'validation/', not '{RUN_SUBDIR}/')"
        )
    if not os.listdir(root):
        return "the directory is empty"
    return "no event files at all"


def _read_run(run: str, directory: str) -> Iterator[dict[str, object]]:
    accumulator = accumulator_lib.EventAccumulator(
        directory,
        size_guidance={accumulator_lib.TENSORS: 0},
        tensor_size_guidance={PLUGIN_NAME: 0, _SCALARS_PLUGIN: 0},
    )
    accumulator.Reload()
    training = _trainings(accumulator)
    skipped = []
    for tag in sorted(accumulator.Tags()[accumulator_lib.TENSORS]):
        try:
            plugin_data = accumulator.SummaryMetadata(tag).plugin_data
        except KeyError:
            continue
        if plugin_data.plugin_name == PLUGIN_NAME:
            axes = decode_content(plugin_data.content)
            if axes is None:
                skipped.append(tag)
                continue
        elif plugin_data.plugin_name == _SCALARS_PLUGIN and tag.startswith(KERAS_LOG_PREFIX):
            axes = {"quantity": tag[len(KERAS_LOG_PREFIX) :], "dataset": "", "layer": ""}
        else:
            # Native mirrors of headline values duplicate plugin data; other plugins are not ours.
            continue
        for event in accumulator.Tensors(tag):
            yield {
                "run": run,
                "step": int(event.step),
                "wall_time": float(event.wall_time),
                "value": _to_value(make_ndarray(event.tensor_proto)),
                "training": training(int(event.step)),
                **axes,
            }
    if skipped:
        warnings.warn(
            f"ki.load: skipped {len(skipped)} series of run {run!r} (e.g. {skipped[0]!r}) written "
            f"in a newer or unreadable keras_inspect format (this version reads format "
            f"<= {FORMAT_VERSION}). Upgrade keras_inspect to read them.",
            UserWarning,
            stacklevel=3,
        )


def _trainings(accumulator: accumulator_lib.EventAccumulator) -> Callable[[int], int]:
    """step -> the index of the training that recorded it (:data:`TRAINING_TAG`).

    A step without its own mark (runs recorded before the mark existed) belongs to the
    training of the nearest marked step before it, or to training 0.
    """
    marks: list[tuple[int, int]] = []
    if TRAINING_TAG in accumulator.Tags()[accumulator_lib.TENSORS]:
        for event in accumulator.Tensors(TRAINING_TAG):
            marks.append((int(event.step), int(make_ndarray(event.tensor_proto))))
    marks.sort()
    steps = [step for step, _ in marks]

    def training(step: int) -> int:
        at = bisect.bisect_right(steps, step)
        return marks[at - 1][1] if at else 0

    return training


def _to_value(array: np.ndarray) -> float | np.ndarray:
    if array.ndim == 0:
        return float(array)
    if array.dtype == np.float16:
        return array.astype(np.float32)
    return array
