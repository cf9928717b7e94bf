from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from keras_inspect.quantities import probes
from keras_inspect.quantities.probes import fit_probe, probe_auc, probe_features, probe_r2


def _blobs(n: int, width: int, n_classes: int, shift: float, seed: int):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, size=n)
    centres = rng.normal(size=(n_classes, width))
    features = rng.normal(size=(n, width)) + shift * centres[labels]
    return features.astype(np.float32), labels


def _reference(features, labels):
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=200))
    return model.fit(features, labels)


def test_probe_features_flattens_or_averages():
    dense = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(probe_features(dense), dense)
    assert probe_features(np.arange(3)).shape == (3, 1)
    assert probe_features(np.arange(3)).dtype == np.float64
    small = np.ones((2, 3, 4, 5), np.float32)
    assert probe_features(small).shape == (2, 60)
    conv = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype(np.float32)
    averaged = probe_features(conv, max_features=59)
    assert averaged.dtype == np.float32
    np.testing.assert_allclose(averaged, conv.mean(axis=(1, 2)), rtol=1e-6)
    assert probe_features(np.ones((2, 7, 5)), max_features=4).shape == (2, 5)
    assert probe_features(np.ones((2, 6)), max_features=4).shape == (2, 6)


def test_probe_features_rejects_bad_input():
    with pytest.raises(ValueError, match="0-d"):
        probe_features(np.float32(0))
    with pytest.raises(ValueError, match="max_features must be >= 1; got 0"):
        probe_features(np.ones((2, 2)), max_features=0)


def test_binary_probe_matches_direct_sklearn_fit():
    x, y = _blobs(600, 8, 2, 0.5, seed=1)
    probe = fit_probe(x[:400], y[:400], "binary")
    reference = _reference(x[:400], y[:400])
    expected = roc_auc_score(y[400:], reference.predict_proba(x[400:])[:, 1])
    assert probe_auc(probe, x[400:], y[400:]) == pytest.approx(expected, abs=1e-6)


def test_separable_and_random_labels():
    x, y = _blobs(1000, 10, 2, 3.0, seed=2)
    probe = fit_probe(x[:500], y[:500], "binary")
    assert probe_auc(probe, x[500:], y[500:]) > 0.95
    noise = np.random.default_rng(3).integers(0, 2, size=1000)
    probe = fit_probe(x[:500], noise[:500], "binary")
    assert abs(probe_auc(probe, x[500:], noise[500:]) - 0.5) < 0.08


def test_multiclass_probe_matches_sklearn_ovr_macro():
    x, y = _blobs(600, 6, 4, 1.0, seed=4)
    probe = fit_probe(x[:400], y[:400], "multiclass")
    reference = _reference(x[:400], y[:400])
    proba = reference.predict_proba(x[400:])
    expected = roc_auc_score(y[400:], proba, multi_class="ovr", average="macro")
    assert probe_auc(probe, x[400:], y[400:]) == pytest.approx(expected, abs=1e-6)


def test_classes_unseen_by_probe_are_left_out():
    x, y = _blobs(600, 6, 4, 1.0, seed=5)
    seen = y[:400] != 3
    probe = fit_probe(x[:400][seen], y[:400][seen], "multiclass")
    np.testing.assert_array_equal(probe.classes_, [0, 1, 2])
    proba = probe.predict_proba(x[400:])
    expected = np.mean([roc_auc_score(y[400:] == c, proba[:, c]) for c in range(3)])
    assert probe_auc(probe, x[400:], y[400:]) == pytest.approx(expected, abs=1e-12)


def test_binary_probe_on_labels_it_did_not_see():
    x, y = _blobs(400, 4, 3, 1.0, seed=6)
    seen = y < 2
    probe = fit_probe(x[seen], y[seen], "binary")
    proba = probe.predict_proba(x)
    expected = np.mean([roc_auc_score(y == c, proba[:, c]) for c in range(2)])
    assert probe_auc(probe, x, y) == pytest.approx(expected, abs=1e-12)


def test_warm_start_converges_to_cold_fit_in_fewer_iterations():
    x, y = _blobs(800, 20, 3, 0.7, seed=7)
    drift = np.random.default_rng(8).normal(scale=0.05, size=x.shape).astype(np.float32)
    previous = fit_probe(x[:600], y[:600], "multiclass")
    cold = fit_probe(x[:600] + drift[:600], y[:600], "multiclass")
    warm = fit_probe(x[:600] + drift[:600], y[:600], "multiclass", warm_start=previous)
    assert warm[-1].warm_start and not cold[-1].warm_start
    held_out = x[600:] + drift[600:]
    cold_auc = probe_auc(cold, held_out, y[600:])
    assert probe_auc(warm, held_out, y[600:]) == pytest.approx(cold_auc, abs=1e-3)
    assert warm[-1].n_iter_[0] <= cold[-1].n_iter_[0]
    # The earlier probe is only read, never refitted.
    assert previous[-1].n_iter_[0] == fit_probe(x[:600], y[:600], "multiclass")[-1].n_iter_[0]


