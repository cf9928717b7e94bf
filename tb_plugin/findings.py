"""Findings: diagnoses read off what keras_inspect recorded (pure pandas and NumPy, no I/O).

Guo et al. (2018) used their figures to find things: over-fitting (Fig. 1), memorised user ids
(Fig. 11), drift without labels (Fig. 7 and section 5), a layer that adds nothing (Fig. 10).
:func:`diagnose` turns the recorded values into those sentences, one row per finding, so that a
user (or a CI job, ``python -m keras_inspect findings LOGDIR``) need not know where to look.

The module lives in the plugin package so that the tab can run it without importing Keras;
:func:`keras_inspect.findings` is the public entry point on a log directory.

Every rule reads a run's checkpoints in step order and reports the **first checkpoint from which
it holds without interruption up to the newest one**: a condition that comes and goes (chance
variation between checkpoints) is not a finding, and a condition that stopped holding (a
held-out AUC that recovered) is no longer reported. Thresholds are fields of
:class:`Thresholds`, each with the reason for its default.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

__all__ = ["FINDING_COLUMNS", "KINDS", "SEVERITIES", "Thresholds", "diagnose"]

FINDING_COLUMNS = (
    "run",
    "step",
    "kind",
    "severity",
    "subject",
    "message",
    "dataset",
    "layer",
    "group",
)
"""Columns of :func:`diagnose`'s frame. ``subject`` names what the finding is about (a layer,
dataset or feature group); ``dataset``, ``layer`` and ``group`` say where to look in the tab
(empty when they do not apply)."""

KINDS = (
    "non_finite",
    "overfitting",
    "memorisation",
    "dead_units",
    "drift",
    "redundant_layer",
    "representation_frozen",
    "representation_unstable",
)
SEVERITIES = ("alert", "warning", "info")

# Layers whose output is a fixed transform of the previous one: never "redundant" (a probe on
# them cannot do better, and there is nothing to remove).
_PASS_THROUGH = re.compile(
    r"Dropout|Normalization|Flatten|Reshape|Pooling|Activation|ReLU|Permute|Cropping|Padding"
    r"|Identity|Rescaling|Masking"
)


@dataclass(frozen=True)
class Thresholds:
    """When a finding is reported. Pass your own to :func:`diagnose` (or
    ``keras_inspect.findings(logdir, thresholds=...)``) to make a rule stricter or looser.

    Attributes:
        auc_drop: a held-out dataset's model AUC this far below its best checkpoint counts as
            worse. The samples are fixed, so checkpoint-to-checkpoint AUC changes are the
            model's, not sampling noise; 0.01 is about one standard error of an AUC on a
            2,048-row sample, so smaller dips are not called a trend.
        auc_gain: ... while train's model AUC rose at least this much since that checkpoint.
        auc_drop_alert: a drop this large (five standard errors) is an alert.
        loss_rise: without model AUCs (regression), Keras' ``val_loss`` at least this share
            above its minimum while ``loss`` kept falling counts as over-fitting.
        saliency_share_ratio: memorisation: a feature group's share of the summed saliency
            (on the reference dataset) is at least this multiple of its share when held-out
            performance peaked, ...
        saliency_standout: ... is at least this multiple of the median group's share, and
            held-out performance (the mean model AUC of the held-out datasets, or
            ``val_loss``) is ``auc_drop`` (``loss_rise``) below that peak. Guo et al. (Fig. 11):
            in the over-fitting regime the user-id group's score "rises up dramatically and
            becomes much higher than the other feature groups". On the demo's CTR run (34
            groups) user_id goes 2.5 % -> 7.9 % (3.2 x; 3 x the median) while the groups that
            carry signal settle; only the group that rose most is the finding, others that
            qualify are named in its message.
        dead_warning: a layer's dead fraction (units active on at most 1 % of the samples)
            at or above this is a warning: half a layer that never fires is capacity lost
            (measured: 0 - 0.41 in the ReLU layers of the tests' healthy trainings on three
            backends; 0.47 - 0.56 in the last hidden layers of the demo's CTR model).
        dead_alert: at or above this, an alert (the layer barely passes a signal).
        dead_jump: a rise of the dead fraction by this much between two checkpoints is a
            warning even below ``dead_warning`` (a learning-rate spike killing units).
        drift_warning: a dataset's drift effect size (root mean square over units of the
            standardised mean difference from ``train``, sampling noise removed; see
            ``keras_inspect.quantities.similarity.drift_effect``) at or above this in some
            layer, at the checkpoint and already at the first one, is drift. 0.25 is a
            little above Cohen's "small" effect (0.2); a second sample of train's
            distribution measures below 0.05. The first checkpoint tells input drift (there
            from the start) from the gap that opens between training rows and unseen rows as
            a model fits the former (it grows from about 0: 0.3 on the held-out days of a
            model memorising user ids, measured).
        drift_alert: at or above this ("large" effect, 0.8), an alert.
        probe_margin: redundant layer: a layer whose probe AUC (or R²) on held-out data is
            less than this above the previous inspected layer's adds nothing measurable (the
            probes' AUC varies by about 0.002 between refits on one sample).
        frozen_cka: representation frozen: CKA to the previous checkpoint at or above this ...
        frozen_checkpoints: ... for at least this many checkpoints in a row, while another
            layer still changes (its CKA below ``frozen_cka``): the layer stopped learning
            before the rest.
        unstable_cka: representation unstable: CKA to the previous checkpoint below this in
            the last third of training, for ``unstable_checkpoints`` checkpoints in a row (a
            healthy layer changes less and less: measured above 0.89 in the last third of
            the tests' trainings and the demo's CTR run).
        unstable_checkpoints: see ``unstable_cka``.
    """

    auc_drop: float = 0.01
    auc_gain: float = 0.005
    auc_drop_alert: float = 0.05
    loss_rise: float = 0.05
    saliency_share_ratio: float = 2.0
    saliency_standout: float = 2.0
    dead_warning: float = 0.5
    dead_alert: float = 0.9
    dead_jump: float = 0.25
    drift_warning: float = 0.25
    drift_alert: float = 0.8
    probe_margin: float = 0.005
    frozen_cka: float = 0.999
    frozen_checkpoints: int = 3
    unstable_cka: float = 0.6
    unstable_checkpoints: int = 2

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(
                    f"Thresholds.{item.name} must be a number >= 0; got {value!r}. "
                    f"Its default is {item.default!r}."
                )


def diagnose(
    frame: pd.DataFrame,
    layer_order: dict[str, list[str]] | None = None,
    thresholds: Thresholds | None = None,
) -> pd.DataFrame:
    """Findings of every run in a ``keras_inspect.load`` frame.

    Args:
        frame: columns ``run, step, dataset, layer, quantity, value`` and optionally ``group``
            (feature groups) and ``type`` (layer classes of ``model_layers``). Only scalar
            quantities and ``model_layers`` are read; other rows are ignored.
        layer_order: run -> its layers in model order, when the frame has no ``model_layers``
            rows (else natural name order).
        thresholds: the rules' thresholds (default :class:`Thresholds`).

    Returns:
        One row per finding, columns :data:`FINDING_COLUMNS`, sorted by run, severity (alert
        first), step and kind. An empty frame with those columns when nothing is wrong.

    Example:
        >>> rows = [("r", s, "train", "dense", "dead_fraction", v, None)
        ...         for s, v in [(0, 0.1), (1, 0.95)]]
        >>> cols = ["run", "step", "dataset", "layer", "quantity", "value", "group"]
        >>> diagnose(pd.DataFrame(rows, columns=cols))[["step", "kind", "severity"]]
           step        kind severity
        0     1  dead_units    alert
    """
    limits = thresholds or Thresholds()
    found: list[dict] = []
    if len(frame):
        for run, part in frame.groupby("run", sort=True):
            found.extend(_Run(str(run), part, (layer_order or {}).get(run), limits).findings())
    result = pd.DataFrame(found, columns=list(FINDING_COLUMNS))
    if result.empty:
        return result.astype({"step": "int64"})
    result["step"] = result["step"].astype("int64")
    rank = result["severity"].map(SEVERITIES.index)
    kind = result["kind"].map(KINDS.index)
    order = np.lexsort((kind, result["step"], rank, result["run"]))
    return result.iloc[order].reset_index(drop=True)


def _holds_from(steps: list[int], holds: Iterable[bool]) -> int | None:
    """The first step from which ``holds`` is true up to the last step, or None."""
    first = None
    for step, ok in zip(steps, holds, strict=True):
        if ok and first is None:
            first = step
        elif not ok:
            first = None
    return first


def _natural(name: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


class _Run:
    """The rules applied to one run's rows."""

    def __init__(
        self, run: str, rows: pd.DataFrame, order: list[str] | None, limits: Thresholds
    ) -> None:
        self.run = run
        self.limits = limits
        self.rows = rows
        self.steps = sorted(int(s) for s in rows["step"].unique())
        self.layer_types: dict[str, str] = {}
        self.layer_params: dict[str, float] = {}
        layers = rows[rows["quantity"] == "model_layers"]
        if len(layers):
            positions = {}
            for _, row in layers.iterrows():
                value = np.asarray(row["value"], dtype=np.float64).reshape(-1)
                positions[row["layer"]] = value[0] if len(value) else np.inf
                self.layer_params[row["layer"]] = value[1] if len(value) > 1 else np.nan
                self.layer_types[row["layer"]] = str(row.get("type") or "")
            order = sorted(positions, key=positions.get)
        self.order = list(order or [])
        self._overfit: dict | None = None

    # Reading -----------------------------------------------------------------------------------

    def series(self, quantity: str, by: str = "layer") -> dict[tuple[str, str], pd.Series]:
        """(dataset, layer-or-group) -> values by step, for a scalar quantity."""
        part = self.rows[self.rows["quantity"] == quantity]
        out = {}
        if part.empty:
            return out
        key = "group" if by == "group" else "layer"
        if key not in part:
            return out
        for (dataset, name), cells in part.groupby(["dataset", key], sort=False, dropna=False):
            values = pd.to_numeric(cells["value"], errors="coerce")
            series = pd.Series(values.to_numpy(float), index=cells["step"].astype(int).to_numpy())
            series = series[~series.index.duplicated(keep="last")].sort_index().dropna()
            if len(series):
                out[(str(dataset), "" if name is None else str(name))] = series
        return out

    def reference(self, datasets: Iterable[str]) -> str | None:
        datasets = list(datasets)
        if not datasets:
            return None
        return "train" if "train" in datasets else datasets[0]

    def layer_key(self, layer: str) -> tuple:
        if layer in self.order:
            return (0, self.order.index(layer))
        return (1, _natural(layer))

    def finding(self, step, kind, severity, subject, message, dataset="", layer="", group=""):
        return {
            "run": self.run,
            "step": int(step),
            "kind": kind,
            "severity": severity,
            "subject": subject,
            "message": message,
            "dataset": dataset,
            "layer": layer,
            "group": group,
        }

    # Rules ---------------------------------------------------------------------------------------

    def findings(self) -> list[dict]:
        rules: list[Callable[[], list[dict]]] = [
            self.non_finite,
            self.overfitting,
            self.memorisation,
            self.dead_units,
            self.drift,
            self.redundant_layer,
            self.representation,
        ]
        found = []
        for rule in rules:
            found.extend(rule())
        return found

    def non_finite(self) -> list[dict]:
        counts = self.series("nonfinite_rows")
        bad = [
            (s[s > 0].index[0], key, s[s > 0].iloc[0]) for key, s in counts.items() if (s > 0).any()
        ]
        if not bad:
            return []
        step, (dataset, layer), rows = min(bad, key=lambda b: (b[0], self.layer_key(b[1][1])))
        where = f"layer {layer}" if layer else "the model output"
        others = len({key for _, key, _ in bad}) - 1
        more = f" (and {others} more layer/dataset pairs)" if others else ""
        return [
            self.finding(
                step,
                "non_finite",
                "alert",
                layer or "model output",
                f"{int(rows)} rows of {dataset} had NaN or infinite values in {where} at step "
                f"{step}{more}: the training is diverging (lower the learning rate, clip "
                "gradients, check the inputs).",
                dataset,
                layer,
            )
        ]

    def overfit(self) -> dict:
        """Per held-out dataset: steps at which it is worse than its best, and over-fitting."""
        if self._overfit is not None:
            return self._overfit
        limits = self.limits
        result = {"findings": []}
        auc = {dataset: s for (dataset, _), s in self.series("model_auc").items()}
        ref = self.reference(auc)
        if ref is not None and len(auc) > 1:
            train = auc[ref]
            candidates = []
            for dataset, held in auc.items():
                if dataset == ref:
                    continue
                steps = [s for s in held.index if s in train.index]
                over = []
                best_step = None
                for step in steps:
                    if best_step is None or held[step] > held[best_step]:
                        best_step = step
                    drop = held[best_step] - held[step]
                    gain = train[step] - train[best_step]
                    over.append(drop >= limits.auc_drop and gain >= limits.auc_gain)
                start = _holds_from(steps, over)
                if start is not None:
                    last = steps[-1]
                    best = held.loc[:last].idxmax()
                    candidates.append(
                        (held[best] - held[last], dataset, start, best, last, held, train)
                    )
            if candidates:
                candidates.sort(key=lambda c: -c[0])
                drop, dataset, start, best, last, held, train = candidates[0]
                others = len(candidates) - 1
                plural = "s" if others > 1 else ""
                more = f"; {others} other held-out dataset{plural} fell too" if others else ""
                severity = "alert" if drop >= limits.auc_drop_alert else "warning"
                result["findings"].append(
                    self.finding(
                        start,
                        "overfitting",
                        severity,
                        dataset,
                        f"Since step {best}, {ref} AUC rose "
                        f"{train[best]:.3f} -> {train[last]:.3f} while {dataset} AUC fell "
                        f"{held[best]:.3f} -> {held[last]:.3f}{more}.",
                        dataset,
                    )
                )
        if not result["findings"]:
            result["findings"] = self.overfit_by_loss()
        self._overfit = result
        return result

    def overfit_by_loss(self) -> list[dict]:
        logs = {layer or dataset: s for (dataset, layer), s in self.series("loss").items()}
        val = {layer or dataset: s for (dataset, layer), s in self.series("val_loss").items()}
        if not logs or not val:
            return []
        train, held = next(iter(logs.values())), next(iter(val.values()))
        steps = [s for s in held.index if s in train.index]
        over = []
        best_step = None
        for step in steps:
            if best_step is None or held[step] < held[best_step]:
                best_step = step
            rise = held[step] - held[best_step]
            bad = rise >= self.limits.loss_rise * abs(held[best_step])
            over.append(bad and train[step] < train[best_step])
        start = _holds_from(steps, over)
        if start is None:
            return []
        last = steps[-1]
        best = held.loc[:last].idxmin()
        return [
            self.finding(
                start,
                "overfitting",
                "warning",
                "validation",
                f"Since step {best}, loss fell {train[best]:.4g} -> "
                f"{train[last]:.4g} while val_loss rose {held[best]:.4g} -> {held[last]:.4g}.",
            )
        ]

    def overfitting(self) -> list[dict]:
        return self.overfit()["findings"]

    def held_out(self) -> tuple[pd.Series, pd.Series] | None:
        """Per step: whether held-out performance is below its peak so far, and that peak's
        step. Held-out performance is the mean model AUC of the labelled datasets other than
        the reference one, else Keras' val_loss."""
        auc = {dataset: s for (dataset, _), s in self.series("model_auc").items()}
        ref = self.reference(auc)
        held = [s for dataset, s in auc.items() if dataset != ref]
        if held:
            score = pd.concat(held, axis=1).dropna().mean(axis=1)
            margin = pd.Series(self.limits.auc_drop, index=score.index)
        else:
            val = list(self.series("val_loss").values())
            if not val:
                return None
            score = -val[0]
            margin = self.limits.loss_rise * score.abs()
        peak = score.cummax()
        peak_step = pd.Series(
            [score.loc[:step].idxmax() for step in score.index], index=score.index
        )
        worse = peak - score >= margin.reindex(peak_step.to_numpy()).to_numpy()
        return worse, peak_step

    def memorisation(self) -> list[dict]:
        held = self.held_out()
        saliency = self.series("feature_saliency", by="group")
        ref = self.reference(dataset for dataset, _ in saliency)
        groups = {group: s for (dataset, group), s in saliency.items() if dataset == ref}
        if held is None or len(groups) < 2:
            return []
        worse, peak_step = held
        table = pd.DataFrame(groups).dropna()
        share = table.div(table.sum(axis=1), axis=0)
        steps = [step for step in share.index if step in worse.index]
        if not steps:
            return []
        limits = self.limits
        standout = limits.saliency_standout * share.median(axis=1)
        rising = {}
        for group in share.columns:
            values = share[group]
            ratio = [values[step] / max(values[peak_step[step]], 1e-12) for step in steps]
            holds = [
                bool(worse[step])
                and r >= limits.saliency_share_ratio
                and values[step] >= standout[step]
                for step, r in zip(steps, ratio, strict=True)
            ]
            start = _holds_from(steps, holds)
            if start is not None:
                rising[group] = (ratio[-1], start)
        if not rising:
            return []
        group = max(rising, key=lambda g: rising[g][0])
        start = rising[group][1]
        last = steps[-1]
        since = peak_step[last]
        values = share[group]
        rank = int((share.loc[last] > values[last]).sum()) + 1
        others = sorted((g for g in rising if g != group), key=lambda g: -rising[g][0])
        also = f"; {', '.join(others[:3])} rose too" if others else ""
        return [
            self.finding(
                start,
                "memorisation",
                "alert",
                group,
                f"Since held-out performance peaked at step {since}, feature group "
                f"{group}'s share of {ref} saliency rose {values[since]:.1%} -> "
                f"{values[last]:.1%} (now #{rank} of {len(share.columns)}) while held-out "
                f"performance fell{also}: the model learns it by heart (Guo et al., Fig. 11).",
                ref,
                group=group,
            )
        ]

    def dead_units(self) -> list[dict]:
        dead = self.series("dead_fraction")
        ref = self.reference(dataset for dataset, _ in dead)
        limits = self.limits
        found = []
        for (dataset, layer), values in sorted(
            dead.items(), key=lambda item: self.layer_key(item[0][1])
        ):
            if dataset != ref:
                continue
            steps = list(values.index)
            jumped = values.diff().fillna(0) >= limits.dead_jump
            high = values >= limits.dead_warning
            start = _holds_from(steps, high | jumped.cummax() & (values >= values.cummax() / 2))
            if start is None:
                continue
            last = values.iloc[-1]
            severity = "alert" if last >= limits.dead_alert else "warning"
            first = values.iloc[0]
            found.append(
                self.finding(
                    start,
                    "dead_units",
                    severity,
                    layer,
                    f"{last:.0%} of layer {layer}'s units are dead on {dataset} (active on at "
                    f"most 1% of the samples; {first:.0%} at step {steps[0]}): lower the "
                    "learning rate, use LeakyReLU/GELU or check the initialisation.",
                    dataset,
                    layer,
                )
            )
        return found

    def drift(self) -> list[dict]:
        drift = self.series("drift")
        limits = self.limits
        by_dataset: dict[str, dict[str, pd.Series]] = {}
        for (dataset, layer), values in drift.items():
            by_dataset.setdefault(dataset, {})[layer] = values
        found = []
        for dataset, layers in by_dataset.items():
            table = pd.DataFrame(layers).sort_index()
            # A gap that fitting opens (a model that learns its training rows by heart
            # activates differently on them than on any unseen row) grows from about 0;
            # a shift of the inputs is there from the first checkpoint on.
            worst = table.clip(upper=table.iloc[0], axis=1).max(axis=1, skipna=True)
            steps = list(worst.index)
            start = _holds_from(steps, worst >= limits.drift_warning)
            if start is None:
                continue
            last = table.iloc[-1]
            layer = str(last.idxmax())
            severity = "alert" if last.max() >= limits.drift_alert else "warning"
            found.append(
                self.finding(
                    start,
                    "drift",
                    severity,
                    dataset,
                    f"{dataset}'s activations differ from train's by {last.max():.2f} "
                    f"standard deviations (RMS over units of layer {layer}) while a sample "
                    "like train's measures about 0: its inputs have shifted (Guo et al., "
                    "Fig. 7).",
                    dataset,
                    layer,
                )
            )
        return found

    def redundant_layer(self) -> list[dict]:
        probes = self.series("probe_auc") or self.series("probe_r2")
        if not probes:
            return []
        metric = "probe AUC" if self.series("probe_auc") else "probe R²"
        datasets = {dataset for dataset, _ in probes}
        ref = self.reference(datasets)
        held = sorted(datasets - {ref}) or [ref]
        by_layer: dict[str, pd.Series] = {}
        for layer in {layer for _, layer in probes}:
            parts = [probes[(d, layer)] for d in held if (d, layer) in probes]
            if parts:
                by_layer[layer] = pd.concat(parts, axis=1).mean(axis=1)
        layers = sorted(by_layer, key=self.layer_key)
        where = ", ".join(held) if len(held) <= 3 else f"{len(held)} held-out datasets (mean)"
        scored = self._scored_layers(layers)
        found = []
        for before, layer in itertools.pairwise(layers):
            if layer in scored or _PASS_THROUGH.search(self.layer_types.get(layer, "")):
                continue
            if self.layer_params.get(layer) == 0:
                continue
            gain = (by_layer[layer] - by_layer[before]).dropna()
            start = _holds_from(list(gain.index), gain < self.limits.probe_margin)
            if start is None:
                continue
            last = gain.index[-1]
            found.append(
                self.finding(
                    start,
                    "redundant_layer",
                    "info",
                    layer,
                    f"Layer {layer} adds nothing measurable: its {metric} on {where} is "
                    f"{by_layer[layer][last]:.3f}, against "
                    f"{by_layer[before][last]:.3f} for {before} before it (Guo et al., Fig. "
                    "10): a candidate for removal.",
                    held[0],
                    layer,
                )
            )
        return found

    def _scored_layers(self, layers: list[str]) -> set[str]:
        """Layers recorded without a dead fraction while others have one: the scored outputs."""
        dead = {layer for _, layer in self.series("dead_fraction")}
        return set(layers) - dead if dead else set()

    def representation(self) -> list[dict]:
        cka = {layer: s for (_, layer), s in self.series("cka_previous").items()}
        if not cka:
            return []
        limits = self.limits
        table = pd.DataFrame(cka).sort_index()
        steps = list(table.index)
        found = []
        for layer in sorted(table.columns, key=self.layer_key):
            values = table[layer]
            others = table.drop(columns=[layer])
            moving = (others < limits.frozen_cka).any(axis=1) if len(others.columns) else None
            still = values >= limits.frozen_cka
            if moving is not None:
                run_length = 0
                start = None
                for step, ok, other in zip(steps, still, moving, strict=True):
                    run_length = run_length + 1 if ok and other else 0
                    if run_length == limits.frozen_checkpoints and start is None:
                        start = steps[steps.index(step) - run_length + 1]
                if start is not None and bool(still.iloc[-1]):
                    found.append(
                        self.finding(
                            start,
                            "representation_frozen",
                            "info",
                            layer,
                            f"Layer {layer} stopped changing at step {start} (CKA to the "
                            f"previous checkpoint {values.iloc[-1]:.4f}) while later layers "
                            "still learn: it could be frozen, or given a higher learning rate.",
                            layer=layer,
                        )
                    )
            late = values.iloc[len(values) - max(1, len(values) // 3) :]
            low = late < limits.unstable_cka
            start = _holds_from(list(late.index), low)
            span = len(late) - list(late.index).index(start) if start is not None else 0
            if start is not None and span >= limits.unstable_checkpoints:
                found.append(
                    self.finding(
                        start,
                        "representation_unstable",
                        "warning",
                        layer,
                        f"Layer {layer} still changes a lot late in training (CKA to the "
                        f"previous checkpoint {values.iloc[-1]:.2f} at step {steps[-1]}): the "
                        "learning rate may be too high for it to settle.",
                        layer=layer,
                    )
                )
        return found
