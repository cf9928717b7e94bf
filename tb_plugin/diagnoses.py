"""Diagnoses and layer correspondence: the pure halves of ``/findings`` and ``/cka``.

``/findings`` hands the scalars the diagnosis rules read (and Keras' loss and val_loss) to
:func:`tb_plugin.findings.diagnose`, as the long frame ``ki.load`` returns, and keeps each run's
answer until one of those series gets a new point. ``/cka`` compares the layers of two runs (or
of one run with itself) by linear CKA between their recorded centred Gram matrices.

Reads go through :mod:`tb_plugin.data`'s caches and readers, like every other route. pandas
is imported on the first ``/findings`` request, not with TensorBoard.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
from tensorboard import errors

from tb_plugin import data

__all__ = [
    "CKA_GRAM",
    "CKA_ROWS",
    "FINDING_FIELDS",
    "FINDING_QUANTITIES",
    "FindingsCache",
    "cka_impl",
    "cka_matrix",
    "findings_impl",
    "refusal",
]

# The quantities the diagnosis rules read (tb_plugin/findings.py), and Keras' logs they read.
FINDING_QUANTITIES = (
    "cka_previous",
    "dead_fraction",
    "drift",
    "feature_saliency",
    "model_auc",
    "nonfinite_rows",
    "probe_auc",
    "probe_r2",
)
FINDING_LOGS = ("loss", "val_loss")
# Arrays the rules read too: each layer's position, parameter count and class (`type`), which
# keep layers that cannot add anything (Dropout, Flatten, ...) out of redundant_layer.
FINDING_ARRAYS = ("model_layers",)
FRAME_COLUMNS = ("run", "step", "dataset", "layer", "quantity", "value", "group", "type")
FINDING_FIELDS = ("step", "kind", "severity", "subject", "message", "dataset", "layer", "group")
_SEVERITY_RANK = {"alert": 0, "warning": 1, "info": 2}

CKA_GRAM = "cka_gram"
CKA_ROWS = "cka_rows"


class FindingsCache:
    """A run's findings, kept while the series they were computed from are unchanged.

    Keyed by (experiment, run); an entry holds the versions (:attr:`data.SeriesInfo.version`)
    of every series read, so a new checkpoint (or a new epoch of logs) recomputes that run only.
    At most ``max_runs`` runs are held, the least recently asked dropped first.
    """

    def __init__(self, max_runs: int = 512) -> None:
        self.max_runs = max_runs
        self._entries: OrderedDict[tuple[str, str], tuple[tuple, list[dict]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, experiment_id: str, run: str, version: tuple) -> list[dict] | None:
        with self._lock:
            hit = self._entries.get((experiment_id, run))
            if hit is None or hit[0] != version:
                return None
            self._entries.move_to_end((experiment_id, run))
            return hit[1]

    def put(self, experiment_id: str, run: str, version: tuple, findings: list[dict]) -> None:
        with self._lock:
            self._entries[(experiment_id, run)] = (version, findings)
            self._entries.move_to_end((experiment_id, run))
            while len(self._entries) > self.max_runs:
                self._entries.popitem(last=False)


def _default_diagnose() -> Callable:
    from tb_plugin.findings import diagnose  # pandas, and the rules: loaded on first use

    return diagnose


def findings_impl(
    provider: Any,
    ctx: Any,
    experiment_id: str,
    indexes: data.IndexCache,
    scalars: data.SeriesCache,
    tensors: data.SeriesCache,
    logs: data.SeriesCache,
    cache: FindingsCache,
    runs: list[str],
    diagnose: Callable | None = None,
) -> dict:
    """The ``/findings`` answer: the diagnoses of each run, most severe first, then by step.

    Args:
        scalars: the cache of whole scalar series (shared with ``/scalars``).
        tensors: the cache of whole tensor series (shared with ``/values``).
        logs: the cache of Keras' log series (shared with ``/logs``).
        cache: the findings already computed.
        diagnose: ``tb_plugin.findings.diagnose`` unless given (tests pass a stand-in).
    """
    infos = [indexes.run(provider, ctx, experiment_id, run) for run in runs]
    log_entries = indexes.get(provider, ctx, experiment_id).logs
    answer: dict[str, list[dict]] = {}
    stale = []
    for info in infos:
        series = [
            s
            for quantity in FINDING_QUANTITIES
            for s in info.of(quantity)
            if s.is_scalar and set(s.extra) <= {"group"}
        ] + [s for quantity in FINDING_ARRAYS for s in info.of(quantity) if not s.is_scalar]
        entries = [e for e in log_entries.get(info.run, []) if _log_name(e) in FINDING_LOGS]
        version = (
            tuple((s.tag, s.version) for s in series),
            tuple((tb_run, s.tag, s.version) for _, tb_run, s in entries),
        )
        held = cache.get(experiment_id, info.run, version)
        if held is None:
            stale.append((info, series, entries, version))
        else:
            answer[info.run] = held
    if stale:
        rules = diagnose or _default_diagnose()
        items = [(info.tb_run, s) for info, series, _, _ in stale for s in series]
        found = scalars.read(
            experiment_id,
            [item for item in items if item[1].is_scalar],
            data._fetcher(
                provider, ctx, experiment_id, provider.read_scalars, data._pairs, data._ALL
            ),
        )
        found.update(
            tensors.read(
                experiment_id,
                [item for item in items if not item[1].is_scalar],
                data._fetcher(provider, ctx, experiment_id, provider.read_tensors, list, data._ALL),
            )
        )
        with_logs = [info.run for info, _, entries, _ in stale if entries]
        log_series = {
            part["run"]: part["series"]
            for part in (
                data.logs_impl(provider, ctx, experiment_id, indexes, logs, with_logs)["runs"]
                if with_logs
                else []
            )
        }
        for info, series, _, version in stale:
            rows = _quantity_rows(info, series, found)
            rows.extend(_log_rows(info.run, log_series.get(info.run, [])))
            findings = _diagnose(rules, info, rows)
            cache.put(experiment_id, info.run, version, findings)
            answer[info.run] = findings
    return {"runs": [{"run": info.run, "findings": answer[info.run]} for info in infos]}


def _log_name(entry: tuple[str, str, data.SeriesInfo]) -> str:
    """The frame's name of a listed Keras log: ``val_<name>`` for Keras' validation run."""
    name, tb_run, _ = entry
    return f"val_{name}" if tb_run.endswith("/validation") or tb_run == "validation" else name


def _quantity_rows(info: data.RunInfo, series: list, found: dict) -> list[tuple]:
    """Frame rows (FRAME_COLUMNS) of the series read: floats (NaN where not finite), arrays."""
    rows = []
    for s in series:
        value = found[(info.tb_run, s.tag)]
        if s.is_scalar:
            steps, values = value
            points = [
                (step, float("nan") if v is None else v)
                for step, v in zip(steps, values, strict=True)
            ]
        else:
            points = [(int(p.step), p.numpy) for p in value]
        group, kind = s.extra.get("group"), s.extra.get("type")
        for step, v in points:
            rows.append((info.run, step, s.dataset, s.layer, s.quantity, v, group, kind))
    return rows


def _log_rows(run: str, series: list[dict]) -> list[tuple]:
    """loss and val_loss rows: the callback's copies, else Keras' TensorBoard callback's."""
    chosen: dict[str, dict] = {}
    for s in series:
        name = s["name"] if s["source"] != "validation" else f"val_{s['name']}"
        if name not in FINDING_LOGS:
            continue
        if name not in chosen or (s["source"] == "inspect" and chosen[name]["source"] != "inspect"):
            chosen[name] = s
    rows = []
    for name, s in sorted(chosen.items()):
        for step, value in zip(s["steps"], s["values"], strict=True):
            value = float("nan") if value is None else value
            rows.append((run, step, "", "", name, value, None, None))
    return rows


