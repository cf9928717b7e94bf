"""A click-through-rate DNN that overfits and decays on drifting data, after Guo et al. (2018).

The paper ("Visualizing and Understanding Deep Neural Networks in CTR Prediction") trains a plain
embedding + MLP model on one day of search-ad impressions and evaluates it on eight consecutive
days. Its test AUC falls from day 1 to day 5 as the traffic drifts away from the training day, then
recovers on days 6-8 because user behaviour is weekly periodic; with longer training the model
memorises the training set (train AUC keeps rising while every test AUC falls).

This script reproduces that setting on synthetic data and watches it with
:class:`keras_inspect.InspectCallback`:

* :func:`make_ctr_data` draws 34 categorical feature groups (a 100 k-id ``user_id`` that a big
  model can memorise, two multi-valued word groups, user/query/ad/shop attributes looked up from
  their ids, and impression context) with about 5 % clicks from a hidden logistic model. ``test1``
  comes from the training day; ``test2``..``test5`` drift further away each day (latent effects
  rotate and id popularity shifts); ``test6``..``test8`` return part of the way, as a week closes.
* :func:`build_model` is the paper's network: an 8-dim embedding per group, sum pooling, the
  272-dim concatenation ``h0``, ReLU layers ``dense_1``..``dense_4`` of 256/128/64/32 units and a
  sigmoid output ``ctr``, trained with Adagrad on binary cross-entropy.
* :func:`main` trains it and records neuron statistics, correlations and probe AUCs of ``dense_*``
  and ``ctr`` on ``train`` and the eight test days, beside Keras' own TensorBoard scalars.

Run it from the repository root, then open TensorBoard::

    python examples/ctr_drift.py --quick     # 4 k rows, 3 epochs: overfitting only, ~15-30 s
    python examples/ctr_drift.py             # 100 k rows, 8 epochs: the full picture, ~1 min
    tensorboard --logdir logs

What to look for in the full run (seed 0): in the Inspect tab, ``model_auc`` of test1 > test2 >
... > test5 at every epoch while test6-8 climb back above test4; train AUC keeps rising
(~0.96 after 8 epochs) while the test AUCs peak around epoch 4 and then fall, as in the paper's
Fig. 1; ``layer_std`` grows as the model overfits, more on ``train`` than on the test days;
``probe_auc`` per layer follows the same daily pattern. The ``--quick`` data are too small
(~50 clicks per test day) to resolve the daily drift but show the overfitting: train AUC ~0.9
after 3 epochs, test1 ~0.55.

The module also serves as the project's CTR test-data generator::

    from examples.ctr_drift import VOCAB_SIZES, build_model, make_ctr_data
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

import numpy as np

__all__ = [
    "CLICK_RATE",
    "GROUP_NAMES",
    "SEQUENCE_LENGTHS",
    "VOCAB_SIZES",
    "build_model",
    "drift",
    "main",
    "make_ctr_data",
]

# (name, vocabulary size including the reserved id 0, ids per row). Id 0 means "padding" in the
# multi-valued groups and is never drawn for the single-valued ones.
_GROUPS: tuple[tuple[str, int, int], ...] = (
    # user profile, looked up from the user id (except the network, which is per impression)
    ("user_id", 100_000, 1),
    ("user_gender", 4, 1),
    ("user_age", 10, 1),
    ("user_city", 400, 1),
    ("user_province", 40, 1),
    ("user_level", 12, 1),
    ("user_purchase_power", 8, 1),
    ("user_occupation", 30, 1),
    ("user_device_brand", 60, 1),
    ("user_os", 6, 1),
    ("user_network", 6, 1),
    # query, looked up from the query id
    ("query_id", 80_000, 1),
    ("query_words", 20_000, 6),
    ("query_category", 400, 1),
    ("query_length", 8, 1),
    ("query_brand", 5_000, 1),
    # ad and its shop, looked up from the ad id
    ("ad_id", 100_000, 1),
    ("ad_title_words", 20_000, 8),
    ("ad_category", 600, 1),
    ("ad_brand", 5_000, 1),
    ("ad_price_level", 12, 1),
    ("ad_creative_type", 8, 1),
    ("shop_id", 30_000, 1),
    ("shop_level", 12, 1),
    ("shop_rating", 12, 1),
    ("shop_city", 400, 1),
    ("shop_sales_level", 12, 1),
    ("shop_is_flagship", 3, 1),
    # context of the impression
    ("hour", 25, 1),
    ("ad_position", 12, 1),
    ("device_type", 5, 1),
    ("page_number", 12, 1),
    ("search_channel", 8, 1),
    ("match_type", 6, 1),
)

GROUP_NAMES: tuple[str, ...] = tuple(name for name, _, _ in _GROUPS)
VOCAB_SIZES: dict[str, int] = {name: vocab for name, vocab, _ in _GROUPS}
SEQUENCE_LENGTHS: dict[str, int] = {name: length for name, _, length in _GROUPS if length > 1}
CLICK_RATE = 0.05

# Drift schedule. Day 1 is a Wednesday, as in the paper; the weekly part depends on the weekday
# only (it comes back after seven days), the trend part keeps growing. Both are rotation angles in
# radians between the training day's hidden effects and fresh, independent ones, so the logit
# variance (hence the attainable AUC) stays about the same every day while its agreement with the
# training day shrinks: cos(weekly) * cos(trend) is 1, .85, .64, .41, .17, .65, .84, .94 on days
# 1-8. The position, device, network, match-type and shop-rating effects do not drift.
_WEEKLY = (0.0, 0.4, 0.62, 0.82, 1.0, 0.6, 0.35)  # Wed, Thu, Fri, Sat, Sun, Mon, Tue
_WEEKLY_ANGLE = 1.4
_TREND_PER_DAY = 0.05
# Share of users, queries and ads drawn from the drifted popularity rankings, per radian of drift
# (0, .15, .24, .32, .40, .27, .20, .09 on days 1-8): other users, queries and ads are popular on a
# Sunday, and most of them were rare on the training day.
_POPULARITY_SHIFT = 0.25


def drift(day: int) -> tuple[float, float]:
    """Return the (weekly, trend) drift angles in radians of a day; day 1 is the training day."""
    if day < 1:
        raise ValueError(f"day must be >= 1, got {day!r}")
    return _WEEKLY[(day - 1) % 7] * _WEEKLY_ANGLE, _TREND_PER_DAY * (day - 1)


class _Popularity:
    """Zipf-like id popularity with three rankings: the training day's, a weekly and a trend one."""

    def __init__(self, rng: np.random.Generator, vocab: int, exponent: float) -> None:
        weights = np.arange(1, vocab, dtype=np.float64) ** -exponent
        self.cdf = np.cumsum(weights / weights.sum())
        self.rankings = np.stack([rng.permutation(vocab - 1) + 1 for _ in range(3)])

    def sample(self, rng: np.random.Generator, n: int, weekly: float, trend: float) -> np.ndarray:
        ranks = np.minimum(np.searchsorted(self.cdf, rng.random(n)), len(self.cdf) - 1)
        u = rng.random(n)
        ranking = np.zeros(n, dtype=np.intp)  # 0: the training day's ranking
        ranking[u < _POPULARITY_SHIFT * (weekly + trend)] = 2  # the trend ranking
        ranking[u < _POPULARITY_SHIFT * weekly] = 1  # the weekly ranking
        return self.rankings[ranking, ranks]


