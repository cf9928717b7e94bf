"""A Conv1D forecaster in the shape of TSViz (Siddiqui et al., 2018), on the Mauna Loa CO2 series.

TSViz studies a convolutional network that forecasts a time series from a window of 50 steps,
given as two channels: the signal and its first difference; three Conv1D layers, two
max-poolings and one Dense output. This script builds that network for the weekly atmospheric
CO2 record that ships with statsmodels (1958-2001, 2,284 weeks; missing weeks interpolated),
forecasts the next week's value, and records with :class:`keras_inspect.InspectCallback`
(``full`` preset) what TSViz shows: filter importance, filter clusters and input saliency,
besides the standard statistics.

Datasets: ``train`` is the first 70 % of the windows; ``test`` the later ones, where the
level is higher than anything seen in training (the series rises): a drift the layer
statistics show.

    python examples/timeseries_conv1d.py --quick     # a few seconds
    python examples/timeseries_conv1d.py             # 40 epochs
    tensorboard --logdir logs
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

WINDOW = 50


def load_co2() -> np.ndarray:
    """The weekly CO2 series (ppm), gaps filled by linear interpolation."""
    try:
        import statsmodels.api as sm
    except ModuleNotFoundError as error:
        raise SystemExit(
            "this example reads the CO2 series that ships with statsmodels, which is not "
            "installed; install the examples' extra: pip install 'keras-inspect[examples]' "
            "(or pip install statsmodels)."
        ) from error

    frame = sm.datasets.co2.load_pandas().data
    return frame["co2"].interpolate().bfill().to_numpy(dtype=np.float64)


def make_windows(series: np.ndarray, window: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """(N, window, 2) inputs (scaled signal, its first difference) and the next value.

    The signal is scaled by the mean and standard deviation of the whole series; the
    difference channel is scaled by its own standard deviation.
    """
    scaled = (series - series.mean()) / series.std()
    diff = np.diff(scaled, prepend=scaled[0])
    diff = diff / diff.std()
    channels = np.stack([scaled, diff], axis=1)
    n = len(series) - window
    x = np.stack([channels[i : i + window] for i in range(n)]).astype("float32")
    y = scaled[window:].astype("float32")
    return x, y


def build_model(window: int = WINDOW, learning_rate: float = 1e-3):
    """TSViz's network: three Conv1D layers, two max-poolings, one Dense output."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((window, 2)),
            keras.layers.Conv1D(16, 5, activation="relu", padding="same", name="conv_1"),
            keras.layers.MaxPooling1D(2, name="pool_1"),
            keras.layers.Conv1D(32, 5, activation="relu", padding="same", name="conv_2"),
            keras.layers.MaxPooling1D(2, name="pool_2"),
            keras.layers.Conv1D(32, 3, activation="relu", padding="same", name="conv_3"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(1, name="forecast"),
        ],
        name="tsviz_forecaster",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model


def main(argv: list[str] | None = None, callbacks_for=None) -> dict[str, float]:
    """Train with the inspector attached; print and return the test MSE per dataset.

    Args:
        argv: the command line (see ``--help``); ``None`` reads ``sys.argv``.
        callbacks_for: ``callbacks_for(inspector)`` returns more Keras callbacks for ``fit``,
            given the run's InspectCallback (how the demo prints progress and later waits for
            the callback's background work).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="logs/timeseries", help="run directory")
    parser.add_argument("--quick", action="store_true", help="5 epochs, 256 rows inspected")
    parser.add_argument("--epochs", type=int, default=None, help="default: 5 with --quick, else 40")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--at",
        type=int,
        nargs="+",
        default=None,
        help="record after these 0-based epochs only, e.g. --at 0 9 19 39 (default: every "
        "epoch): the full preset's entropies, clusters and projections are the slow part",
    )
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (5 if args.quick else 40)

    start = time.perf_counter()
    x, y = make_windows(load_co2())
    split = int(0.7 * len(x))
    data = {"train": (x[:split], y[:split]), "test": (x[split:], y[split:])}

    import keras

    import keras_inspect

    keras.utils.set_random_seed(args.seed)
    model = build_model()
    print(f"data: {len(x)} windows of {WINDOW} weeks; model: {model.count_params():,} parameters")
    inspector = keras_inspect.InspectCallback(
        args.logdir,
        datasets=data,
        quantities="full",
        at=args.at,
        max_samples=256 if args.quick else 1024,
        seed=args.seed,
    )
    model.fit(
        *data["train"],
        batch_size=32,
        epochs=epochs,
        validation_data=data["test"],
        callbacks=[
            inspector,
            keras.callbacks.TensorBoard(args.logdir),
            *(callbacks_for(inspector) if callbacks_for else ()),
        ],
        verbose=2,
    )
    errors = {name: float(model.evaluate(xs, ys, verbose=0)) for name, (xs, ys) in data.items()}
    print(
        "MSE after training (scaled units): " + ", ".join(f"{k} {v:.4f}" for k, v in errors.items())
    )
    root = Path(args.logdir).parent
    print(f"done in {time.perf_counter() - start:.1f} s; see: tensorboard --logdir {root}")
    return errors


if __name__ == "__main__":
    import sys

    # Run as a script, the repository root is not on sys.path; keras_inspect lives there.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