def test_warm_start_ignored_when_shapes_differ():
    x, y = _blobs(200, 5, 3, 1.0, seed=9)
    narrow = fit_probe(x[:, :4], y, "multiclass")
    assert not fit_probe(x, y, "multiclass", warm_start=narrow)[-1].warm_start
    two_class = fit_probe(x[y < 2], y[y < 2], "binary")
    assert not fit_probe(x, y, "multiclass", warm_start=two_class)[-1].warm_start
    ridge = fit_probe(x, y.astype(float), "continuous")
    assert not fit_probe(x, y, "multiclass", warm_start=ridge)[-1].warm_start
    assert isinstance(fit_probe(x, y.astype(float), "continuous", warm_start=ridge)[-1], Ridge)


def test_convergence_warning_is_silenced_but_others_are_not(monkeypatch):
    class Noisy(LogisticRegression):
        def fit(self, *args, **kwargs):
            warnings.warn("did not converge", ConvergenceWarning, stacklevel=2)
            warnings.warn("something else", UserWarning, stacklevel=2)
            return super().fit(*args, **kwargs)

    monkeypatch.setattr(probes, "LogisticRegression", Noisy)
    x, y = _blobs(100, 3, 2, 1.0, seed=10)
    with pytest.warns(UserWarning, match="something else"):
        fit_probe(x, y, "binary")


def test_r2_matches_sklearn():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(300, 5))
    t = x @ rng.normal(size=5) + 0.3 * rng.normal(size=300)
    probe = fit_probe(x[:200], t[:200], "continuous")
    reference = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x[:200], t[:200])
    expected = r2_score(t[200:], reference.predict(x[200:]))
    assert probe_r2(probe, x[200:], t[200:]) == pytest.approx(expected, abs=1e-9)
    assert expected > 0.8


def test_fit_probe_rejects_bad_input():
    x, y = _blobs(20, 3, 3, 1.0, seed=12)
    with pytest.raises(ValueError, match="kind must be one of .*; got 'ordinal'"):
        fit_probe(x, y, "ordinal")
    with pytest.raises(ValueError, match="features must be 2-D"):
        fit_probe(x[:, 0], y, "binary")
    with pytest.raises(ValueError, match=r"labels must be \(N,\) or \(N, 1\)"):
        fit_probe(x, np.zeros((20, 2)), "binary")
    with pytest.raises(ValueError, match="labels has 19 samples but features has 20"):
        fit_probe(x, y[:-1], "multiclass")
    with pytest.raises(ValueError, match="at least 2 samples; got 1"):
        fit_probe(x[:1], y[:1], "multiclass")
    with pytest.raises(ValueError, match="features must be finite"):
        fit_probe(np.where(x > 1, np.nan, x), y, "multiclass")
    with pytest.raises(ValueError, match=r"multiclass probe needs at least 2 classes; got \[1\]"):
        fit_probe(x, np.ones(20, int), "multiclass")
    with pytest.raises(ValueError, match=r"binary probe needs exactly 2 classes; got \[1\]"):
        fit_probe(x, np.ones(20, int), "binary")
    with pytest.raises(ValueError, match=r"exactly 2 classes; got \[0, 1, 2\]"):
        fit_probe(x, np.arange(20) % 3, "binary")
    with pytest.raises(ValueError, match="continuous targets must be finite"):
        fit_probe(x, np.full(20, np.nan), "continuous")


def test_scoring_rejects_bad_input():
    x, y = _blobs(40, 3, 2, 1.0, seed=13)
    classifier = fit_probe(x, y, "binary")
    regressor = fit_probe(x, y.astype(float), "continuous")
    with pytest.raises(ValueError, match="needs a classification probe; got Ridge"):
        probe_auc(regressor, x, y)
    with pytest.raises(ValueError, match="features has 2 columns but the probe was fitted on 3"):
        probe_auc(classifier, x[:, :2], y)
    with pytest.raises(ValueError, match=r"at least 2 classes in labels; got \[0\]"):
        probe_auc(classifier, x, np.zeros(40, int))
    with pytest.raises(ValueError, match="none of the classes"):
        probe_auc(classifier, x, np.arange(40) % 2 + 5)
    with pytest.raises(ValueError, match="targets must be finite"):
        probe_r2(regressor, x, np.full(40, np.inf))
    with pytest.raises(ValueError, match="features has 4 columns but the probe was fitted on 3"):
        probe_r2(regressor, np.ones((40, 4)), y)
