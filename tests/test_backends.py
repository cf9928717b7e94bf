"""The same recording on TensorFlow, JAX and PyTorch.

The fast tests run on whichever backend the suite runs on (the README's test command runs this
file on all three); the slow ones start one process per backend (a process has one backend).
"""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_inspect as ki
from keras_inspect.batches import to_numpy
from keras_inspect.capture import Capture
from keras_inspect.errors import ConfigError
from keras_inspect.gradients import GradientPlan
from tests import models

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ("tensorflow", "jax", "torch")
TIMEOUT = 300


def _run(code_or_module: list[str], backend: str, **env: str) -> subprocess.Popen:
    environment = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", **env)
    return subprocess.Popen(
        [sys.executable, *code_or_module],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen, what: str) -> str:
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"{what} did not finish in {TIMEOUT} s")
    assert process.returncode == 0, f"{what} failed:\n{err[-4000:]}"
    return out


# On the suite's backend -------------------------------------------------------------------------


def test_the_compiled_pass_follows_weight_updates():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="tanh", name="d")]
    )
    x = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    capture = Capture(model, [model.get_layer("d")], plan=GradientPlan(), batch_size=4)
    capture.summarize(x)
    traced = capture.trace_count
    kernel, bias = model.get_layer("d").get_weights()
    model.get_layer("d").set_weights([kernel * 3.0, bias + 1.0])
    summary = capture.summarize(x)
    expected = np.tanh(x @ (kernel * 3.0) + bias + 1.0)
    np.testing.assert_allclose(summary.layers["d"].moments.mean, expected.mean(0), atol=1e-5)
    if models.COMPILES:  # a naive jax.jit(model) would keep the first weights
        assert capture.trace_count == traced


def dict_output_model():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, activation="relu", name="hidden")(inputs)
    # Declared "zeta" first: Keras sorts output_names, and PyTorch's call returns sorted keys.
    return keras.Model(
        inputs,
        {
            "zeta": keras.layers.Dense(1, activation="sigmoid", name="zeta")(hidden),
            "alpha": keras.layers.Dense(2, activation="softmax", name="alpha")(hidden),
        },
    )


def test_a_dict_output_model_scores_its_declared_first_output():
    model = dict_output_model()
    x = np.random.default_rng(1).normal(size=(12, 3)).astype("float32")
    outputs = {k: to_numpy(v) for k, v in model(x, training=False).items()}
    layers = [model.get_layer("hidden")]
    first = Capture(model, layers).summarize(x).output
    np.testing.assert_allclose(first, outputs["zeta"][:, 0], atol=1e-6)
    named = Capture(model, layers, output="alpha").summarize(x).output
    np.testing.assert_allclose(named, outputs["alpha"], atol=1e-6)
    indexed = Capture(model, layers, output=1).summarize(x).output
    np.testing.assert_allclose(indexed, outputs["alpha"], atol=1e-6)


@pytest.mark.parametrize("output", [5, "beta"])
def test_an_output_the_model_does_not_have_is_refused_with_its_outputs(tmp_path, output):
    model = dict_output_model()
    x = np.random.default_rng(1).normal(size=(12, 3)).astype("float32")
    callback = ki.InspectCallback(str(tmp_path), {"train": x}, output=output)
    callback.set_model(model)
    with pytest.raises(ConfigError, match=r"output=.*\['zeta', 'alpha'\]"):
        callback.on_train_begin()


@pytest.mark.parametrize("output", [-1, 1.5, True])
def test_a_malformed_output_is_refused_in_init(tmp_path, output):
    with pytest.raises(ConfigError, match="output must be None"):
        ki.InspectCallback(str(tmp_path), {"train": np.ones((4, 3))}, output=output)


# One process per backend ----------------------------------------------------------------------


@pytest.mark.slow
def test_the_same_weights_record_the_same_quantities_on_every_backend(tmp_path):
    processes = {
        backend: _run(["-m", "tests.backend_record", str(tmp_path / backend)], backend)
        for backend in BACKENDS
    }
    for backend, process in processes.items():
        _finish(process, f"recording on {backend}")
    frames = {b: models.keyed_records(ki.load(str(tmp_path / b))) for b in BACKENDS}
    reference = frames["tensorflow"]
    quantities = {key[3] for key in reference}
    # every quantity of the full preset, gradients included
    assert {"feature_saliency", "filter_importance", "input_saliency"} <= quantities
    assert {"entropy_inter", "filter_clusters", "channel_capacity", "projection"} <= quantities
    for backend in ("jax", "torch"):
        other = frames[backend]
        assert set(other) == set(reference), f"{backend} records other quantities"
        for key, value in reference.items():
            a, b = np.asarray(value, np.float64), np.asarray(other[key], np.float64)
            assert a.shape == b.shape, (backend, key)
            scale = np.abs(a).max() if a.size else 0.0
            # float32 arithmetic in another order: 2e-5 of the scale at most, measured; a Gram
            # matrix's entries are small (it has unit norm) and stored as float16, where one
            # rounding that falls the other way is 2^-10 of the largest entry
            tolerance = (2**-10 if key[3] == "cka_gram" else 1e-4) * scale + 1e-9
            np.testing.assert_allclose(b, a, rtol=0, atol=tolerance, err_msg=str(key))
            if key[3] == "filter_importance":
                assert np.argsort(-a).tolist() == np.argsort(-b).tolist(), (backend, key)
        saliency = [k for k in reference if k[3] == "feature_saliency"]
        order = sorted(saliency, key=lambda k: -float(reference[k]))
        assert sorted(saliency, key=lambda k: -float(other[k])) == order, backend


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_jax_and_torch_need_no_tensorflow(backend, tmp_path):
    code = f"""
import sys
sys.modules["tensorflow"] = None  # import tensorflow now fails, as without it installed
import warnings
import keras, numpy as np
import keras_inspect as ki
from tests.backend_record import build, data
model = build()
model.compile("adam", "sparse_categorical_crossentropy")
x, y = data(64, 0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ki.LeftOutWarning)
    callback = ki.InspectCallback({str(tmp_path)!r}, {{"train": (x, y)}}, quantities="standard")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[callback])
frame = ki.load({str(tmp_path)!r})
import tb_plugin.loader
print(sorted(set(frame.quantity)))
"""
    out = _finish(_run(["-c", code], backend), f"training on {backend} without TensorFlow")
    for quantity in ("feature_saliency", "filter_importance", "neuron_mean", "model_auc"):
        assert quantity in out


@pytest.mark.slow
def test_a_backend_without_gradients_says_so_or_refuses_an_explicit_list(tmp_path):
    code = f"""
import warnings
import numpy as np
import keras_inspect as ki
x = np.ones((8, 3), "float32")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    callback = ki.InspectCallback({str(tmp_path)!r}, {{"train": x}}, quantities="standard")
print("QUANTITIES", callback.quantities)
print("SAID", [str(w.message) for w in caught if issubclass(w.category, ki.LeftOutWarning)])
try:
    ki.InspectCallback({str(tmp_path)!r}, {{"train": x}}, quantities=["filter_importance"])
except ki.ConfigError as error:
    print("REFUSED", error)
"""
    out = _finish(_run(["-c", code], "numpy"), "the numpy backend")
    said = out.split("SAID", 1)[1]
    assert "feature_saliency" not in out.split("QUANTITIES", 1)[1].split("SAID")[0]
    assert "KERAS_BACKEND='numpy'" in said and "filter_importance" in said
    assert "REFUSED" in out and "cannot be computed" in out
