"""Networks nobody here designed: keras.applications CNNs and a Transformer text classifier.

Each records the ``standard`` preset on small inputs. The filter importance of the softmax head
is left out by design (its units' importance measures the softmax, not the network: two classes
make it uniform, d p_max / d z_0 = -d p_max / d z_1), and said so; nothing may fail. The values
of one layer are checked against NumPy on a feature model's activations of the same rows.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import keras_inspect as ki
from benchmarks import real_models
from keras_inspect.layout import MAX_CORRELATION_UNITS
from keras_inspect.recording import default_layers

pytestmark = pytest.mark.slow

# Classifiers; one checkpoint (no CKA to a previous one); more layers than the preset writes
# Gram matrices for (said once).
STANDARD = set(ki.PRESETS["standard"]) - {"probe_r2", "cka_previous", "cka_gram"}


def nothing_failed_and_the_head_was_left_out(caught, head):
    said = [w for w in caught if issubclass(w.category, ki.InspectWarning)]
    failed = [str(w.message) for w in said if not issubclass(w.category, ki.LeftOutWarning)]
    assert not failed, failed
    left_out = [str(w.message) for w in said if issubclass(w.category, ki.LeftOutWarning)]
    assert any(f"filter_importance leaves out layers ['{head}']" in m for m in left_out), left_out


def record_once(tmp_path, model, x, y, **kwargs):
    """One checkpoint of the standard preset, outside fit (no training step to compile)."""
    half = len(x) // 2
    callback = ki.InspectCallback(
        tmp_path,
        {"train": (x[:half], y[:half]), "test": (x[half:], y[half:])},
        asynchronous=False,
        **kwargs,
    )
    callback.set_model(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ki.InspectWarning)
        callback.on_train_begin()
        callback.record(0)
        callback.close()
    nothing_failed_and_the_head_was_left_out(caught, "predictions")
    return callback, ki.load(tmp_path)


def cell(frame, quantity, dataset, layer):
    rows = frame[(frame.quantity == quantity) & (frame.dataset == dataset) & (frame.layer == layer)]
    assert len(rows) == 1, (quantity, dataset, layer)
    return rows.value.iloc[0]


@pytest.mark.parametrize("name", sorted(real_models.APPLICATIONS))
def test_applications_record_the_standard_preset(tmp_path, name):
    model, x, y = real_models.APPLICATIONS[name](rows=24, size=32)
    callback, frame = record_once(tmp_path, model, x, y)
    assert set(frame.quantity) >= STANDARD
    assert "cka_gram" not in set(frame.quantity)
    assert "model_auc" in set(frame[frame.dataset == "test"].quantity)
    inspected = [layer.name for layer in default_layers(model)]
    assert set(frame[frame.quantity == "neuron_std"].layer) == set(inspected)
    # every inspected layer of a CNN feeds the output and has more than one unit
    assert set(frame[frame.quantity == "filter_importance"].layer) >= set(inspected) - {
        "predictions"
    }
    widest = max(callback._capture.shapes.items(), key=lambda item: item[1][-1])[0]
    matrix = cell(frame, "correlation_matrix", "train", widest)
    assert matrix.shape == (MAX_CORRELATION_UNITS, MAX_CORRELATION_UNITS)
    units = frame[(frame.quantity == "correlation_units") & (frame.layer == widest)].value.iloc[0]
    assert len(units) == MAX_CORRELATION_UNITS


def test_mobilenet_values_match_numpy_on_the_feature_models_activations(tmp_path):
    model, x, y = real_models.mobilenet_v2(rows=24, size=32)
    callback, frame = record_once(tmp_path, model, x, y, batch_size=5)
    sample = callback.samples["test"]
    layer = model.get_layer("block_6_expand")  # a 1x1 conv of 192 units at 4 x 4 positions
    acts = keras.Model(model.inputs, layer.output).predict(sample.x, verbose=0)
    rows = acts.reshape(-1, acts.shape[-1])
    np.testing.assert_allclose(
        cell(frame, "neuron_mean", "test", layer.name), rows.mean(0), rtol=1e-3, atol=1e-4
    )
    np.testing.assert_allclose(
        cell(frame, "neuron_std", "test", layer.name), rows.std(0), rtol=1e-3, atol=1e-4
    )
    # a wide layer: the matrix is np.corrcoef of its recorded unit subset (all 16 positions
    # fit in the position cap); the layer's activation is fused, so pre-activations = outputs
    units = frame[(frame.quantity == "correlation_units") & (frame.layer == layer.name)]
    units = units.value.iloc[0]
    live = rows[:, units].std(0) > 0
    expected = np.corrcoef(rows[:, units][:, live], rowvar=False)
    recorded = cell(frame, "correlation_matrix", "test", layer.name)[np.ix_(live, live)]
    np.testing.assert_allclose(recorded, expected, atol=2e-3)  # stored as float16
    # macro one-vs-rest AUC over the classes with positives and negatives in this sample
    predicted = model.predict(sample.x, verbose=0)
    aucs = [
        roc_auc_score(sample.y == k, predicted[:, k])
        for k in np.unique(sample.y)
        if 0 < (sample.y == k).sum() < len(sample.y)
    ]
    assert cell(frame, "model_auc", "test", "") == pytest.approx(np.mean(aucs), abs=1e-5)


def test_transformer_classifier_trains_with_the_callback(tmp_path):
    model, x, y = real_models.transformer_classifier(rows=192, length=16)
    callback = ki.InspectCallback(
        tmp_path, {"train": (x[:96], y[:96]), "test": (x[96:], y[96:])}, batch_size=40
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ki.InspectWarning)
        model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[callback])
    nothing_failed_and_the_head_was_left_out(caught, "classes")
    frame = ki.load(tmp_path)
    assert set(frame.quantity) >= STANDARD
    layers = set(frame[frame.quantity == "neuron_mean"].layer)
    # the attention's own projections (EinsumDense layers inside MultiHeadAttention) too
    assert layers == {
        "query",
        "key",
        "value",
        "attention_output",
        "ffn_1",
        "ffn_2",
        "dense",
        "classes",
    }
    groups = set(frame[frame.quantity == "feature_saliency"].group)
    # the position embedding (called on arange(maxlen): no batch axis) is no per-sample group
    assert groups == {"token_embedding"}
    sample = callback.samples["test"]
    ffn = keras.Model(model.inputs, model.get_layer("ffn_1").output).predict(sample.x, verbose=0)
    last = frame[frame.step == 1]
    np.testing.assert_allclose(
        cell(last, "neuron_mean", "test", "ffn_1"),
        ffn.reshape(-1, ffn.shape[-1]).mean(0),
        rtol=1e-4,
        atol=1e-5,
    )
