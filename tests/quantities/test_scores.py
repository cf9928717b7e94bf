from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from keras_inspect.quantities.scores import binary_auc, model_auc, score_histogram


@pytest.fixture
def binary() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=300)
    scores = 1 / (1 + np.exp(-(labels + rng.normal(size=300))))
    return scores, labels


@pytest.fixture
def multiclass() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=400)
    logits = rng.normal(size=(400, 4))
    logits[np.arange(400), labels] += 1.0
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return proba, labels


def test_binary_auc_matches_sklearn(binary):
    scores, labels = binary
    expected = roc_auc_score(labels, scores)
    assert model_auc(scores, labels) == pytest.approx(expected, abs=1e-12)
    assert model_auc(scores[:, None], labels[:, None]) == pytest.approx(expected, abs=1e-12)
    assert model_auc(scores, labels.astype(np.float32)) == pytest.approx(expected, abs=1e-12)


def test_multiclass_auc_matches_sklearn_ovr_macro(multiclass):
    proba, labels = multiclass
    expected = roc_auc_score(labels, proba, multi_class="ovr", average="macro")
    assert model_auc(proba, labels) == pytest.approx(expected, abs=1e-12)


def test_multiclass_auc_leaves_absent_classes_out(multiclass):
    proba, labels = multiclass
    keep = labels != 2
    expected = np.mean([roc_auc_score(labels[keep] == c, proba[keep, c]) for c in (0, 1, 3)])
    assert model_auc(proba[keep], labels[keep]) == pytest.approx(expected, abs=1e-12)


def test_classes_map_columns(multiclass):
    proba, labels = multiclass
    relabelled = np.array([10, 20, 30, 40])[labels]
    assert model_auc(proba, relabelled, classes=[10, 20, 30, 40]) == pytest.approx(
        model_auc(proba, labels), abs=1e-12
    )


def test_model_auc_rejects_bad_input(binary, multiclass):
    scores, labels = binary
    proba, mlabels = multiclass
    with pytest.raises(ValueError, match="at least 2 classes"):
        model_auc(scores, np.ones_like(labels))
    with pytest.raises(ValueError, match="ndim=3"):
        model_auc(np.zeros((2, 2, 2)), labels[:2])
    with pytest.raises(ValueError, match="labels has 299 samples but scores has 300"):
        model_auc(scores, labels[:-1])
    with pytest.raises(ValueError, match="labels must be"):
        model_auc(scores, np.zeros((300, 2)))
    with pytest.raises(ValueError, match="non-integral"):
        model_auc(scores, labels + 0.5)
    with pytest.raises(ValueError, match=r"labels in \{0, 1\}; got \[0, 1, 2\]"):
        model_auc(scores, np.arange(300) % 3)
    with pytest.raises(ValueError, match="must be finite"):
        model_auc(np.where(labels == 0, np.nan, scores), labels)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.3 for 4 score columns"):
        model_auc(proba, mlabels + 1)
    with pytest.raises(ValueError, match="classes is only allowed"):
        model_auc(scores, labels, classes=[0, 1])
    with pytest.raises(ValueError, match=r"classes must have shape \(4,\)"):
        model_auc(proba, mlabels, classes=[0, 1])
    with pytest.raises(ValueError, match="none of the classes"):
        model_auc(proba, mlabels, classes=[7, 8, 9, 11])
    with pytest.raises(ValueError, match="must be numeric"):
        model_auc(scores, labels.astype(str))


def _check_histogram(hist: np.ndarray, values: np.ndarray, edges: np.ndarray) -> None:
    np.testing.assert_array_equal(hist[:, 0], edges[:-1])
    np.testing.assert_array_equal(hist[:, 1], edges[1:])
    widths = hist[:, 1] - hist[:, 0]
    assert np.sum(hist[:, 2] * widths) == pytest.approx(1.0)
    counts, _ = np.histogram(values, bins=edges)
    np.testing.assert_allclose(hist[:, 2] * widths * values.size, counts, atol=1e-9)


def test_binary_histogram_split_by_label(binary):
    scores, labels = binary
    hist = score_histogram(scores, labels, bins=25)
    assert list(hist) == ["0", "1"]
    edges = np.histogram_bin_edges(scores, bins=25)
    for key, hist_k in hist.items():
        assert hist_k.shape == (25, 3)
        assert hist_k.dtype == np.float64
        _check_histogram(hist_k, scores[labels == int(key)], edges)


def test_multiclass_histogram_uses_true_class_probability(multiclass):
    proba, labels = multiclass
    hist = score_histogram(proba, labels)
    assert list(hist) == ["0", "1", "2", "3"]
    true_p = proba[np.arange(labels.size), labels]
    edges = np.histogram_bin_edges(true_p, bins=40)
    for key, hist_k in hist.items():
        _check_histogram(hist_k, true_p[labels == int(key)], edges)


def test_histogram_without_class_labels(binary, multiclass):
    scores, labels = binary
    for unlabelled in (None, labels + np.linspace(0.1, 0.2, labels.size)):
        hist = score_histogram(scores, unlabelled, bins=10)
        assert list(hist) == ["all"]
        _check_histogram(hist["all"], scores, np.histogram_bin_edges(scores, bins=10))
    proba, _ = multiclass
    hist = score_histogram(proba, None, bins=10)
    top = proba.max(axis=1)
    _check_histogram(hist["all"], top, np.histogram_bin_edges(top, bins=10))


def test_histogram_of_equal_scores_uses_small_interval():
    hist = score_histogram(np.full(5, 0.5), np.array([0, 0, 1, 1, 1]), bins=4)
    assert hist["0"][0, 0] == pytest.approx(0.499)
    assert hist["0"][-1, 1] == pytest.approx(0.501)
    for hist_k in hist.values():
        assert np.sum(hist_k[:, 2] * (hist_k[:, 1] - hist_k[:, 0])) == pytest.approx(1.0)


def test_histogram_rejects_bad_input(binary, multiclass):
    scores, labels = binary
    proba, mlabels = multiclass
    with pytest.raises(ValueError, match="bins must be an integer >= 1; got 0"):
        score_histogram(scores, labels, bins=0)
    with pytest.raises(ValueError, match="bins must be an integer >= 1; got 2.5"):
        score_histogram(scores, labels, bins=2.5)
    with pytest.raises(ValueError, match="must be finite"):
        score_histogram(np.array([0.1, np.inf]), None)
    with pytest.raises(ValueError, match="at least one sample"):
        score_histogram(np.zeros(0), None)
    with pytest.raises(ValueError, match="continuous labels need"):
        score_histogram(proba, mlabels + 0.5)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.3"):
        score_histogram(proba, mlabels - 1)
    with pytest.raises(ValueError, match="labels has 3 samples"):
        score_histogram(scores, labels[:3])


@pytest.mark.parametrize("seed", range(5))
def test_binary_auc_equals_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    positive = rng.random(300) < 0.1 + 0.1 * seed
    scores = np.round(rng.normal(size=300) + positive, 1)  # rounding makes many ties
    assert binary_auc(positive, scores) == pytest.approx(roc_auc_score(positive, scores), abs=1e-12)


def test_binary_auc_needs_both_classes():
    with pytest.raises(ValueError, match="0 positives and 3 negatives"):
        binary_auc(np.zeros(3, bool), np.arange(3.0))