def _diagnose(rules: Callable, info: data.RunInfo, rows: list[tuple]) -> list[dict]:
    """Runs the rules on one run's rows; JSON-ready findings, most severe first, then by step."""
    if not rows:
        return []
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    frame["step"] = frame["step"].astype("int64")
    if not any(isinstance(v, np.ndarray) for v in frame["value"]):
        frame["value"] = frame["value"].astype("float64")  # as ki.load: object with arrays
    frame = frame.sort_values(["run", "step", "quantity", "dataset", "layer"], kind="stable")
    result = rules(frame.reset_index(drop=True), {info.run: info.summary()["layers"]})
    findings = [_finding(row) for row in result.to_dict("records")]
    findings.sort(key=lambda f: (_SEVERITY_RANK.get(f["severity"], 3), f["step"] or 0))
    return findings


def _finding(row: dict) -> dict:
    step = row.get("step")
    try:
        step = int(step)
    except (TypeError, ValueError, OverflowError):
        step = None
    out: dict[str, Any] = {"step": step}
    for name in FINDING_FIELDS[1:]:
        value = row.get(name)
        missing = value is None or (isinstance(value, float) and value != value)
        out[name] = "" if missing else str(value)
    return out


# ----- /cka ------------------------------------------------------------------------------------


def refusal(a: str, b: str) -> str:
    """The sentence of a refused comparison of runs ``a`` and ``b``."""
    return (
        f"runs {a} and {b} recorded CKA on different rows (different datasets, max_samples "
        "or seed): their layers cannot be compared"
    )


