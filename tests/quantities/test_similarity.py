from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import ortho_group

from keras_inspect.errors import DegenerateValue
from keras_inspect.quantities.similarity import centred_gram, drift_effect, gram_cka, linear_cka


def brute_force_cka(x, y):
    """Kornblith et al. (2019), eq. 1-2 with linear kernels, written out literally."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, lg = x @ x.T, y @ y.T

    def hsic(a, b):
        return np.trace(a @ h @ b @ h) / (n - 1) ** 2

    return hsic(k, lg) / np.sqrt(hsic(k, k) * hsic(lg, lg))


def brute_force_unbiased_hsic(k, lg):
    """Song et al. (2012): the U-statistic over ordered 4-tuples of distinct rows."""
    n = len(k)
    total = 0.0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += k[i, j] * lg[i, j] + k[i, j] * lg[q, r] - 2 * k[i, j] * lg[i, q]
    return total / (n * (n - 1) * (n - 2) * (n - 3))


def related(rng, n=60, p=7, q=5):
    x = rng.normal(size=(n, p)) + 3.0
    y = np.tanh(x @ rng.normal(size=(p, q))) + 0.5 * rng.normal(size=(n, q))
    return x, y


def test_matches_the_papers_formula_written_out():
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = related(rng)
        assert linear_cka(x, y) == pytest.approx(brute_force_cka(x, y), abs=1e-12)


def test_gram_form_equals_the_feature_form():
    rng = np.random.default_rng(1)
    x, y = related(rng, p=40, q=3)
    xc, yc = x - x.mean(0), y - y.mean(0)
    feature_form = np.linalg.norm(yc.T @ xc) ** 2 / (
        np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)
    )
    assert gram_cka(centred_gram(x), centred_gram(y)) == pytest.approx(feature_form, abs=1e-12)


def test_a_layer_with_itself_is_one_and_float16_storage_stays_close():
    rng = np.random.default_rng(2)
    x, y = related(rng, n=256, p=64, q=32)
    gram = centred_gram(x)
    assert gram_cka(gram, gram) == pytest.approx(1.0, abs=1e-12)
    stored_x, stored_y = gram.astype(np.float16), centred_gram(y).astype(np.float16)
    assert np.isfinite(stored_x).all()
    assert gram_cka(stored_x, stored_x) == pytest.approx(1.0, abs=1e-6)
    assert gram_cka(stored_x, stored_y) == pytest.approx(linear_cka(x, y), abs=2e-3)


def test_invariant_to_orthogonal_transforms_and_isotropic_scaling():
    rng = np.random.default_rng(3)
    x, y = related(rng, p=6, q=4)
    base = linear_cka(x, y)
    rotation = ortho_group.rvs(6, random_state=4)
    assert linear_cka(x @ rotation, y) == pytest.approx(base, abs=1e-12)
    assert linear_cka(x, 250.0 * y) == pytest.approx(base, abs=1e-12)
    assert linear_cka(x @ rotation * 1e-3, y + 7.0) == pytest.approx(base, abs=1e-12)
    # ... but not to a general invertible linear map (the paper's point against CCA).
    stretch = np.diag([1.0, 10.0, 1.0, 0.1, 1.0, 1.0])
    assert abs(linear_cka(x @ stretch, y) - base) > 1e-3


def test_a_large_activation_scale_fits_float16_once_normalised():
    x = np.random.default_rng(5).normal(size=(32, 8)) * 1e6
    gram = centred_gram(x)
    assert np.linalg.norm(gram) == pytest.approx(1.0)
    assert np.isfinite(gram.astype(np.float16)).all()
    np.testing.assert_allclose(gram.sum(axis=0), 0.0, atol=1e-12)


def test_unrelated_wide_layers_score_above_zero_but_debiased_near_zero():
    # The bias the docstring warns about: independent 256-wide features on 256 rows.
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(256, 256)), rng.normal(size=(256, 256))
    assert 0.4 < linear_cka(x, y) < 0.6
    assert abs(linear_cka(x, y, debiased=True)) < 0.02


def test_debiased_matches_the_u_statistic():
    rng = np.random.default_rng(7)
    x, y = related(rng, n=9, p=3, q=2)
    k, lg = x @ x.T, y @ y.T
    want = brute_force_unbiased_hsic(k, lg) / np.sqrt(
        brute_force_unbiased_hsic(k, k) * brute_force_unbiased_hsic(lg, lg)
    )
    assert linear_cka(x, y, debiased=True) == pytest.approx(want, abs=1e-10)


def test_refuses_different_rows_and_constant_features():
    with pytest.raises(ValueError, match="same rows"):
        linear_cka(np.ones((5, 2)), np.ones((6, 2)))
    with pytest.raises(ValueError, match="same rows"):
        gram_cka(np.eye(3), np.eye(4))
    with pytest.raises(DegenerateValue, match="same features"):
        centred_gram(np.ones((5, 3)))
    with pytest.raises(ValueError, match="not finite"):
        centred_gram(np.array([[0.0], [np.nan]]))


def test_drift_is_near_zero_for_a_second_sample_and_the_shift_otherwise():
    rng = np.random.default_rng(8)
    mix = rng.normal(size=(10, 10))
    ref = np.maximum(rng.normal(size=(2048, 10)) @ mix, 0)
    same = np.maximum(rng.normal(size=(512, 10)) @ mix, 0)
    shifted = np.maximum((rng.normal(size=(512, 10)) + 0.8) @ mix, 0)

    def effect(rows):
        return drift_effect(rows.mean(0), rows.std(0), len(rows), ref.mean(0), ref.std(0), len(ref))

    assert effect(same) < 0.05
    assert effect(shifted) > 0.3
    # Against the definition written out on one unit with huge samples.
    assert drift_effect([2.0], [1.0], 1e12, [1.0], [3.0], 1e12) == pytest.approx(
        1.0 / np.sqrt(5.0), rel=1e-9
    )


def test_drift_leaves_out_units_constant_on_both_datasets():
    value = drift_effect([0.0, 1.0], [0.0, 1.0], 1e12, [0.0, 0.0], [0.0, 1.0], 1e12)
    assert value == pytest.approx(1.0, rel=1e-9)
    assert drift_effect([0.0], [0.0], 10, [0.0], [0.0], 10) == 0.0  # a dead layer
    with pytest.raises(DegenerateValue, match="other values"):
        drift_effect([1.0], [0.0], 10, [0.0], [0.0], 10)
    with pytest.raises(ValueError, match="same units"):
        drift_effect([0.0, 1.0], [1.0, 1.0], 10, [0.0], [1.0], 10)
