"""Gradients of the compiled capture pass against central finite differences (float64 models
where the backend computes in float64)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_inspect.batches import to_numpy
from keras_inspect.capture import Capture
from keras_inspect.errors import ConfigError
from keras_inspect.feature_groups import resolve_feature_groups
from keras_inspect.gradients import GradientPlan, objective
from tests import models


def _computes_float64() -> bool:
    """Whether a float64 Keras model computes to float64 accuracy on this backend.

    Only TensorFlow does. JAX has float64 only with ``jax_enable_x64``, and even then XLA's CPU
    ``tanh`` is float32-accurate (4e-8 from NumPy's, measured); on PyTorch, Keras' ``ops.matmul``
    casts two float64 tensors to float32 (its ``result_type`` of torch dtypes is float32; keras
    3.15).
    """
    return keras.backend.backend() == "tensorflow"


# Central differences: a small step where the model computes in float64; where it computes in
# float32, a step whose rounding error (~eps / H) stays near the truncation error (~H^2).
FLOAT64 = _computes_float64()
# JAX without x64 refuses float64 (with a warning); the models are float32 there.
DTYPE = "float64" if models.HAS_FLOAT64 else "float32"
H = 1e-5 if FLOAT64 else 1e-2
RTOL = 1e-4 if FLOAT64 else 3e-3
ATOL = 1e-6 if FLOAT64 else 1e-4


def dense_model():
    return keras.Sequential(
        [
            keras.Input((5,), dtype=DTYPE),
            keras.layers.Dense(4, activation="tanh", dtype=DTYPE, name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", dtype=DTYPE, name="out"),
        ]
    )


def conv1d_model():
    return keras.Sequential(
        [
            keras.Input((12, 2), dtype=DTYPE),
            keras.layers.Conv1D(3, 3, activation="tanh", dtype=DTYPE, name="conv"),
            keras.layers.Flatten(dtype=DTYPE),
            keras.layers.Dense(1, dtype=DTYPE, name="out"),
        ]
    )


def conv2d_model():
    return keras.Sequential(
        [
            keras.Input((6, 6, 1), dtype=DTYPE),
            keras.layers.Conv2D(2, 3, activation="tanh", dtype=DTYPE, name="conv"),
            keras.layers.GlobalAveragePooling2D(dtype=DTYPE),
            keras.layers.Dense(1, activation="sigmoid", dtype=DTYPE, name="out"),
        ]
    )


def scored(model, x):
    return to_numpy(model(x, training=False)).astype(np.float64).reshape(len(x), -1)


def finite_difference_inputs(model, x, rows=3):
    """d output / d x for the first ``rows`` samples, one element at a time."""
    grad = np.zeros((rows, *x.shape[1:]))
    for i in range(rows):
        for index in np.ndindex(*x.shape[1:]):
            up, down = x[i : i + 1].copy(), x[i : i + 1].copy()
            up[(0, *index)] += H
            down[(0, *index)] -= H
            grad[(i, *index)] = (scored(model, up) - scored(model, down))[0, 0] / (2 * H)
    return grad


def finite_difference_delta(model, layer_name, z, rows=2):
    """d output / d z of a fused layer: perturb z, apply its activation and the layers after."""
    layers = model.layers
    k = [layer.name for layer in layers].index(layer_name)

    def tail(z_row):
        a = layers[k].activation(z_row)
        for layer in layers[k + 1 :]:
            a = layer(a)
        return float(to_numpy(a).reshape(-1)[0])

    grad = np.zeros((rows, *z.shape[1:]))
    for i in range(rows):
        for index in np.ndindex(*z.shape[1:]):
            up, down = z[i : i + 1].astype(np.float64), z[i : i + 1].astype(np.float64)
            up[(0, *index)] += H
            down[(0, *index)] -= H
            grad[(i, *index)] = (tail(up) - tail(down)) / (2 * H)
    return grad


@pytest.mark.parametrize(
    "build, shape, layer",
    [
        (dense_model, (5,), "hidden"),
        (conv1d_model, (12, 2), "conv"),
        (conv2d_model, (6, 6, 1), "conv"),
    ],
    ids=["dense", "conv1d", "conv2d"],
)
def test_gradients_match_finite_differences(build, shape, layer):
    model = build()
    x = np.random.default_rng(0).normal(size=(6, *shape))
    groups = resolve_feature_groups(model, x, None)
    # the dense model's table gets a group per column; they share the input's gradient
    assert len(groups) == (shape[0] if len(shape) == 1 else 1)
    [key] = {group.key for group in groups}
    source = groups[0].source
    capture = Capture(
        model,
        [model.get_layer(layer)],
        plan=GradientPlan(sources=(key,), saliency_samples=2),
        batch_size=4,  # two batches: the sums are merged
    )
    summary = capture.summarize(x)
    numeric = finite_difference_inputs(model, x, rows=len(x))
    # feature saliency sums |d output / d input| over samples and all but the last axis
    expected = np.abs(numeric).reshape(-1, numeric.shape[-1]).sum(axis=0)
    np.testing.assert_allclose(summary.sources[key], expected, rtol=RTOL, atol=ATOL)
    # filter importance sums |d output / d pre-activation| over samples and positions
    z = models.linear_twin(model.get_layer(layer), x)
    delta = finite_difference_delta(model, layer, z, rows=len(x))
    expected = np.abs(delta).reshape(-1, delta.shape[-1]).sum(axis=0)
    np.testing.assert_allclose(summary.layers[layer].importance, expected, rtol=RTOL, atol=ATOL)
    # the input saliency maps of the small pass: |d output / d input| of the first two rows
    maps, inputs = capture.input_saliency(x, 2)
    np.testing.assert_allclose(maps["output"][source], np.abs(numeric[:2]), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(inputs[source], x[:2], rtol=1e-6)
    assert not summary.no_gradient


def test_layer_input_saliency_is_the_gradient_of_the_layer_sum():
    model = dense_model()
    x = np.random.default_rng(1).normal(size=(4, 5))
    capture = Capture(model, [model.get_layer("hidden")], plan=GradientPlan(saliency_samples=1))
    capture.probe(x)
    source = resolve_feature_groups(model, x, None)[0].source
    saliency = capture.input_saliency(x, 3)[0]["hidden"][source]
    hidden = keras.Model(model.inputs, model.get_layer("hidden").output)
    numeric = np.zeros((3, 5))
    for i in range(3):
        for j in range(5):
            up, down = x[i : i + 1].copy(), x[i : i + 1].copy()
            up[0, j] += H
            down[0, j] -= H
            numeric[i, j] = (to_numpy(hidden([up])).sum() - to_numpy(hidden([down])).sum()) / (
                2 * H
            )
    np.testing.assert_allclose(saliency, np.abs(numeric), rtol=RTOL, atol=ATOL)


def test_multiclass_objective_is_the_predicted_class_score():
    out = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    assert float(objective(out)) == pytest.approx(0.7 + 0.5)
    assert float(to_numpy(objective(np.array([[0.25], [0.5]])))) == pytest.approx(0.75)


def ctr_like_model():
    ids = keras.Input((1,), dtype="int32", name="user_id")
    price = keras.Input((3,), name="price")
    embedded = keras.layers.Flatten()(keras.layers.Embedding(50, 4, name="user_embedding")(ids))
    hidden = keras.layers.Dense(8, activation="relu", name="dense")(
        keras.layers.Concatenate()([embedded, price])
    )
    out = keras.layers.Dense(1, activation="sigmoid", name="out")(hidden)
    model = keras.Model({"user_id": ids, "price": price}, out)
    rng = np.random.default_rng(0)
    x = {
        "user_id": rng.integers(0, 50, size=(8, 1)).astype("int32"),
        "price": rng.normal(size=(8, 3)).astype("float32"),
    }
    return model, x


def test_default_groups_are_float_inputs_and_embedding_outputs():
    model, x = ctr_like_model()
    groups = resolve_feature_groups(model, x, None)
    assert [(g.name, g.key) for g in groups] == [
        ("price", "input:price"),
        ("user_embedding", "layer:user_embedding"),
    ]
    capture = Capture(
        model,
        [model.get_layer("dense")],
        plan=GradientPlan(
            sources=tuple(g.key for g in groups),
            source_layers=(model.get_layer("user_embedding"),),
        ),
    )
    summary = capture.summarize(x)
    assert summary.sources["input:price"].shape == (3,)
    assert summary.sources["layer:user_embedding"].shape == (4,)
    assert summary.source_elements == {"input:price": 1, "layer:user_embedding": 1}
    assert set(summary.layers) == {"dense"}  # the embedding is a source, not inspected


@pytest.mark.parametrize(
    "groups, message",
    [
        ({"ids": "user_id"}, r"not differentiable \(ids\).*user_embedding"),
        ({"x": "nope"}, "neither a model input"),
        ({"p": ("price", [0, 3])}, r"columns \[0, 3\] are not distinct indices in \[0, 3\)"),
        ({"a": ("price", [0, 1]), "b": ("price", [1, 2])}, r"overlap on input 'price' \(\[1\]\)"),
        ({"a": [0, 1]}, "say which one"),
        ({"a": 3.5}, "is not a source"),
        ({}, "non-empty dict"),
    ],
)
def test_bad_feature_groups_are_refused_with_the_fix(groups, message):
    model, x = ctr_like_model()
    with pytest.raises(ConfigError, match=message):
        resolve_feature_groups(model, x, groups)


def test_named_groups_over_columns_and_layers():
    model, x = ctr_like_model()
    groups = resolve_feature_groups(
        model, x, {"cheap": ("price", [0]), "rest": ("price", [1, 2]), "user": "user_embedding"}
    )
    assert [(g.name, g.kind, g.source, g.columns) for g in groups] == [
        ("cheap", "input", "price", (0,)),
        ("rest", "input", "price", (1, 2)),
        ("user", "layer", "user_embedding", None),
    ]


def test_a_layer_without_a_path_to_the_output_is_reported():
    inputs = keras.Input((4,))
    used = keras.layers.Dense(3, name="used")(inputs)
    unused = keras.layers.Dense(2, name="unused")(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(1, name="out")(used), unused])
    capture = Capture(
        model, [model.get_layer("used"), model.get_layer("unused")], plan=GradientPlan()
    )
    summary = capture.summarize(np.ones((3, 4), "float32"))
    assert summary.no_gradient == {"unused"}
    assert summary.layers["used"].importance is not None
    assert summary.layers["unused"].importance is None
