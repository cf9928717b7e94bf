"""Linear probes (Guo et al. 2018): fitted on a layer's training-set output, scored everywhere."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from keras_inspect.quantities.blas import single_blas_thread
from keras_inspect.quantities.scores import binary_auc, model_auc

__all__ = ["fit_probe", "probe_auc", "probe_features", "probe_r2"]

KINDS = ("binary", "multiclass", "continuous")


def probe_features(acts: np.ndarray, max_features: int = 1024) -> np.ndarray:
    """Turns a layer's output into one feature row per sample.

    The output is flattened per sample. If that gives more than ``max_features`` columns and the
    output has positions (``ndim >= 3``: conv maps, sequences), it is averaged over the positions
    to ``(N, units)`` instead, which keeps probes cheap on conv layers at the cost of spatial
    detail; that average is returned even if ``units`` still exceeds ``max_features``.

    Args:
        acts: Layer output, sample axis first, unit axis last; ``(N,)`` is one feature.
        max_features: Largest flattened width kept without averaging; must be >= 1.

    Returns:
        A 2-D ``(N, F)`` array; floating inputs keep their dtype, others become float64.

    Raises:
        ValueError: If ``acts`` is 0-d or ``max_features < 1``.

    Example:
        >>> probe_features(np.ones((5, 32, 32, 8)), max_features=1024).shape
        (5, 8)
    """
    acts = np.asarray(acts)
    if acts.ndim == 0:
        raise ValueError("acts must have a sample axis; got a 0-d array, expected ndim >= 1")
    if max_features < 1:
        raise ValueError(f"max_features must be >= 1; got {max_features}")
    acts = acts if np.issubdtype(acts.dtype, np.floating) else acts.astype(np.float64)
    width = int(np.prod(acts.shape[1:], dtype=np.int64))
    if width > max_features and acts.ndim >= 3:
        return acts.mean(axis=tuple(range(1, acts.ndim - 1)), dtype=np.float64).astype(acts.dtype)
    return acts.reshape(acts.shape[0], width)


def _check_xy(x: np.ndarray, y: np.ndarray, real: bool = False) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), np.asarray(y)
    y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (N, F); got shape {x.shape}")
    if y.ndim != 1:
        raise ValueError(f"labels must be (N,) or (N, 1); got shape {y.shape}")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"labels has {y.shape[0]} samples but features has {x.shape[0]}")
    if x.shape[0] < 2:
        raise ValueError(f"a probe needs at least 2 samples; got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise ValueError("features must be finite; got NaN or infinity")
    if real:
        y = y.astype(np.float64)
        if not np.isfinite(y).all():
            raise ValueError("continuous targets must be finite; got NaN or infinity")
    return x, y


def _check_width(probe: Pipeline, features: np.ndarray) -> None:
    fitted = probe[0].n_features_in_
    if features.shape[1] != fitted:
        raise ValueError(
            f"features has {features.shape[1]} columns but the probe was fitted on {fitted}"
        )


def _warm_coefficients(warm_start: object, width: int, classes: np.ndarray):
    old = warm_start[-1] if isinstance(warm_start, Pipeline) else None
    fitted = isinstance(old, LogisticRegression) and hasattr(old, "coef_")
    if fitted and np.array_equal(old.classes_, classes) and old.coef_.shape[1] == width:
        return old.coef_.copy(), old.intercept_.copy()
    return None


def fit_probe(
    features: np.ndarray,
    labels: np.ndarray,
    kind: str,
    warm_start: Pipeline | None = None,
    seed: int = 0,
) -> Pipeline:
    """Fits a linear probe on a layer's features, with BLAS capped to one thread.

    Classifiers are ``StandardScaler`` + ``LogisticRegression(lbfgs, C=1, max_iter=200)``,
    regressors ``StandardScaler`` + ``Ridge(alpha=1)``. A fit that does not converge is kept and
    its ConvergenceWarning silenced: a probe is a diagnostic, not a deliverable.

    Args:
        features: ``(N, F)`` finite features, see :func:`probe_features`.
        labels: ``(N,)`` class labels (binary / multiclass) or real targets (continuous).
        kind: ``"binary"``, ``"multiclass"`` or ``"continuous"``.
        warm_start: An earlier probe of the same kind; its coefficients (in its own standardised
            space) start the new fit, so consecutive checkpoints converge faster. Silently
            ignored if its width or classes differ, and for continuous (closed-form) probes.
        seed: ``random_state`` of the final estimator.

    Returns:
        A fitted :class:`sklearn.pipeline.Pipeline`.

    Raises:
        ValueError: On bad shapes, non-finite values, unknown ``kind`` or wrong class count.

    Example:
        >>> x, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
        >>> fit_probe(x, y, "binary").predict(x).tolist()
        [0, 0, 1, 1]
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    features, labels = _check_xy(features, labels, real=kind == "continuous")
    if kind == "continuous":
        probe = Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=1.0))])
    else:
        classes = np.unique(labels)
        if classes.size < 2 or (kind == "binary" and classes.size > 2):
            expected = "exactly 2" if kind == "binary" else "at least 2"
            raise ValueError(f"a {kind} probe needs {expected} classes; got {classes.tolist()}")
        warm = _warm_coefficients(warm_start, features.shape[1], classes)
        clf = LogisticRegression(
            solver="lbfgs", C=1.0, max_iter=200, random_state=seed, warm_start=warm is not None
        )
        if warm is not None:
            clf.coef_, clf.intercept_ = warm
        probe = Pipeline([("scale", StandardScaler()), ("logreg", clf)])
    with single_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return probe.fit(features, labels)


