"""The streaming capture against independent oracles: a Keras feature model built from layer
outputs, and NumPy statistics of its full activations."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_inspect import layout
from keras_inspect.capture import Capture
from keras_inspect.quantities.moments import Moments
from keras_inspect.quantities.neurons import active_samples, finite_rows, unit_rows
from keras_inspect.quantities.probes import probe_features
from keras_inspect.recording import (
    default_layers,
    has_fused_activation,
    model_layers,
    recorded_call,
)
from tests import models


def feature_model_outputs(model, layers, x):
    """Outputs and inputs of ``layers`` from a separately built functional feature model."""
    probe = keras.Model(
        model.inputs, [layer.output for layer in layers] + [layer.input for layer in layers]
    )
    values = probe.predict(x, verbose=0, batch_size=len(keras.tree.flatten(x)[0]))
    return values[: len(layers)], values[len(layers) :]


def inspectable(model):
    return [layer for layer in model_layers(model) if not isinstance(layer, keras.Model)]


@pytest.mark.parametrize(
    "family", ["sequential_no_input", "sequential_conv2d", "functional_multi_io"]
)
def test_recorded_call_matches_a_feature_model(family):
    model, x, _ = models.FAMILIES[family]()
    layers = inspectable(model)
    fused = [layer for layer in layers if has_fused_activation(layer)]
    recorded = recorded_call(model, layers, x, pre_activations=fused)
    outputs, inputs = feature_model_outputs(model, layers, x)
    for layer, expected, layer_input in zip(layers, outputs, inputs, strict=True):
        got = keras.ops.convert_to_numpy(recorded.outputs[layer.name])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=layer.name)
        if layer in fused:
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(recorded.pre_activations[layer.name]),
                models.linear_twin(layer, layer_input),
                rtol=1e-5,
                atol=1e-5,
                err_msg=layer.name,
            )
        else:
            assert layer.name not in recorded.pre_activations


@pytest.mark.parametrize(
    "family", ["sequential_no_input", "sequential_conv2d", "functional_multi_io"]
)
def test_batch_by_batch_summaries_equal_numpy_on_all_rows(family):
    model, x, _ = models.FAMILIES[family]()
    layers = inspectable(model)
    capture = Capture(model, layers, batch_size=7)  # 96 rows: 13 uneven batches
    summary = capture.summarize(x)
    outputs, inputs = feature_model_outputs(model, layers, x)
    for layer, acts, layer_input in zip(layers, outputs, inputs, strict=True):
        got = summary.layers[layer.name]
        rows = unit_rows(acts)
        expected = Moments.of(rows)
        assert got.moments.count == expected.count
        np.testing.assert_allclose(got.moments.mean, expected.mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got.moments.std, expected.std, rtol=1e-4, atol=1e-6)
        active, samples = active_samples(acts)
        np.testing.assert_array_equal(got.active, active)
        assert got.samples == samples and got.nonfinite == 0
        source = models.linear_twin(layer, layer_input) if has_fused_activation(layer) else acts
        cross = Moments.of(unit_rows(source), cross=True)
        np.testing.assert_allclose(got.correlation.m2, cross.m2, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got.features, probe_features(acts), rtol=1e-5, atol=1e-6)
    predicted = model.predict(x, verbose=0)
    if isinstance(predicted, dict):
        predicted = predicted["click"]
    np.testing.assert_allclose(
        summary.output,
        np.squeeze(predicted, -1) if predicted.shape[-1] == 1 else predicted,
        atol=1e-6,
    )


def test_non_finite_samples_are_counted_and_left_out():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="d")])
    x = np.random.default_rng(0).normal(size=(20, 3)).astype("float32")
    x[[2, 11]] = np.nan
    summary = Capture(model, [model.get_layer("d")], batch_size=6).summarize(x)
    layer = summary.layers["d"]
    assert layer.nonfinite == 2 and layer.samples == 18
    acts = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(layer.moments.mean, acts[finite_rows(acts)].mean(0), rtol=1e-5)
    assert layer.feature_finite.tolist() == [i not in (2, 11) for i in range(20)]


def test_scored_output_is_the_first_output_and_matches_predict():
    model, x, _ = models.functional_multi_io()
    predicted = model.predict(x, verbose=0)
    dense = [model.get_layer("dense")]
    np.testing.assert_allclose(
        Capture(model, dense).summarize(x).output, predicted["click"][:, 0], atol=1e-6
    )
    np.testing.assert_allclose(
        Capture(model, dense, output="aux").summarize(x).output, predicted["aux"], atol=1e-6
    )


def test_subclassed_model_matches_numpy():
    model, x, _ = models.subclassed_regression()
    layers = default_layers(model)
    assert [layer.name for layer in layers] == ["sub_hidden", "sub_inner", "sub_head"]
    capture = Capture(model, layers, batch_size=10)
    summary = capture.summarize(x)
    for name, (out, pre) in models.two_tower_numpy(model, x).items():
        np.testing.assert_allclose(summary.layers[name].moments.mean, out.mean(0), atol=1e-5)
        cross = Moments.of(pre, cross=True)
        np.testing.assert_allclose(
            summary.layers[name].correlation.m2, cross.m2, atol=1e-4 * np.abs(cross.m2).max()
        )
    np.testing.assert_allclose(summary.output, out[:, 0], atol=1e-5)
    maps = capture.maps(x, 9)
    np.testing.assert_allclose(
        maps["sub_inner"], models.two_tower_numpy(model, x[:9])["sub_inner"][0], atol=1e-5
    )


def test_model_is_unchanged_afterwards_and_traces_once():
    model, x, _ = models.sequential_no_input()
    before = model.predict(x, verbose=0)
    capture = Capture(model, default_layers(model), batch_size=32)
    capture.summarize(x)
    capture.summarize(x[:7])
    if models.COMPILES:  # (JAX pads the 7 rows to the first batch's count)
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
    capture = Capture(model, [conv])
    summary = capture.summarize(x)
    expected = np.moveaxis(keras.ops.convert_to_numpy(conv(x)), 1, -1)
    assert summary.layers["cf"].shape == (4, 4, 3)
    np.testing.assert_allclose(
        summary.layers["cf"].moments.mean, unit_rows(expected).mean(0), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(capture.maps(x, 5)["cf"], expected, atol=1e-5)


def test_wide_layers_and_large_maps_use_fixed_unit_and_position_subsets():
    x = np.random.default_rng(1).normal(size=(12, 20, 20, 2)).astype("float32")
    conv = keras.layers.Conv2D(150, 1, name="wide")  # 150 units, 400 positions per sample
    model = keras.Sequential([keras.Input((20, 20, 2)), conv])
    capture = Capture(model, [conv], batch_size=5, seed=4)
    summary = capture.summarize(x)
    units = summary.layers["wide"].correlation_units
    assert len(units) == layout.MAX_CORRELATION_UNITS
    assert list(units) == sorted(set(units)) and units.max() < 150
    again = Capture(model, [conv], seed=4)
    again.probe(x)
    np.testing.assert_array_equal(again.correlation_units["wide"], units)  # fixed per seed
    acts = keras.ops.convert_to_numpy(model(x)).reshape(12, 400, 150)
    plan = capture._plans["wide"]
    positions = plan.positions
    assert len(positions) == layout.MAX_STAT_POSITIONS
    assert len(plan.correlated) == layout.MAX_CORRELATION_POSITIONS
    assert set(plan.correlated) <= set(positions)
    expected = Moments.of(acts[:, plan.correlated][:, :, units].reshape(-1, len(units)), cross=True)
    np.testing.assert_allclose(
        summary.layers["wide"].correlation.m2, expected.m2, rtol=1e-3, atol=1e-3
    )
    # the moments use the same positions, every unit; extremes and activity every position
    layer = summary.layers["wide"]
    kept = Moments.of(acts[:, positions].reshape(-1, 150))
    np.testing.assert_allclose(layer.moments.mean, kept.mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.moments.std, kept.std, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(layer.moments.high, acts.reshape(-1, 150).max(0))
    np.testing.assert_array_equal(layer.active, active_samples(acts)[0])
    # per-row features: the mean over every position
    np.testing.assert_allclose(layer.features, acts.mean(1), rtol=1e-4, atol=1e-5)


def test_batches_are_sized_by_bytes_and_only_statistics_leave_the_pass(monkeypatch):
    model, x, _ = models.sequential_conv2d()
    capture = Capture(model, default_layers(model))
    capture.probe(x)
    per_row = 4 * sum(np.prod(s) for s in capture.shapes.values()) * 2  # outputs, pre-acts
    assert capture.batch_rows() == layout.BATCH_BYTES // per_row
    monkeypatch.setattr(layout, "BATCH_BYTES", int(per_row * 10))
    assert capture.batch_rows() == 10
    seen = []
    original = capture._build

    def spy(example, probing, compiled):
        fn = original(example, probing, compiled)

        def wrapped(batch):
            out = fn(batch)
            seen.append(keras.tree.map_structure(lambda t: tuple(t.shape), out))
            return out

        return wrapped

    monkeypatch.setattr(capture, "_build", spy)
    summary = capture.summarize(x)
    assert summary.rows == 96 and len(seen) == 10  # 9 batches of 10 and one of 6
    # Per batch, only the output, the finite flags and the per-row features have a row axis:
    # nothing else the pass returns grows with the rows of a batch.
    for shapes in seen[:1]:
        for layer, stats in shapes["layers"].items():
            for key, shape in stats.items():
                if key == "corr":
                    assert all(10 not in s for s in shape.values()), (layer, shape)
                elif key in ("finite", "features"):
                    assert shape[0] == 10
                else:
                    assert 10 not in shape, (layer, key, shape)


def test_explicit_batch_size_and_feature_row_cap(monkeypatch):
    model, x, _ = models.sequential_no_input()
    capture = Capture(model, default_layers(model), batch_size=5)
    capture.probe(x)
    assert capture.batch_rows() == 5
    monkeypatch.setattr(layout, "FEATURE_ROWS", 30)
    summary = capture.summarize(x)
    assert all(layer.features.shape[0] == 30 for layer in summary.layers.values())


def test_datasets_of_different_lengths_get_their_own_positions():
    # a sequence model that takes any length: 300 and 40 steps per row
    model = keras.Sequential(
        [keras.Input((None, 2)), keras.layers.Conv1D(4, 3, activation="relu", name="conv")]
    )
    rng = np.random.default_rng(3)
    long, short = rng.normal(size=(6, 300, 2)), rng.normal(size=(6, 40, 2))
    capture = Capture(model, [model.get_layer("conv")], batch_size=4)
    capture.probe(long.astype("float32"))
    for x in (long.astype("float32"), short.astype("float32"), long.astype("float32")):
        summary = capture.summarize(x)
        acts = keras.ops.convert_to_numpy(model(x))
        layer = summary.layers["conv"]
        assert layer.shape == acts.shape[1:]
        np.testing.assert_array_equal(layer.moments.high, acts.reshape(-1, 4).max(0))
        positions = layout.layer_plan("conv", acts.shape[1:], seed=0).positions
        kept = acts if positions is None else acts[:, positions]
        np.testing.assert_allclose(layer.moments.mean, kept.reshape(-1, 4).mean(0), rtol=1e-4)
    if models.COMPILES:
        assert capture.trace_count == 2
