"""The gradient quantities on trained models where the answer is known."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_inspect as ki
from keras_inspect.capture import Capture
from keras_inspect.gradients import GradientPlan
from keras_inspect.quantities import clusters, neurons, saliency


def ctr_like(rng, n):
    """Three feature groups; the label depends on the user id only."""
    ids = rng.integers(0, 40, size=(n, 1)).astype("int32")
    x = {
        "user_id": ids,
        "price": rng.normal(size=(n, 3)).astype("float32"),
        "context": rng.normal(size=(n, 4)).astype("float32"),
    }
    clicks = np.isin(ids[:, 0], np.arange(0, 40, 3))  # every third user clicks
    return x, clicks.astype("int32")


def test_the_group_that_carries_the_label_ranks_first(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = ctr_like(rng, 2000)
    user = keras.Input((1,), dtype="int32", name="user_id")
    price = keras.Input((3,), name="price")
    context = keras.Input((4,), name="context")
    embedded = keras.layers.Flatten()(keras.layers.Embedding(40, 8, name="user_embedding")(user))
    joined = keras.layers.Concatenate()([embedded, price, context])
    hidden = keras.layers.Dense(16, activation="relu", name="dense")(joined)
    out = keras.layers.Dense(1, activation="sigmoid", name="out")(hidden)
    model = keras.Model({"user_id": user, "price": price, "context": context}, out)
    model.compile("adam", "binary_crossentropy")
    callback = ki.InspectCallback(
        str(tmp_path), {"train": (x, y)}, quantities=["feature_saliency"], asynchronous=False
    )
    model.fit(x, y, epochs=8, batch_size=64, verbose=0, callbacks=[callback])
    frame = ki.load(str(tmp_path))
    last = frame[(frame.quantity == "feature_saliency") & (frame.step == frame.step.max())]
    ranking = last.sort_values("value", ascending=False).group.tolist()
    values = dict(zip(last.group, last.value, strict=True))
    assert ranking[0] == "user_embedding", values
    assert values["user_embedding"] > 2 * max(values["price"], values["context"]), values


def conv1d_series(rng, n):
    """Windows of 24 steps, 2 channels; the target is a weighted sum of a few lags."""
    x = rng.normal(size=(n, 24, 2)).astype("float32")
    y = (x[:, -1, 0] - 0.5 * x[:, -3, 1] + 0.25 * x[:, 5, 0]).astype("float32")
    return x, y


def test_zeroing_unimportant_filters_costs_less_than_zeroing_important_ones():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x, y = conv1d_series(rng, 3000)
    l1 = keras.regularizers.l1(1e-4)  # a little sparsity, as a pruned-later model would have
    model = keras.Sequential(
        [
            keras.Input((24, 2)),
            keras.layers.Conv1D(16, 3, activation="relu", name="conv", kernel_regularizer=l1),
            keras.layers.Flatten(),
            keras.layers.Dense(1, name="out", kernel_regularizer=l1),
        ]
    )
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(x, y, epochs=15, batch_size=128, verbose=0)
    conv = model.get_layer("conv")
    capture = Capture(model, [conv], plan=GradientPlan())
    importance = saliency.filter_importance(
        capture.summarize(x[:1000]).layers["conv"].importance, 1000
    )
    order = np.argsort(importance)
    low, high = order[:8], order[8:]
    kernel, bias = conv.get_weights()

    def mse():
        return float(np.mean((model.predict(x, verbose=0)[:, 0] - y) ** 2))

    base = mse()

    def loss_without(filters):
        k, b = kernel.copy(), bias.copy()
        k[..., filters] = 0
        b[filters] = 0
        conv.set_weights([k, b])
        try:
            return mse() - base
        finally:
            conv.set_weights([kernel, bias])

    low_cost, high_cost = loss_without(low), loss_without(high)
    # Measured here: MSE 0.0005 trained; zeroing the 8 filters ranked lowest raises it by 0.085,
    # zeroing the 8 ranked highest by 0.77 (9 x more). Without the L1 term the filters share
    # the work more evenly and the figures are 0.31 against 0.56.
    assert low_cost < 0.25 * high_cost, (base, low_cost, high_cost, importance.round(2))


def test_copied_filters_share_a_cluster():
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((30, 2)),
            keras.layers.Conv1D(10, 5, activation="relu", name="conv"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(1),
        ]
    )
    conv = model.get_layer("conv")
    kernel, bias = conv.get_weights()
    kernel[..., 5:], bias[5:] = kernel[..., :5], bias[:5]  # filters 5-9 copy filters 0-4
    conv.set_weights([kernel, bias])
    x = np.random.default_rng(2).normal(size=(200, 30, 2)).astype("float32")
    capture = Capture(model, [conv])
    capture.probe(x)
    acts = capture.maps(x, len(x))["conv"]
    ids = clusters.unit_clusters(neurons.unit_rows(acts), seed=0)
    for f in range(5):
        assert ids[f] == ids[f + 5], ids
    assert len(set(ids[:5])) == clusters.cluster_count(10)  # k = 2: the originals split


@pytest.mark.parametrize("preset", ["standard", "full"])
def test_presets_record_the_gradient_quantities(tmp_path, preset):
    keras.utils.set_random_seed(3)
    x = np.random.default_rng(3).normal(size=(64, 12, 2)).astype("float32")
    y = (x[:, -1, 0] > 0).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((12, 2)),
            keras.layers.Conv1D(6, 3, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(4, activation="relu", name="dense"),
            keras.layers.Dense(1, activation="sigmoid", name="out"),
        ]
    )
    model.compile("adam", "binary_crossentropy")
    callback = ki.InspectCallback(
        str(tmp_path),
        {"train": (x, y), "test": (x[:32], y[:32])},
        quantities=preset,
        projection="pca",  # not what this test is about, and never slow
        asynchronous=False,  # every quantity written when fit returns
    )
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    frame = ki.load(str(tmp_path))
    found = set(frame.quantity)
    assert {"feature_saliency", "filter_importance"} <= found
    importance = frame[(frame.quantity == "filter_importance") & (frame.layer == "conv")]
    assert len(importance) == 4 and all(v.shape == (6,) for v in importance.value)
    assert "out" not in set(importance.layer)  # one unit: nothing to rank
    if preset == "full":
        maps = frame[(frame.quantity == "input_saliency") & (frame.layer == "")]
        assert sorted(set(maps["sample"])) == ["0", "1", "2", "3"]
        assert all(v.shape == (12, 2) for v in maps.value)
        # the output layer duplicates the "output" map (layer ""): left out
        assert set(frame[frame.quantity == "input_saliency"].layer) == {"", "conv", "dense"}
        inputs = frame[(frame.quantity == "feature_maps") & (frame.layer == "input")]
        first = inputs[(inputs["sample"] == "0") & (inputs.dataset == "train")].value.iloc[0]
        np.testing.assert_allclose(first, x[0], rtol=1e-3)  # the map's own input, for drawing
        ids = frame[(frame.quantity == "filter_clusters") & (frame.layer == "conv")].value
        assert all(v.shape == (6,) for v in ids)
    else:
        assert not {"input_saliency", "filter_clusters"} & found


def two_headed():
    inputs = keras.Input((4,), name="x")
    used = keras.layers.Dense(3, activation="relu", name="used")(inputs)
    unused = keras.layers.Dense(2, name="unused")(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(1, name="main")(used), unused])
    model.compile("adam", ["mse", "mse"])
    x = np.random.default_rng(4).normal(size=(32, 4)).astype("float32")
    return model, x, [x[:, :1], x[:, :2]]


def test_a_named_layer_without_a_gradient_path_is_refused_before_training(tmp_path):
    model, x, ys = two_headed()
    callback = ki.InspectCallback(
        str(tmp_path),
        {"train": (x, ys[0])},
        layers=["used", "unused"],
        quantities=["filter_importance"],
    )
    with pytest.raises(ki.ConfigError, match=r"does not depend on layers \['unused'\].*output="):
        model.fit(x, ys, epochs=1, verbose=0, callbacks=[callback])
    assert not (tmp_path / "inspect").exists()  # nothing was recorded


def test_by_default_such_layers_are_left_out_and_said_once(tmp_path):
    model, x, ys = two_headed()
    callback = ki.InspectCallback(str(tmp_path), {"train": (x, ys[0])}, quantities="standard")
    with pytest.warns(ki.LeftOutWarning) as caught:
        model.fit(x, ys, epochs=2, verbose=0, callbacks=[callback])
    said = [str(w.message) for w in caught if "no gradient" in str(w.message)]
    assert len(said) == 1 and "['unused']" in said[0]
    frame = ki.load(str(tmp_path))
    assert set(frame[frame.quantity == "filter_importance"].layer) == {"used"}


def test_bad_feature_groups_fail_when_training_starts(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    model.compile("adam", "mse")
    x = np.ones((8, 3), "float32")
    callback = ki.InspectCallback(
        str(tmp_path), {"train": (x, x[:, :2])}, feature_groups={"a": [0, 7]}
    )
    with pytest.raises(ki.ConfigError, match=r"feature_groups\['a'\] columns \[0, 7\]"):
        model.fit(x, x[:, :2], epochs=1, verbose=0, callbacks=[callback])


def test_a_classifier_records_its_confusion_matrix_and_entropies(tmp_path):
    from tests.models import sequential_conv2d

    model, x, y = sequential_conv2d()
    model.compile("adam", "sparse_categorical_crossentropy")
    names = [
        "confusion_matrix",
        "entropy_label_given_pred",
        "entropy_pred_given_label",
        "entropy_intra",
        "entropy_inter",
    ]
    callback = ki.InspectCallback(str(tmp_path), {"train": (x, y)}, quantities=names, strict=True)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    frame = ki.load(str(tmp_path))
    confusion = frame[frame.quantity == "confusion_matrix"].value.iloc[0]
    assert confusion.shape == (3, 3) and confusion.sum() == len(x)
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(y, minlength=3))
    predicted = set(np.flatnonzero(confusion.sum(axis=0)))
    given_pred = frame[frame.quantity == "entropy_label_given_pred"]
    assert {
        int(c) for c in given_pred["class"]
    } == predicted  # no value for a class never predicted
    assert given_pred.value.between(0, np.log2(3)).all()
    intra = frame[(frame.quantity == "entropy_intra") & (frame.layer == "conv_a")]
    assert set(intra["class"]) == {"all", "0", "1", "2"}
    assert all(v.shape == (4,) and ((v >= 0) & (v <= 5)).all() for v in intra.value)
    inter = frame[frame.quantity == "entropy_inter"]
    assert {"input", "conv_a", "conv_b"} <= set(inter.layer)
