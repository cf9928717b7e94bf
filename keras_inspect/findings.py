"""``ki.findings``: what looks wrong in recorded runs, one row per finding.

The rules are in :mod:`tb_plugin.findings` (pure pandas, shared with the TensorBoard tab, which
must not import Keras); this module reads a log directory and applies them.
"""

from __future__ import annotations

import os

import pandas as pd

from keras_inspect.errors import ConfigError
from keras_inspect.reader import read_frame
from tb_plugin.findings import FINDING_COLUMNS, Thresholds, diagnose

__all__ = ["FINDING_COLUMNS", "Thresholds", "findings"]


def findings(logdir: str | os.PathLike[str], thresholds: Thresholds | None = None) -> pd.DataFrame:
    """Diagnoses of every run under ``logdir``: over-fitting, memorisation, dead units, drift,
    redundant layers, non-finite activations and representations that froze or never settle.

    Args:
        logdir: the directory given to ``InspectCallback(log_dir=...)``, or any parent of it
            (a tree of runs gives findings per run).
        thresholds: when each rule fires (:class:`~tb_plugin.findings.Thresholds`, exported as
            ``keras_inspect.Thresholds``; each field documents its default).

    Returns:
        One row per finding, columns ``run, step, kind, severity, subject, message, dataset,
        layer, group``: ``step`` is the first checkpoint from which the finding holds up to the
        newest one, ``severity`` one of ``"alert"``, ``"warning"``, ``"info"``, ``subject`` the
        layer, dataset or feature group concerned and ``message`` one sentence with the numbers.
        Sorted by run, severity (alerts first) and step. A directory without keras_inspect data
        gives an empty frame with these columns.

    Raises:
        ConfigError: If ``logdir`` does not exist or is not a directory, or ``thresholds`` is
            not a :class:`Thresholds`.

    Example:
        >>> found = ki.findings("logs")  # doctest: +SKIP
        >>> found.query("severity == 'alert'")[["run", "step", "message"]]  # doctest: +SKIP
    """
    if thresholds is not None and not isinstance(thresholds, Thresholds):
        raise ConfigError(
            f"thresholds must be a keras_inspect.Thresholds; got {type(thresholds).__name__}. "
            "Use e.g. thresholds=keras_inspect.Thresholds(dead_warning=0.3)."
        )
    root = os.fspath(logdir)
    if not os.path.isdir(root):
        what = "a file" if os.path.exists(root) else "nothing"
        raise ConfigError(
            f"ki.findings(logdir={root!r}): found {what} there; expected a directory of "
            "keras_inspect runs (the log_dir given to InspectCallback, or a parent of it)."
        )
    frame = read_frame(root, required=False)
    return diagnose(frame, thresholds=thresholds)