def probe_auc(probe: Pipeline, features: np.ndarray, labels: np.ndarray) -> float:
    """AUC of a classification probe on one dataset.

    With two probe classes and labels drawn from them, the AUC uses the probability of
    ``probe.classes_[1]``. Otherwise it is the macro one-vs-rest AUC of
    :func:`keras_inspect.quantities.scores.model_auc`, columns mapped through ``probe.classes_``:
    classes the probe never saw are left out (their samples still count as negatives).

    Args:
        probe: A classification probe from :func:`fit_probe`.
        features: ``(N, F)`` features with the probe's width.
        labels: ``(N,)`` integer class labels.

    Returns:
        The AUC, in ``[0, 1]``.

    Raises:
        ValueError: On bad shapes, non-finite features, a regression probe or too few classes.

    Example:
        >>> x, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
        >>> probe_auc(fit_probe(x, y, "binary"), x, y)
        1.0
    """
    features, labels = _check_xy(features, labels)
    if not hasattr(probe, "predict_proba"):
        name = type(probe[-1] if isinstance(probe, Pipeline) else probe).__name__
        raise ValueError(f"probe_auc needs a classification probe; got {name} (use probe_r2)")
    _check_width(probe, features)
    present = np.unique(labels)
    if present.size < 2:
        raise ValueError(f"AUC needs at least 2 classes in labels; got {present.tolist()}")
    if probe.classes_.size == 2 and np.isin(present, probe.classes_).all():
        # The logistic function is monotone, so the AUC of the linear decision value equals
        # that of the probability; computed from the fitted parameters it skips scikit-learn's
        # per-call validation (about 1.5 ms of the 1.7 ms a predict_proba took here).
        # Scaling is folded into the weights and the constant offset dropped: AUC only needs
        # the order of the decision values.
        scaler, logreg = probe[0], probe[-1]
        weights = (logreg.coef_[0] / scaler.scale_).astype(features.dtype, copy=False)
        with single_blas_thread():
            decision = features @ weights
        return binary_auc(labels == probe.classes_[1], decision)
    with single_blas_thread():
        proba = probe.predict_proba(features)
    return model_auc(proba, labels, classes=probe.classes_)


def probe_r2(probe: Pipeline, features: np.ndarray, targets: np.ndarray) -> float:
    """Coefficient of determination R^2 of a probe's predictions (sklearn ``r2_score``).

    Args:
        probe: A continuous probe from :func:`fit_probe`.
        features: ``(N, F)`` features with the probe's width, ``N >= 2``.
        targets: ``(N,)`` real targets.

    Returns:
        R^2: 1 is perfect, 0 is no better than the mean, below 0 is worse.

    Raises:
        ValueError: On bad shapes or widths, or non-finite features or targets.

    Example:
        >>> x = np.arange(10.0)[:, None]
        >>> round(probe_r2(fit_probe(x, 2 * x[:, 0], "continuous"), x, 2 * x[:, 0]), 2)
        0.99
    """
    features, targets = _check_xy(features, targets, real=True)
    _check_width(probe, features)
    with single_blas_thread():
        predicted = probe.predict(features)
    return float(r2_score(targets, predicted))