def cka_matrix(grams_a: list[np.ndarray], grams_b: list[np.ndarray]) -> list[list[float | None]]:
    """Linear CKA between every Gram of ``grams_a`` (rows) and of ``grams_b`` (columns).

    Each Gram is a centred (n, n) matrix K = Xc Xc^T (stored scaled to unit Frobenius norm);
    CKA(K, L) = <K, L>_F / (||K||_F ||L||_F), computed in float64 after the float16 storage,
    whose rounding the division by the norms absorbs. ``None`` where a Gram is zero (a layer
    constant on every row).
    """

    def unit_rows(grams: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        flat = np.stack([g.astype(np.float64).ravel() for g in grams])
        norms = np.linalg.norm(flat, axis=1)
        ok = norms > 0
        flat[ok] /= norms[ok, None]
        return flat, ok

    if not grams_a or not grams_b:
        return [[] for _ in grams_a]
    fa, ok_a = unit_rows(grams_a)
    fb, ok_b = (fa, ok_a) if grams_b is grams_a else unit_rows(grams_b)
    matrix = np.round(fa @ fb.T, 6)
    return [
        [float(matrix[i, j]) if ok_a[i] and ok_b[j] else None for j in range(len(grams_b))]
        for i in range(len(grams_a))
    ]


def cka_impl(
    provider: Any,
    ctx: Any,
    experiment_id: str,
    indexes: data.IndexCache,
    tensors: data.SeriesCache,
    runs: list[str],
    step: int,
    last: data.SeriesCache | None = None,
    warmer: Any = None,
) -> dict:
    """The ``/cka`` answer: linear CKA between the layers of two runs at checkpoints <= ``step``.

    ``runs`` is one run (compared with itself) or two. Each run's Grams are those of its
    reference dataset (``train`` when it has one) at its latest checkpoint at or before
    ``step``. Two runs are compared only when their ``cka_rows`` fingerprints and row counts
    agree; otherwise the answer is ``refused`` (a sentence) with no matrix. 404 when a run has
    no ``cka_gram`` at or before ``step``.
    """
    if not 1 <= len(runs) <= 2:
        raise errors.InvalidArgumentError(f"/cka compares one or two runs, got {len(runs)}")
    names = list(dict.fromkeys(runs))
    infos = [indexes.run(provider, ctx, experiment_id, run) for run in names]
    wanted: dict[str, tuple[str, list, list]] = {}
    for info in infos:
        grams = [s for s in info.of(CKA_GRAM) if not s.is_scalar]
        if not grams:
            raise errors.NotFoundError(f"run {info.run!r} has no {CKA_GRAM!r}")
        held = list(dict.fromkeys(s.dataset for s in grams))
        reference = "train" if "train" in held else held[0]
        gram_series = data._parts_at([s for s in grams if s.dataset == reference], step)
        rows_series = [
            s
            for s in info.of(CKA_ROWS)
            if not s.is_scalar and s.dataset == reference and s.layer == ""
        ]
        wanted[info.run] = (reference, gram_series, data._parts_at(rows_series, step))
    found = data._read_at(
        provider,
        ctx,
        experiment_id,
        [(info.tb_run, s) for info in infos for s in wanted[info.run][1] + wanted[info.run][2]],
        step,
        (tensors, last),
        provider.read_tensors,
        list,
        warmer,
    )
    sides = []
    for info in infos:
        reference, gram_series, rows_series = wanted[info.run]
        points = {s.tag: found[(info.tb_run, s.tag)] for s in gram_series + rows_series}
        chosen = max(
            (p.step for s in gram_series for p in points[s.tag] if p.step <= step), default=None
        )
        if chosen is None:
            raise errors.NotFoundError(
                f"run {info.run!r} has no {CKA_GRAM!r} at or before step {step}"
            )
        layers, grams = [], []
        for s in gram_series:
            datum = next((p for p in points[s.tag] if p.step == chosen), None)
            if datum is None or datum.numpy.ndim != 2:
                continue
            if datum.numpy.shape == (grams[0].shape if grams else (len(datum.numpy),) * 2):
                layers.append(s.layer)
                grams.append(datum.numpy)
        rows_points = [p for s in rows_series for p in points[s.tag] if p.step <= chosen]
        fingerprint = (
            max(rows_points, key=lambda p: p.step).numpy.ravel().tolist() if rows_points else None
        )
        sides.append(
            {
                "run": info.run,
                "step": int(chosen),
                "dataset": reference,
                "layers": layers,
                "grams": grams,
                "rows": grams[0].shape[0] if grams else None,
                "fingerprint": fingerprint,
            }
        )
    a, b = sides[0], sides[-1]
    refused = None
    if a is not b:
        unknown = next((side["run"] for side in (a, b) if side["fingerprint"] is None), None)
        if unknown is not None:
            refused = (
                f"run {unknown} recorded no {CKA_ROWS} fingerprint of the rows its CKA used: "
                "its layers cannot be compared with another run's"
            )
        elif a["fingerprint"] != b["fingerprint"] or a["rows"] != b["rows"]:
            refused = refusal(a["run"], b["run"])
    matrix = None if refused else cka_matrix(a["grams"], b["grams"])
    return {
        "runs": [a["run"], b["run"]],
        "steps": [a["step"], b["step"]],
        "datasets": [a["dataset"], b["dataset"]],
        "layers": [a["layers"], b["layers"]],
        "matrix": matrix,
        "rows": None if refused else a["rows"],
        "refused": refused,
    }
