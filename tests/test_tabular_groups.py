"""Default feature groups of tables (a group per column, named by feature_names or a DataFrame)
and of Transformer-like models (a position embedding has no batch axis: no group)."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pandas as pd
import pytest

import keras_inspect as ki
from keras_inspect.feature_groups import MAX_COLUMN_GROUPS, resolve_feature_groups


def table_model(width: int, name: str | None = None) -> keras.Model:
    inputs = keras.Input((width,), name=name)
    hidden = keras.layers.Dense(8, activation="tanh", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="out")(hidden))


def table(rows: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).normal(size=(rows, width)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def saliency_groups(tmp_path, model, datasets, **kwargs) -> list[str]:
    """The groups of one recorded checkpoint's feature_saliency, in column order."""
    callback = ki.InspectCallback(
        tmp_path, datasets, quantities=["feature_saliency"], asynchronous=False, **kwargs
    )
    callback.set_model(model)
    callback.record(0)
    callback.close()
    frame = ki.load(tmp_path)
    recorded = set(frame[frame.quantity == "feature_saliency"].group)
    groups = callback._computer.groups
    assert {g.name for g in groups} == recorded
    assert all(g.columns in (None, (i,)) for i, g in enumerate(groups)), groups
    return [g.name for g in groups]


def said(caught, text: str) -> list[str]:
    return [str(w.message) for w in caught if text in str(w.message)]


def test_a_table_gets_a_group_per_column():
    x, _ = table(2, 4)
    groups = resolve_feature_groups(table_model(4), x, None)
    assert [(g.name, g.key, g.columns) for g in groups] == [
        (f"input[{i}]", "input:input", (i,)) for i in range(4)
    ]
    named = resolve_feature_groups(table_model(3, "vitals"), x[:, :3], None)
    assert [g.name for g in named] == ["vitals[0]", "vitals[1]", "vitals[2]"]
    single = resolve_feature_groups(table_model(1), x[:, :1], None)
    assert [(g.name, g.columns) for g in single] == [("input", None)]  # the column is the input


def test_several_inputs_keep_a_group_each():
    price, context = keras.Input((3,), name="price"), keras.Input((2,), name="context")
    joined = keras.layers.Concatenate()([price, context])
    model = keras.Model({"price": price, "context": context}, keras.layers.Dense(1)(joined))
    x = {"price": np.ones((2, 3), "float32"), "context": np.ones((2, 2), "float32")}
    groups = resolve_feature_groups(model, x, None)
    assert [(g.name, g.columns) for g in groups] == [("price", None), ("context", None)]
    with pytest.raises(ki.ConfigError, match=r"feature_names names the columns of a table.*price"):
        resolve_feature_groups(model, x, None, feature_names=("a", "b", "c"))


def test_feature_names_name_the_columns_at_any_width():
    width = MAX_COLUMN_GROUPS + 6
    x, _ = table(2, width)
    names = tuple(f"gene {i}" for i in range(width))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        groups = resolve_feature_groups(table_model(width), x, None, feature_names=names)
    assert [g.name for g in groups] == list(names)
    assert [g.columns for g in groups] == [(i,) for i in range(width)]
    assert not caught  # named columns are what the user asked for: nothing to say


@pytest.mark.parametrize(
    "names, message",
    [
        ("radius", r"feature_names must be None or a list of column names .*got str 'radius'"),
        ({"radius", "area"}, r"got set"),
        (3, r"got int 3"),
        (["radius", 2], r"non-string or blank names \[2\]"),
        (["radius", " "], r"non-string or blank names \[' '\]"),
        ([], r"got an empty list"),
        (["radius", "area", "radius"], r"names \['radius'\] more than once"),
    ],
)
def test_bad_feature_names_are_refused_when_the_callback_is_made(tmp_path, names, message):
    x, y = table(8, 3)
    with pytest.raises(ki.ConfigError, match=message):
        ki.InspectCallback(tmp_path, {"train": (x, y)}, feature_names=names)


def test_feature_names_and_feature_groups_exclude_each_other(tmp_path):
    x, y = table(8, 3)
    with pytest.raises(ki.ConfigError, match="both given.*Pass one of them"):
        ki.InspectCallback(
            tmp_path, {"train": (x, y)}, feature_names=["a", "b", "c"], feature_groups={"a": [0]}
        )


