"""A small CNN on scikit-learn's 8 x 8 handwritten digits, watched with CNNSlicer's entropies.

CNNSlicer (Shen et al.) measures what a CNN keeps and discards with entropies: the diversity
of a set of samples (inter-sample entropy) at the input and after each layer, the sharpness of
each channel's feature maps per class (intra-sample entropy), and how uncertain predictions
are per class. This script trains a two-block CNN on ``sklearn.datasets.load_digits`` (1,797
images, about 180 per class) with :class:`keras_inspect.InspectCallback` (``full`` preset) and
four extra datasets that hold 25, 50, 100 and all images of each class of the training split,
to reproduce the paper's observation that the input's inter-sample entropy grows with the
number of samples per class (section 5.1).

    python examples/digits_cnn.py --quick     # a few seconds
    python examples/digits_cnn.py             # 30 epochs
    tensorboard --logdir logs
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

PER_CLASS = (25, 50, 100)


def load_data(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """train/test splits (70/30, stratified) and the per-class subsets of train, as (x, y)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]  # (N, 8, 8, 1) in [0, 1]
    y = digits.target.astype("int32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, stratify=y, random_state=seed
    )
    data = {"train": (x_train, y_train), "test": (x_test, y_test)}
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y_train))
    for count in PER_CLASS:
        rows = np.concatenate([order[y_train[order] == c][:count] for c in range(10)])
        data[f"per_class_{count}"] = (x_train[rows], y_train[rows])
    data["per_class_all"] = (x_train, y_train)
    return data


def build_model():
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv_1"),
            keras.layers.MaxPooling2D(2, name="pool_1"),
            keras.layers.Conv2D(32, 3, activation="relu", padding="same", name="conv_2"),
            keras.layers.MaxPooling2D(2, name="pool_2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", name="dense"),
            keras.layers.Dense(10, activation="softmax", name="digit"),
        ],
        name="digits_cnn",
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(argv: list[str] | None = None, callbacks_for=None) -> dict[str, float]:
    """Train; print and return the input's inter-sample entropy per per-class dataset.

    Args:
        argv: the command line (see ``--help``); ``None`` reads ``sys.argv``.
        callbacks_for: ``callbacks_for(inspector)`` returns more Keras callbacks for ``fit``,
            given the run's InspectCallback (how the demo prints progress and later waits for
            the callback's background work).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="logs/digits", help="run directory")
    parser.add_argument("--quick", action="store_true", help="3 epochs")
    parser.add_argument("--epochs", type=int, default=None, help="default: 3 with --quick, else 30")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--at",
        type=int,
        nargs="+",
        default=None,
        help="record after these 0-based epochs only, e.g. --at 0 4 9 (default: every epoch): "
        "the full preset's entropies, capacities and projections are the slow part",
    )
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (3 if args.quick else 30)

    start = time.perf_counter()
    data = load_data(args.seed)

    import keras

    import keras_inspect

    keras.utils.set_random_seed(args.seed)
    model = build_model()
    inspector = keras_inspect.InspectCallback(
        args.logdir,
        datasets=data,
        quantities="full",
        at=args.at,
        max_samples=2048,
        seed=args.seed,
        # Six datasets x four layers of t-SNE take ~40 s; PCA keeps --quick quick.
        projection="pca" if args.quick else "tsne",
    )
    model.fit(
        *data["train"],
        batch_size=64,
        epochs=epochs,
        validation_data=data["test"],
        callbacks=[
            inspector,
            keras.callbacks.TensorBoard(args.logdir),
            *(callbacks_for(inspector) if callbacks_for else ()),
        ],
        verbose=2,
    )
    inspector.wait()  # the entropies of the last checkpoint may still be computing
    frame = keras_inspect.load(args.logdir)
    inputs = frame[(frame.quantity == "entropy_inter") & (frame.layer == "input")]
    inputs = inputs[inputs.step == inputs.step.min()]  # the input is the same at every step
    entropies = dict(zip(inputs.dataset, inputs.value.astype(float), strict=True))
    names = [f"per_class_{c}" for c in PER_CLASS] + ["per_class_all"]
    print(
        "input inter-sample entropy (bits): "
        + ", ".join(f"{n} ({len(data[n][0])} images) {entropies[n]:.2f}" for n in names)
    )
    root = Path(args.logdir).parent
    print(f"done in {time.perf_counter() - start:.1f} s; see: tensorboard --logdir {root}")
    return {n: entropies[n] for n in names}


if __name__ == "__main__":
    import sys

    # Run as a script, the repository root is not on sys.path; keras_inspect lives there.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
