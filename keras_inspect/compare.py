"""``ki.cka``: how alike two checkpoints' layers are, from the recorded Gram matrices.

The callback records each layer's centred Gram matrix on fixed rows (``cka_gram``, with the
rows' fingerprint ``cka_rows``); this module compares any two checkpoints of a run, or two runs,
layer by layer, after checking that both were recorded on identical rows.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from keras_inspect.errors import ConfigError
from keras_inspect.quantities.similarity import gram_cka
from keras_inspect.reader import load

__all__ = ["cka"]


def cka(
    logdir: str | os.PathLike[str] | pd.DataFrame,
    run: str,
    step: int,
    other_run: str | None = None,
    other_step: int | None = None,
) -> pd.DataFrame:
    """Linear CKA between every layer of ``run`` at ``step`` and every layer of ``other_run``
    at ``other_step`` (Kornblith et al. 2019; see :mod:`keras_inspect.quantities.similarity`
    for its caveats: a biased estimator, sensitive to outlier rows).

    Args:
        logdir: a log directory (as for :func:`keras_inspect.load`) or a frame it returned.
        run: the first run's name (as in the frame's ``run`` column).
        step: its checkpoint: the latest recorded at or before ``step``.
        other_run: the second run (default: ``run``, to compare two checkpoints of one run).
        other_step: its checkpoint, the latest at or before (default: ``step``).

    Returns:
        A frame of CKA values, index = ``run``'s layers, columns = ``other_run``'s layers (in
        model order), with ``frame.attrs["steps"]`` the two checkpoints compared and
        ``frame.attrs["rows"]`` the rows the Grams were computed on.

    Raises:
        ConfigError: If a run or step is not a run name or a step >= 0, a run does not
            exist, or has no ``cka_gram`` at or before its step (record the
            ``standard`` preset, or list ``"cka_gram"`` in ``quantities=``), or the two were
            recorded on different rows (other datasets, ``max_samples`` or ``seed``): CKA
            compares representations of the same rows only.

    Example:
        >>> same = ki.cka("logs", "ctr", 7)  # doctest: +SKIP
        >>> across = ki.cka("logs", "ctr", 7, "ctr_seed1")  # doctest: +SKIP
    """
    other_run = run if other_run is None else other_run
    other_step = step if other_step is None else other_step
    for name, value in (("run", run), ("other_run", other_run)):
        if not isinstance(value, str):
            raise ConfigError(f"ki.cka: {name} must be a run name (a str); got {value!r}.")
    for name, value in (("step", step), ("other_step", other_step)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(
                f"ki.cka: {name} must be a checkpoint step, an int >= 0; got {value!r}."
            )
    frame = logdir if isinstance(logdir, pd.DataFrame) else load(logdir)
    first, first_step, first_rows = _grams(frame, run, step)
    second, second_step, second_rows = _grams(frame, other_run, other_step)
    if first_rows is None or second_rows is None or not np.array_equal(first_rows, second_rows):
        raise ConfigError(
            f"runs {run!r} (step {first_step}) and {other_run!r} (step {second_step}) recorded "
            "CKA on different rows (different datasets, max_samples or seed): their layers "
            "cannot be compared. Record both with the same datasets, max_samples and seed."
        )
    values = [[gram_cka(a, b) for b in second.values()] for a in first.values()]
    result = pd.DataFrame(values, index=list(first), columns=list(second))
    result.index.name, result.columns.name = run, other_run
    result.attrs["steps"] = (first_step, second_step)
    result.attrs["rows"] = len(next(iter(first.values())))
    return result


def _grams(frame: pd.DataFrame, run: str, step: int):
    """(layer -> Gram, the checkpoint used, the rows' fingerprint) of ``run`` at ``step``."""
    if run not in set(frame["run"]):
        raise ConfigError(f"ki.cka: no run {run!r}; the runs are {sorted(set(frame['run']))}.")
    mine = frame[(frame["run"] == run) & (frame["step"] <= step)]
    grams = mine[mine["quantity"] == "cka_gram"]
    if grams.empty:
        raise ConfigError(
            f"ki.cka: run {run!r} has no cka_gram at or before step {step}. Record it with the "
            "'standard' or 'full' preset, or list 'cka_gram' in quantities= (a preset leaves it "
            "out for models of many layers, saying so)."
        )
    used = int(grams["step"].max())
    at = grams[grams["step"] == used]
    rows = mine[(mine["quantity"] == "cka_rows") & (mine["step"] == used)]["value"]
    fingerprint = None if rows.empty else np.asarray(rows.iloc[0])
    grams = dict(zip(at["layer"], at["value"], strict=True))
    layers = mine[mine["quantity"] == "model_layers"]
    position = {
        layer: float(np.asarray(value).reshape(-1)[0])
        for layer, value in zip(layers["layer"], layers["value"], strict=True)
    }
    order = sorted(grams, key=lambda layer: (position.get(layer, np.inf), layer))
    return {layer: grams[layer] for layer in order}, used, fingerprint
