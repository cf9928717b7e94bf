"""CTR models side by side: the paper's network, the same without its fourth layer, or reseeded.

Guo et al. (section 4.1) read their probes and neuron statistics to ask whether every layer
earns its place: a layer whose probe AUC adds nothing over the layer before it can go. This
script trains variants of :mod:`examples.ctr_drift`'s model on the same data with
:class:`keras_inspect.InspectCallback`, into one logdir, so the Inspect tab overlays them, one
colour per run: loss, model AUC per test day, probe AUC per layer. By default they are
``ctr_4_layers`` (256/128/64/32 units) and ``ctr_3_layers`` (layer 4 removed);
``ctr_4_layers_seed1`` is the paper's network from other initial weights, which shows how far
the curves move by chance alone (the demo trains it beside its seed-0 ``ctr`` run).

    python examples/compare_runs.py --quick      # about a minute
    python examples/compare_runs.py              # 8 epochs each
    python examples/compare_runs.py --variants ctr_3_layers,ctr_4_layers_seed1
    tensorboard --logdir logs/compare
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Run name -> (what it is, its arguments to examples/ctr_drift.py). The data are the same for
# every variant (ctr_drift's --seed 0), so runs differ only where their names say.
VARIANTS = {
    "ctr_4_layers": ("ReLU layers of 256,128,64,32 units", ["--hidden", "256,128,64,32"]),
    "ctr_3_layers": ("ReLU layers of 256,128,64 units", ["--hidden", "256,128,64"]),
    "ctr_4_layers_seed1": (
        "ReLU layers of 256,128,64,32 units, initial weights of seed 1",
        ["--hidden", "256,128,64,32", "--model-seed", "1"],
    ),
}
DEFAULT_VARIANTS = ("ctr_4_layers", "ctr_3_layers")


def _variant_names(text: str) -> tuple[str, ...]:
    """'a,b' -> ('a', 'b'), each a key of VARIANTS; an argparse type, so a typo is a usage error."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in VARIANTS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected variants among {', '.join(VARIANTS)}, separated by commas; got {text!r}"
        )
    return names


def main(argv: list[str] | None = None, callbacks_for=None) -> dict[str, dict[str, float]]:
    """Train the chosen variants; print and return each one's final AUC per dataset.

    Args:
        argv: the command line (see ``--help``); ``None`` reads ``sys.argv``.
        callbacks_for: handed to each variant's :func:`examples.ctr_drift.main`.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="logs/compare", help="parent of the runs")
    parser.add_argument("--quick", action="store_true", help="tiny data, 3 epochs")
    parser.add_argument("--epochs", type=int, default=None, help="as examples/ctr_drift.py")
    parser.add_argument(
        "--variants",
        type=_variant_names,
        default=DEFAULT_VARIANTS,
        help=f"comma-separated, among {', '.join(VARIANTS)} "
        f"(default: {','.join(DEFAULT_VARIANTS)})",
    )
    args = parser.parse_args(argv)

    from examples import ctr_drift

    extra = ["--quick"] if args.quick else []
    if args.epochs is not None:
        extra += ["--epochs", str(args.epochs)]
    results = {}
    for run in args.variants:
        what, variant_args = VARIANTS[run]
        print(f"--- {run}: {what}", flush=True)
        results[run] = ctr_drift.main(
            ["--logdir", str(Path(args.logdir) / run), *variant_args, *extra], callbacks_for
        )
    days = [name for name in results[args.variants[0]] if name != "train"]
    for run, aucs in results.items():
        mean_test = sum(aucs[d] for d in days) / len(days)
        print(f"{run}: train AUC {aucs['train']:.3f}, mean test AUC {mean_test:.3f}")
    print(f"compare them: tensorboard --logdir {args.logdir}")
    return results


if __name__ == "__main__":
    # Run as a script, the repository root is not on sys.path; the examples live there.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
