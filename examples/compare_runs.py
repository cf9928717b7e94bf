"""Two CTR models side by side: the paper's network, and the same without its fourth layer.

Guo et al. (section 4.1) read their probes and neuron statistics to ask whether every layer
earns its place: a layer whose probe AUC adds nothing over the layer before it can go. This
script trains :mod:`examples.ctr_drift`'s model twice on the same data with
:class:`keras_inspect.InspectCallback`: ``ctr_4_layers`` (256/128/64/32 units) and
``ctr_3_layers`` (layer 4 removed), into one logdir, so the Inspect tab overlays them, one
colour per run: loss, model AUC per test day, probe AUC per layer.

    python examples/compare_runs.py --quick      # about a minute
    python examples/compare_runs.py              # 8 epochs each
    tensorboard --logdir logs/compare
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

VARIANTS = {"ctr_4_layers": "256,128,64,32", "ctr_3_layers": "256,128,64"}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Train both variants; print and return each one's final AUC per dataset."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="logs/compare", help="parent of the two runs")
    parser.add_argument("--quick", action="store_true", help="tiny data, 3 epochs")
    parser.add_argument("--epochs", type=int, default=None, help="as examples/ctr_drift.py")
    args = parser.parse_args(argv)

    from examples import ctr_drift

    results = {}
    for run, hidden in VARIANTS.items():
        print(f"--- {run}: ReLU layers of {hidden} units", flush=True)
        extra = ["--quick"] if args.quick else []
        if args.epochs is not None:
            extra += ["--epochs", str(args.epochs)]
        results[run] = ctr_drift.main(
            ["--logdir", str(Path(args.logdir) / run), "--hidden", hidden, *extra]
        )
    days = [name for name in results[next(iter(VARIANTS))] if name != "train"]
    for run, aucs in results.items():
        mean_test = sum(aucs[d] for d in days) / len(days)
        print(f"{run}: train AUC {aucs['train']:.3f}, mean test AUC {mean_test:.3f}")
    print(f"compare them: tensorboard --logdir {args.logdir}")
    return results


if __name__ == "__main__":
    # Run as a script, the repository root is not on sys.path; the examples live there.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