def test_feature_names_of_another_width_are_refused_when_training_starts(tmp_path):
    x, y = table(8, 4)
    callback = ki.InspectCallback(
        tmp_path, {"train": (x, y)}, quantities=["feature_saliency"], feature_names=["a", "b"]
    )
    callback.set_model(table_model(4))
    message = r"feature_names has 2 names, but input 'input' of model .* has 4 columns.*one name"
    with pytest.raises(ki.ConfigError, match=message):
        callback.record(0)


def test_scikit_learn_feature_names_name_the_groups(tmp_path):
    x, y = table(16, 3)
    names = np.array(["mean radius", "mean texture", "mean area"])  # as data.feature_names
    groups = saliency_groups(tmp_path, table_model(3), {"train": (x, y)}, feature_names=names)
    assert groups == ["mean radius", "mean texture", "mean area"]


def test_a_dataframes_columns_name_the_groups(tmp_path):
    x, y = table(40, 3)
    frame = pd.DataFrame(x, columns=["age", "income", "tenure (months)"])
    datasets = {"train": (frame[:30], y[:30]), "test": (frame[30:].to_numpy(), y[30:])}
    groups = saliency_groups(tmp_path, table_model(3), datasets)
    assert groups == ["age", "income", "tenure (months)"]
    # labels that are not names (a default RangeIndex) leave the default names
    unnamed = saliency_groups(tmp_path / "unnamed", table_model(3), {"train": (pd.DataFrame(x), y)})
    assert unnamed == ["input[0]", "input[1]", "input[2]"]


def test_dataframes_with_other_columns_are_refused(tmp_path):
    x, y = table(40, 3)
    train = pd.DataFrame(x[:30], columns=["age", "income", "tenure"])
    test = pd.DataFrame(x[30:], columns=["age", "tenure", "income"])
    message = r"datasets\['test'\] x is a DataFrame whose columns differ .* from column 1 on"
    with pytest.raises(ki.ConfigError, match=message):
        ki.InspectCallback(tmp_path, {"train": (train, y[:30]), "test": (test, y[30:])})


def test_a_wide_table_is_one_group_said_once(tmp_path):
    width = MAX_COLUMN_GROUPS + 1
    x, y = table(16, width)
    model = table_model(width)
    callback = ki.InspectCallback(
        tmp_path, {"train": (x, y)}, quantities=["feature_saliency"], asynchronous=False
    )
    with pytest.warns(ki.LeftOutWarning) as caught:
        callback.set_model(model)
        callback.record(0)
        callback.record(1)
    callback.close()
    [message] = said(caught, "as one group")
    assert f"input 'input' ({width} columns)" in message and "feature_names=[" in message
    frame = ki.load(tmp_path)
    assert set(frame[frame.quantity == "feature_saliency"].group) == {"input"}
    # at the threshold, each column is a group
    x, y = table(16, MAX_COLUMN_GROUPS)
    groups = saliency_groups(tmp_path / "at", table_model(MAX_COLUMN_GROUPS), {"train": (x, y)})
    assert len(groups) == MAX_COLUMN_GROUPS


@keras.saving.register_keras_serializable(package="keras_inspect_tests")
class TokenAndPosition(keras.layers.Layer):
    """The keras.io Transformer's embedding: tokens plus a learned embedding of each position."""

    def __init__(self, length: int, vocab: int, width: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tokens = keras.layers.Embedding(vocab, width, name="token_embedding")
        self.positions = keras.layers.Embedding(length, width, name="position_embedding")

    def call(self, ids):
        return self.tokens(ids) + self.positions(keras.ops.arange(keras.ops.shape(ids)[-1]))


class SubclassedTransformer(keras.Model):
    """The same without a Functional graph: nothing symbolic to read the batch axis from."""

    def __init__(self, length: int, vocab: int, width: int) -> None:
        super().__init__()
        self.embed = TokenAndPosition(length, vocab, width)
        self.pool = keras.layers.GlobalAveragePooling1D()
        self.out = keras.layers.Dense(1, activation="sigmoid")

    def call(self, ids):
        return self.out(self.pool(self.embed(ids)))


def transformer_like(kind: str, length: int = 8, vocab: int = 30) -> keras.Model:
    if kind == "subclassed":
        model = SubclassedTransformer(length, vocab, 4)
        model(np.ones((1, length), "int32"))
        return model
    ids = keras.Input((length,), dtype="int32")
    embedded = TokenAndPosition(length, vocab, 4)(ids)
    pooled = keras.layers.GlobalAveragePooling1D()(embedded)
    return keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(pooled))


