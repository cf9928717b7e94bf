"""Capture against an independent oracle: a Keras feature model built from layer outputs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_inspect.capture import Capture, default_layers, has_fused_activation, model_layers
from tests import models


def feature_model_outputs(model, layers, x):
    """Outputs and inputs of ``layers`` from a separately built functional feature model."""
    probe = keras.Model(
        model.inputs, [layer.output for layer in layers] + [layer.input for layer in layers]
    )
    values = probe.predict(x, verbose=0, batch_size=len(keras.tree.flatten(x)[0]))
    return values[: len(layers)], values[len(layers) :]


@pytest.mark.parametrize(
    "family", ["sequential_no_input", "sequential_conv2d", "functional_multi_io"]
)
def test_every_layer_matches_a_feature_model(family):
    model, x, _ = models.FAMILIES[family]()
    layers = [layer for layer in model_layers(model) if not isinstance(layer, keras.Model)]
    result = Capture(model, layers, batch_size=40).run(x)
    outputs, inputs = feature_model_outputs(model, layers, x)
    for layer, expected, layer_input in zip(layers, outputs, inputs, strict=True):
        np.testing.assert_allclose(
            result.activations[layer.name], expected, rtol=1e-5, atol=1e-5, err_msg=layer.name
        )
        if has_fused_activation(layer):
            np.testing.assert_allclose(
                result.pre_activations[layer.name],
                models.linear_twin(layer, layer_input),
                rtol=1e-5,
                atol=1e-5,
                err_msg=layer.name,
            )
        else:
            assert layer.name not in result.pre_activations


def test_scored_output_is_the_first_output_and_matches_predict():
    model, x, _ = models.functional_multi_io()
    predicted = model.predict(x, verbose=0)
    np.testing.assert_allclose(
        Capture(model, []).run(x).output, predicted["click"][:, 0], atol=1e-6
    )
    np.testing.assert_allclose(
        Capture(model, [], output="aux").run(x).output, predicted["aux"], atol=1e-6
    )


def test_subclassed_model_matches_numpy():
    model, x, _ = models.subclassed_regression()
    layers = default_layers(model)
    assert [layer.name for layer in layers] == ["sub_hidden", "sub_inner", "sub_head"]
    result = Capture(model, layers).run(x)
    for name, (out, pre) in models.two_tower_numpy(model, x).items():
        np.testing.assert_allclose(result.activations[name], out, atol=1e-5)
        if name != "sub_head":
            np.testing.assert_allclose(result.pre_activations[name], pre, atol=1e-5)
    np.testing.assert_allclose(result.output, out[:, 0], atol=1e-5)


def test_model_is_unchanged_afterwards_and_traces_once():
    model, x, _ = models.sequential_no_input()
    before = model.predict(x, verbose=0)
    capture = Capture(model, default_layers(model), batch_size=32)
    capture.run(x)
    capture.run(x[:7])
    assert capture.trace_count == 1
    assert all("call" not in layer.__dict__ for layer in model_layers(model))
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)
    assert model.get_layer("dense_a").activation is keras.activations.relu


def test_default_layers_skip_embeddings_pooling_and_normalisation():
    model, _, _ = models.functional_multi_io()
    assert sorted(layer.name for layer in default_layers(model)) == [
        "aux",
        "click",
        "conv1d",
        "dense",
        "gru",
        "lstm",
    ]


def test_channels_first_outputs_are_moved_to_channels_last():
    x = np.random.default_rng(0).normal(size=(5, 2, 6, 6)).astype("float32")
    conv = keras.layers.Conv2D(3, 3, data_format="channels_first", name="cf")
    model = keras.Sequential([keras.Input((2, 6, 6)), conv, keras.layers.Flatten()])
    result = Capture(model, [conv]).run(x)
    expected = keras.ops.convert_to_numpy(conv(x))
    np.testing.assert_allclose(result.activations["cf"], np.moveaxis(expected, 1, -1), atol=1e-5)
