"""The seed papers' testable claims, measured on the demo's runs (see docs/replication.md).

Reads a logdir written by ``examples/demo.py`` with :func:`keras_inspect.load` and prints one
line per claim: what the paper reports and what our run shows, with the numbers.

    python examples/demo.py --no-serve        # writes logs/
    python examples/replication.py --logdir logs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _last(frame, quantity, **axes):
    rows = frame[frame.quantity == quantity]
    for axis, value in axes.items():
        rows = rows[rows[axis] == value]
    return rows[rows.step == rows.step.max()]


def _first(frame, quantity, **axes):
    rows = frame[frame.quantity == quantity]
    for axis, value in axes.items():
        rows = rows[rows[axis] == value]
    return rows[rows.step == rows.step.min()]


def ctr_claims(frame) -> list[str]:
    """Guo et al. on the CTR run."""
    out = []
    auc = _last(frame, "model_auc").set_index("dataset").value.astype(float)
    first = _first(frame, "model_auc").set_index("dataset").value.astype(float)
    tests = [d for d in auc.index if d.startswith("test")]
    out.append(
        "Guo Fig. 1 (train AUC rises while test AUC stalls/falls): train "
        f"{first['train']:.3f} -> {auc['train']:.3f}, test days {first[tests].mean():.3f} -> "
        f"{auc[tests].mean():.3f} (mean of {len(tests)}); test1 {auc['test1']:.3f}, "
        f"{tests[-1]} {auc[tests[-1]]:.3f}"
    )
    probes = _last(frame, "probe_auc", dataset="train").set_index("layer").value.astype(float)
    test_probes = _last(frame, "probe_auc", dataset="test1").set_index("layer").value
    out.append(
        "Guo Fig. 10 (probe AUC per layer): train "
        + ", ".join(f"{k} {v:.3f}" for k, v in probes.items())
        + "; test1 "
        + ", ".join(f"{k} {float(v):.3f}" for k, v in test_probes.items())
    )
    saliency = frame[frame.quantity == "feature_saliency"]
    train = saliency[saliency.dataset == "train"]
    ranks = []
    for step in (train.step.min(), train.step.max()):
        at = train[train.step == step].set_index("group").value.astype(float)
        order = list(at.sort_values(ascending=False).index)
        user = next((g for g in order if g.startswith("user_id")), None)
        ranks.append((step, order.index(user) + 1 if user else None, len(order)))
    out.append(
        "Guo Fig. 11 (the memorised user id becomes the most salient group): user_id is "
        + ", then ".join(f"#{r} of {n} at step {s}" for s, r, n in ranks)
    )
    std = _last(frame, "layer_std", layer="dense_1").set_index("dataset").value.astype(float)
    out.append(
        "Guo Fig. 7 (layer std drifts with the test day): dense_1 "
        + ", ".join(f"{k} {v:.3f}" for k, v in std.items())
    )
    return out


def compare_claims(frame) -> list[str]:
    """Guo et al. section 4.1: a layer whose probe adds nothing can go."""
    out = []
    for run in sorted(set(frame.run)):
        part = frame[frame.run == run]
        auc = _last(part, "model_auc").set_index("dataset").value.astype(float)
        tests = [d for d in auc.index if d.startswith("test")]
        out.append(
            f"Guo 4.1 {run}: train AUC {auc['train']:.3f}, mean test AUC {auc[tests].mean():.3f}"
        )
    return out


def digits_claims(frame) -> list[str]:
    """CNNSlicer and Iuzzolino et al. on the digits CNN."""
    out = []
    inputs = _first(frame, "entropy_inter", layer="input").set_index("dataset").value.astype(float)
    names = [
        n for n in ("per_class_25", "per_class_50", "per_class_100", "per_class_all") if n in inputs
    ]
    out.append(
        "CNNSlicer 5.1 (input inter-sample entropy grows with samples per class): "
        + " < ".join(f"{n} {inputs[n]:.2f}" for n in names)
    )
    given_label = frame[(frame.quantity == "entropy_pred_given_label") & (frame.dataset == "test")]
    first, last = given_label.step.min(), given_label.step.max()
    mean = lambda s: given_label[given_label.step == s].value.astype(float).mean()  # noqa: E731
    out.append(
        f"CNNSlicer Fig. 6 (prediction uncertainty per class falls with training): mean "
        f"H(pred | label) on test {mean(first):.3f} bits at step {first} -> "
        f"{mean(last):.3f} at {last}"
    )
    capacity = frame[(frame.quantity == "channel_capacity") & (frame.dataset == "test")]
    steps = sorted(set(capacity.step))
    values = [
        float(np.mean(capacity[capacity.step == s].value.iloc[0])) for s in (steps[0], steps[-1])
    ]
    out.append(
        "CNNSlicer Fig. 11 (capacity between layers changes over training): mean conv_1 -> "
        f"conv_2 capacity {values[0]:.3f} bits at step {steps[0]}, {values[1]:.3f} at {steps[-1]}"
    )
    projection = frame[(frame.quantity == "projection") & (frame.dataset == "test")]
    if len(projection):
        from sklearn.metrics import silhouette_score

        last_step = projection.step.max()
        scores = {}
        for row in projection[projection.step == last_step].itertuples():
            scores[row.layer] = silhouette_score(row.value[:, :2], row.value[:, 2].astype(int))
        out.append(
            f"Guo Fig. 9 (classes separate in deeper layers): silhouette of the t-SNE by class "
            f"at step {last_step}: " + ", ".join(f"{k} {v:.2f}" for k, v in scores.items())
        )
    probs = frame[(frame.quantity == "prediction_probs") & (frame.dataset == "test")]
    if len(probs):
        confidence = {}
        for step in (probs.step.min(), probs.step.max()):
            rows = probs[probs.step == step]
            confidence[step] = float(
                np.mean([v[int(c)] for v, c in zip(rows.value, rows["class"], strict=True)])
            )
        out.append(
            "Iuzzolino et al. (probabilities of fixed samples sharpen): mean P(true class) of "
            "the 4 test samples " + ", ".join(f"{v:.2f} at step {s}" for s, v in confidence.items())
        )
    return out


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="logs")
    args = parser.parse_args(argv)

    import keras_inspect

    root = Path(args.logdir)
    lines = []
    sections = (("ctr", ctr_claims), ("compare", compare_claims), ("digits", digits_claims))
    for sub, claims in sections:
        if (root / sub).exists():
            lines.extend(claims(keras_inspect.load(root / sub)))
    for line in lines:
        print(f"- {line}")
    return lines


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