@pytest.mark.parametrize("kind", ["functional", "subclassed"])
def test_a_position_embedding_is_no_default_group(tmp_path, kind):
    model = transformer_like(kind)
    x = np.random.default_rng(0).integers(1, 30, size=(24, 8)).astype("int32")
    before = keras.ops.convert_to_numpy(model(x))
    with pytest.warns(ki.LeftOutWarning, match=r"\['position_embedding'\].*\[\(8, 4\)\]"):
        groups = resolve_feature_groups(model, x[:2], None)
    assert [(g.name, g.key) for g in groups] == [("token_embedding", "layer:token_embedding")]
    # the shape passes stop early; the model is left as it was
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), before)
    with pytest.raises(ki.ConfigError, match=r"'position_embedding', whose output has no batch"):
        resolve_feature_groups(
            model, x[:2], {"ids": "token_embedding", "pos": "position_embedding"}
        )
    y = (x[:, 0] > 15).astype("int32")
    with pytest.warns(ki.LeftOutWarning) as caught:
        groups = saliency_groups(tmp_path, model, {"train": (x, y)})
    assert groups == ["token_embedding"]
    assert len(said(caught, "position_embedding")) == 1


class _Scored:
    """A Keras model as scikit-learn's permutation_importance takes it (fitted already)."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model

    def fit(self, x, y):
        return self

    def predict(self, x):
        return keras.ops.convert_to_numpy(self.model(x)).reshape(-1)


def breast_cancer_with_one_informative_column(column: int):
    """Breast cancer's 30 standardised columns as a DataFrame; column ``column`` is replaced by
    noise, and the label is its sign: the other 29 say nothing about it."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.astype("float32")
    frame = (frame - frame.mean()) / frame.std()
    rng = np.random.default_rng(0)
    frame.iloc[:, column] = rng.normal(size=len(frame)).astype("float32")
    return frame, (frame.iloc[:, column] > 0).to_numpy().astype("int32")


def test_the_informative_column_of_breast_cancer_ranks_first(tmp_path):
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score

    column = 7  # "mean concave points"
    frame, y = breast_cancer_with_one_informative_column(column)
    informative = frame.columns[column]
    model = table_model(30)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")
    train, test = slice(0, 400), slice(400, None)
    callback = ki.InspectCallback(
        tmp_path,
        {"train": (frame[train], y[train]), "test": (frame[test], y[test])},
        quantities=["feature_saliency"],
        every_n_epochs=10,
    )
    x = frame.to_numpy()
    model.fit(x[train], y[train], epochs=20, batch_size=32, verbose=0, callbacks=[callback])
    loaded = ki.load(tmp_path)
    last = loaded[(loaded.quantity == "feature_saliency") & (loaded.step == 19)]
    for dataset, rows in (("train", train), ("test", test)):
        recorded = last[last.dataset == dataset].set_index("group").value.astype(float)
        assert recorded.idxmax() == informative, recorded.sort_values().tail(3)
        assert recorded[informative] > 3 * recorded.drop(informative).max()
        # oracle 1: mean over rows of |d output / d column| by central differences
        h = 1e-2
        numeric = {}
        for j, name in enumerate(frame.columns):
            up, down = x[rows].copy(), x[rows].copy()
            up[:, j] += h
            down[:, j] -= h
            step = _Scored(model).predict(up) - _Scored(model).predict(down)
            numeric[name] = np.abs(step / (2 * h)).mean()
        np.testing.assert_allclose(
            recorded[list(frame.columns)], [numeric[n] for n in frame.columns], rtol=2e-2, atol=1e-5
        )
    # oracle 2: scikit-learn's permutation importance of the same model ranks it first too
    importance = permutation_importance(
        _Scored(model),
        x[test],
        y[test],
        scoring=lambda estimator, xs, ys: roc_auc_score(ys, estimator.predict(xs)),
        n_repeats=3,
        random_state=0,
    )
    assert frame.columns[np.argmax(importance.importances_mean)] == informative