class _Effect:
    """Hidden per-id contribution to the click logit, rotating away from the training day's."""

    def __init__(self, rng: np.random.Generator, vocab: int, std: float, drifts: bool) -> None:
        self.parts = std * rng.standard_normal((3 if drifts else 1, vocab))
        self.parts[:, 0] = 0.0  # the padding id contributes nothing

    def on(self, weekly: float, trend: float) -> np.ndarray:
        if len(self.parts) == 1:
            return self.parts[0]
        base, weekly_part, trend_part = self.parts
        day = np.cos(weekly) * base + np.sin(weekly) * weekly_part
        return np.cos(trend) * day + np.sin(trend) * trend_part


def _skewed(rng: np.random.Generator, vocab: int, size: int, exponent: float = 1.0) -> np.ndarray:
    """Ids 1..vocab-1 with Zipf-like frequencies in a random order."""
    weights = np.arange(1, vocab, dtype=np.float64) ** -exponent
    ranks = rng.choice(vocab - 1, size=size, p=weights / weights.sum())
    return (rng.permutation(vocab - 1) + 1)[ranks]


def _word_lists(rng: np.random.Generator, rows: int, vocab: int, length: int) -> np.ndarray:
    """Rows of 1..length word ids, padded on the right with the padding id 0."""
    words = _skewed(rng, vocab, rows * length, exponent=0.9).reshape(rows, length)
    counts = rng.integers(1, length + 1, size=rows)
    words[np.arange(length) >= counts[:, None]] = 0
    return words


# Standard deviation of each group's hidden effect on the click logit and whether it drifts. Groups
# not listed have no effect of their own (some carry signal only through the ids they derive from).
_EFFECTS: dict[str, tuple[float, bool]] = {
    "user_id": (0.7, True),
    "user_gender": (0.1, True),
    "user_age": (0.2, True),
    "user_city": (0.2, True),
    "user_level": (0.2, True),
    "user_purchase_power": (0.2, True),
    "user_occupation": (0.1, True),
    "user_network": (0.1, False),
    "query_id": (0.3, True),
    "query_words": (0.2, True),
    "query_category": (0.3, True),
    "query_brand": (0.15, True),
    "ad_id": (0.4, True),
    "ad_title_words": (0.12, True),
    "ad_category": (0.35, True),
    "ad_brand": (0.2, True),
    "ad_price_level": (0.15, True),
    "shop_id": (0.3, True),
    "shop_rating": (0.15, False),
    "hour": (0.2, True),
    "device_type": (0.15, False),
    "match_type": (0.2, False),
}


_POSITION_SLOPE = -0.15  # logit change per slot further down the page


class _World:
    """Everything fixed for a seed: lookup tables, popularity rankings and hidden effects."""

    def __init__(self, rng: np.random.Generator) -> None:
        v = VOCAB_SIZES
        self.users = _Popularity(rng, v["user_id"], exponent=0.6)
        self.queries = _Popularity(rng, v["query_id"], exponent=0.8)
        self.ads = _Popularity(rng, v["ad_id"], exponent=0.8)
        n_users, n_queries, n_ads, n_shops = v["user_id"], v["query_id"], v["ad_id"], v["shop_id"]
        city = _skewed(rng, v["user_city"], n_users)
        province_of_city = _skewed(rng, v["user_province"], v["user_city"])
        brand = _skewed(rng, v["user_device_brand"], n_users)
        self.user_table = {
            "user_gender": _skewed(rng, v["user_gender"], n_users, 0.3),
            "user_age": _skewed(rng, v["user_age"], n_users, 0.5),
            "user_city": city,
            "user_province": province_of_city[city],
            "user_level": _skewed(rng, v["user_level"], n_users, 0.7),
            "user_purchase_power": _skewed(rng, v["user_purchase_power"], n_users, 0.5),
            "user_occupation": _skewed(rng, v["user_occupation"], n_users),
            "user_device_brand": brand,
            "user_os": _skewed(rng, v["user_os"], v["user_device_brand"], 1.5)[brand],
        }
        query_words = _word_lists(rng, n_queries, v["query_words"], SEQUENCE_LENGTHS["query_words"])
        self.query_table = {
            "query_words": query_words,
            "query_category": _skewed(rng, v["query_category"], n_queries),
            "query_length": np.minimum((query_words > 0).sum(axis=1) + 1, v["query_length"] - 1),
            "query_brand": _skewed(rng, v["query_brand"], n_queries),
        }
        shop = _skewed(rng, n_shops, n_ads, 0.8)
        shop_table = {
            name: _skewed(rng, v[name], n_shops, 0.8)
            for name in ("shop_level", "shop_rating", "shop_city", "shop_sales_level")
        }
        shop_table["shop_is_flagship"] = _skewed(rng, v["shop_is_flagship"], n_shops, 2.0)
        self.ad_table = {
            "ad_title_words": _word_lists(
                rng, n_ads, v["ad_title_words"], SEQUENCE_LENGTHS["ad_title_words"]
            ),
            "ad_category": _skewed(rng, v["ad_category"], n_ads),
            "ad_brand": _skewed(rng, v["ad_brand"], n_ads),
            "ad_price_level": _skewed(rng, v["ad_price_level"], n_ads, 0.3),
            "ad_creative_type": _skewed(rng, v["ad_creative_type"], n_ads),
            "shop_id": shop,
            **{name: table[shop] for name, table in shop_table.items()},
        }
        self.effects = {
            name: _Effect(rng, v[name], std, drifts) for name, (std, drifts) in _EFFECTS.items()
        }
        # Position bias: lower slots get fewer clicks, every day alike.
        self.position_effect = _POSITION_SLOPE * np.arange(v["ad_position"], dtype=np.float64)
        hours = np.arange(1, 25)
        # Traffic by hour: busiest mid-afternoon, quietest at 3 a.m.
        self.hour_p = 1.2 + np.sin((hours - 9) * np.pi / 12)
        self.hour_p /= self.hour_p.sum()
        self.bias = 0.0
        # Calibrate the intercept on a sample of the training day, so that about CLICK_RATE of the
        # training impressions are clicks; the same intercept then holds for every test day.
        logits = self.impressions(np.random.default_rng(rng.integers(2**32)), 20_000, 1)[2]
        lo, hi = -10.0, 5.0
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.mean(_sigmoid(logits + mid)) < CLICK_RATE else (lo, mid)
        self.bias = (lo + hi) / 2

    def impressions(
        self, rng: np.random.Generator, n: int, day: int
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Draw n impressions of a day: (features, labels, logits)."""
        weekly, trend = drift(day)
        users = self.users.sample(rng, n, weekly, trend)
        queries = self.queries.sample(rng, n, weekly, trend)
        ads = self.ads.sample(rng, n, weekly, trend)
        v = VOCAB_SIZES
        feats: dict[str, np.ndarray] = {"user_id": users, "query_id": queries, "ad_id": ads}
        feats.update({name: table[users] for name, table in self.user_table.items()})
        feats.update({name: table[queries] for name, table in self.query_table.items()})
        feats.update({name: table[ads] for name, table in self.ad_table.items()})
        feats["user_network"] = rng.choice(np.arange(1, 6), size=n, p=[0.5, 0.3, 0.1, 0.06, 0.04])
        feats["hour"] = rng.choice(np.arange(1, 25), size=n, p=self.hour_p)
        feats["ad_position"] = np.minimum(rng.geometric(0.3, size=n), v["ad_position"] - 1)
        feats["device_type"] = rng.choice(np.arange(1, 5), size=n, p=[0.6, 0.3, 0.07, 0.03])
        feats["page_number"] = np.minimum(rng.geometric(0.6, size=n), v["page_number"] - 1)
        feats["search_channel"] = rng.choice(
            np.arange(1, 8), size=n, p=[0.4, 0.2, 0.15, 0.1, 0.08, 0.05, 0.02]
        )
        feats["match_type"] = rng.choice(np.arange(1, 6), size=n, p=[0.35, 0.3, 0.2, 0.1, 0.05])

        logits = self.bias + self.position_effect[feats["ad_position"]]
        for name, effect in self.effects.items():
            values = effect.on(weekly, trend)[feats[name]]
            logits = logits + (values.sum(axis=1) if values.ndim == 2 else values)
        labels = (rng.random(n) < _sigmoid(logits)).astype(np.float32)
        shaped = {
            name: feats[name].astype(np.int32).reshape(n, SEQUENCE_LENGTHS.get(name, 1))
            for name in GROUP_NAMES
        }
        return shaped, labels, logits


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@functools.lru_cache(maxsize=4)
def _world(seed: int) -> _World:
    return _World(np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]))


def make_ctr_data(
    n_train: int, n_test: int, days: int = 8, seed: int = 0
) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
    """Draw synthetic search-ad impressions: a training day and ``days`` daily test sets.

    Each dataset is ``(x, y)``. ``x`` maps every name in :data:`GROUP_NAMES` to an int32 array of
    ids in ``[0, VOCAB_SIZES[name])``, shaped ``(n, 1)``, or ``(n, SEQUENCE_LENGTHS[name])`` for
    the multi-valued groups (right-padded with the padding id 0; single-valued ids are >= 1).
    ``y`` is a float32 array of 0/1 clicks, shape ``(n,)``, about :data:`CLICK_RATE` ones on the
    training day. ``train`` and ``test1`` are independent samples of day 1; ``test<k>`` is day k,
    drifting away from day 1 up to day 5 and partly back on days 6-8 (see :func:`drift`).

    Args:
        n_train: rows in ``train``.
        n_test: rows in each ``test<k>``.
        days: number of test days.
        seed: the same seed gives the same lookup tables, hidden model and rows; each dataset has
            its own random stream, so ``train`` does not depend on ``n_test`` or ``days``.

    Returns:
        ``{"train": (x, y), "test1": (x, y), ..., f"test{days}": (x, y)}``.

    Example:
        >>> data = make_ctr_data(1000, 500, days=2)
        >>> sorted(data), data["train"][0]["query_words"].shape
        (['test1', 'test2', 'train'], (1000, 6))
    """
    world = _world(seed)
    streams = np.random.SeedSequence(seed).spawn(2 + days)[1:]
    data = {"train": world.impressions(np.random.default_rng(streams[0]), n_train, 1)[:2]}
    for day in range(1, days + 1):
        rng = np.random.default_rng(streams[day])
        data[f"test{day}"] = world.impressions(rng, n_test, day)[:2]
    return data


@functools.cache
def _sum_pooling():
    """The SumPooling layer class, made on first use so that importing this module skips Keras."""
    import keras

    @keras.saving.register_keras_serializable(package="ctr_drift")
    class SumPooling(keras.layers.Layer):
        """Sum a (batch, ids, dim) embedding over its ids, leaving out masked (padding) ids."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            if mask is not None:
                inputs = inputs * keras.ops.expand_dims(keras.ops.cast(mask, inputs.dtype), -1)
            return keras.ops.sum(inputs, axis=1)

        def compute_mask(self, inputs, mask=None):
            return None

        def compute_output_shape(self, input_shape):
            return (input_shape[0], input_shape[2])

    return SumPooling


def build_model(
    vocab_sizes: dict[str, int],
    embedding_dim: int = 8,
    hidden: tuple[int, ...] = (256, 128, 64, 32),
    learning_rate: float = 0.05,
    sequence_lengths: dict[str, int] | None = None,
):
    """Build and compile the paper's CTR network (Guo et al. 2018, section 2.2).

    One int32 ``keras.Input`` per feature group, named after the group; an
    ``Embedding(vocab, embedding_dim)`` named ``<group>_embedding``; sum pooling over the ids of
    the multi-valued groups (padding id 0 masked out); the concatenation ``h0``
    (34 x 8 = 272 values); ReLU layers ``dense_1``.. of widths ``hidden``; and a sigmoid unit
    ``ctr``. Glorot-uniform initialisation, Adagrad, binary cross-entropy, AUC metric (``auc``).

    Args:
        vocab_sizes: group name -> vocabulary size (ids run from 0), e.g. :data:`VOCAB_SIZES`.
        embedding_dim: embedding width per group.
        hidden: widths of the hidden layers.
        learning_rate: Adagrad learning rate. The paper uses 0.005 over ~200 k steps of 1,000
            rows; the default is ten times larger so that the example under-fits, fits and then
            overfits (through ``user_id``) within a few epochs of 100 k rows or less.
        sequence_lengths: ids per row of the multi-valued groups; default :data:`SEQUENCE_LENGTHS`.
            Groups not listed take one id per row, shape ``(1,)``.

    Returns:
        A compiled functional ``keras.Model`` named ``ctr_dnn`` taking a dict of id arrays.

    Example:
        >>> model = build_model(VOCAB_SIZES)
        >>> model.get_layer("dense_1").units, model.get_layer("h0").output.shape
        (256, (None, 272))
    """
    import keras

    lengths = SEQUENCE_LENGTHS if sequence_lengths is None else sequence_lengths
    sum_pooling = _sum_pooling()
    inputs, pooled = {}, []
    for name, vocab in vocab_sizes.items():
        length = lengths.get(name, 1)
        ids = keras.Input(shape=(length,), dtype="int32", name=name)
        embedded = keras.layers.Embedding(
            vocab,
            embedding_dim,
            embeddings_initializer="glorot_uniform",
            mask_zero=length > 1,
            name=f"{name}_embedding",
        )(ids)
        inputs[name] = ids
        pooled.append(sum_pooling(name=f"{name}_pooling")(embedded))
    h = keras.layers.Concatenate(name="h0")(pooled)
    for i, width in enumerate(hidden, start=1):
        h = keras.layers.Dense(
            width, activation="relu", kernel_initializer="glorot_uniform", name=f"dense_{i}"
        )(h)
    ctr = keras.layers.Dense(
        1, activation="sigmoid", kernel_initializer="glorot_uniform", name="ctr"
    )(h)
    model = keras.Model(inputs, ctr, name="ctr_dnn")
    model.compile(
        optimizer=keras.optimizers.Adagrad(learning_rate, initial_accumulator_value=1e-4),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )
    return model


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train the CTR DNN of Guo et al. (2018) on drifting synthetic data and "
        "record its inner state with keras_inspect."
    )
    parser.add_argument("--logdir", default="logs/ctr", help="run directory (default: logs/ctr)")
    parser.add_argument("--epochs", type=int, default=None, help="default: 3 with --quick, else 8")
    parser.add_argument(
        "--quick", action="store_true", help="tiny data (4 k train rows, 1 k per test day)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--model-seed",
        type=int,
        default=None,
        help="seeds the initial weights and the batch order only; the data and the inspected "
        "rows stay those of --seed, so two runs differ by their training alone (default: --seed)",
    )
    # With 5 % clicks, keras_inspect's default of 2,048 rows holds ~100 positives: AUC noise of
    # about 0.03, larger than one day of drift. 10,000 rows (every test row) show the daily pattern.
    parser.add_argument(
        "--max-samples",
        type=int,
        default=10_000,
        help="rows per dataset the callback inspects (default: 10000)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: 256 with --quick, else 1000"
    )
    parser.add_argument("--learning-rate", type=float, default=0.05, help="Adagrad (default: 0.05)")
    parser.add_argument(
        "--hidden",
        type=_widths,
        default=(256, 128, 64, 32),
        help="widths of the ReLU layers, comma-separated (default: 256,128,64,32)",
    )
    parser.add_argument(
        "--quantities",
        default="standard",
        help="the callback's preset: light, standard or full (default: standard)",
    )
    return parser.parse_args(argv)


def _widths(text: str) -> tuple[int, ...]:
    """'256,128' -> (256, 128); an argparse type, so a bad value is a clear usage error."""
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        widths = ()
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive layer widths separated by commas, e.g. 256,128,64; got {text!r}"
        )
    return widths


def main(argv: list[str] | None = None, callbacks_for=None) -> dict[str, float]:
    """Train on ``train`` with the inspector attached; print and return final AUCs per dataset.

    Args:
        argv: the command line (see ``--help``); ``None`` reads ``sys.argv``.
        callbacks_for: ``callbacks_for(inspector)`` returns more Keras callbacks for ``fit``,
            given the run's InspectCallback (how the demo prints progress and later waits for
            the callback's background work).
    """
    args = _parse_args(argv)
    n_train, n_test = (4_000, 1_000) if args.quick else (100_000, 10_000)
    epochs = args.epochs if args.epochs is not None else (3 if args.quick else 8)
    batch_size = args.batch_size or (256 if args.quick else 1_000)

    start = time.perf_counter()
    data = make_ctr_data(n_train, n_test, seed=args.seed)
    clicks = data["train"][1].mean()
    print(
        f"data: {len(data)} datasets, {n_train} train rows ({clicks:.1%} clicks), "
        f"{n_test} rows per test day, {time.perf_counter() - start:.1f} s"
    )

    import keras
    from sklearn.metrics import roc_auc_score

    import keras_inspect

    keras.utils.set_random_seed(args.seed if args.model_seed is None else args.model_seed)
    model = build_model(VOCAB_SIZES, hidden=args.hidden, learning_rate=args.learning_rate)
    print(f"model: {model.count_params():,} parameters")
    inspector = keras_inspect.InspectCallback(
        args.logdir,
        datasets=data,
        layers=r"dense_\d|ctr",
        quantities=args.quantities,
        max_samples=args.max_samples,
        seed=args.seed,
    )
    x, y = data["train"]
    model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=data["test1"],
        callbacks=[
            inspector,
            keras.callbacks.TensorBoard(args.logdir),
            *(callbacks_for(inspector) if callbacks_for else ()),
        ],
        verbose=2,
    )
    aucs = {}
    for name, (x_day, y_day) in data.items():
        scores = model.predict(x_day, batch_size=4096, verbose=0)[:, 0]
        aucs[name] = float(roc_auc_score(y_day, scores))
    print("AUC after training: " + ", ".join(f"{k} {v:.3f}" for k, v in aucs.items()))
    root = Path(args.logdir).parent
    print(f"done in {time.perf_counter() - start:.1f} s; see: tensorboard --logdir {root}")
    return aucs


if __name__ == "__main__":
    import sys

    # Run as a script, the repository root is not on sys.path; keras_inspect lives there.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
