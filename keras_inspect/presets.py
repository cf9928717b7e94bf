"""Quantity names and the presets that bundle them, ordered by cost: light < standard < full."""

from __future__ import annotations

from collections.abc import Sequence

from keras_inspect.errors import ConfigError

__all__ = [
    "HEADLINE",
    "NEEDS_CLASSES",
    "NEEDS_CONTINUOUS",
    "NEEDS_GRADIENTS",
    "NEEDS_LABELS",
    "NEEDS_TRAIN",
    "NEEDS_TWO_DATASETS",
    "PRESETS",
    "QUANTITIES",
    "resolve_quantities",
]

_LIGHT = (
    "model_auc",
    "model_score_histogram",
    "neuron_mean",
    "neuron_std",
    "layer_std",
    "dead_fraction",
    "drift",
)
_STANDARD = (
    *_LIGHT,
    "correlation_matrix",
    "correlation_mean_abs",
    "probe_auc",
    "probe_r2",
    # One backward pass in the capture's compiled pass gives both.
    "feature_saliency",
    "filter_importance",
    # The probes' per-row features give both (linear CKA, Kornblith et al. 2019).
    "cka_gram",
    "cka_previous",
)
_FULL = (
    *_STANDARD,
    "input_saliency",
    "filter_clusters",
    "confusion_matrix",
    "entropy_label_given_pred",
    "entropy_pred_given_label",
    "entropy_intra",
    "entropy_inter",
    "channel_capacity",
    "projection",
    "weights_hinton",
    "feature_maps",
    "prediction_probs",
)

PRESETS: dict[str, tuple[str, ...]] = {
    "light": _LIGHT,
    "standard": _STANDARD,
    "full": _FULL,
}
QUANTITIES: tuple[str, ...] = PRESETS["full"]

NEEDS_LABELS = frozenset(
    {
        "model_auc",
        "probe_auc",
        "probe_r2",
        "confusion_matrix",
        "entropy_label_given_pred",
        "entropy_pred_given_label",
    }
)
NEEDS_CLASSES = frozenset(
    {
        "model_auc",
        "probe_auc",
        "confusion_matrix",
        "entropy_label_given_pred",
        "entropy_pred_given_label",
    }
)
NEEDS_CONTINUOUS = frozenset({"probe_r2"})
NEEDS_TRAIN = frozenset({"probe_auc", "probe_r2"})
# Compares each dataset with the reference one (``train``, else the first).
NEEDS_TWO_DATASETS = frozenset({"drift"})
# Computed from gradients of the capture pass (keras_inspect.gradients).
NEEDS_GRADIENTS = frozenset({"feature_saliency", "filter_importance", "input_saliency"})
# Values that are also written as native TensorBoard scalars, beside the loss curves.
HEADLINE = frozenset(
    {"model_auc", "probe_auc", "probe_r2", "correlation_mean_abs", "layer_std", "dead_fraction"}
)


def resolve_quantities(quantities: str | Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """Turn the ``quantities`` argument into quantity names.

    Args:
        quantities: a preset name or a list of quantity names.

    Returns:
        The names in cost order, and whether the user listed them explicitly (a quantity that
        does not apply to the model is then an error rather than silently left out).

    Raises:
        ConfigError: unknown preset or quantity name, or an empty list.

    Example:
        >>> resolve_quantities(["neuron_std", "model_auc"])
        (('model_auc', 'neuron_std'), True)
    """
    if isinstance(quantities, str):
        if quantities not in PRESETS:
            raise ConfigError(
                f"quantities={quantities!r} is not a preset; expected one of {sorted(PRESETS)} "
                f"or a list of quantity names from {list(QUANTITIES)}."
            )
        return PRESETS[quantities], False
    if not isinstance(quantities, Sequence) or not quantities:
        raise ConfigError(
            f"quantities must be a preset name or a non-empty list of names, got {quantities!r}. "
            f"Use e.g. quantities='standard' or quantities=['neuron_mean', 'probe_auc']."
        )
    unknown = [q for q in quantities if q not in QUANTITIES]
    if unknown:
        raise ConfigError(
            f"quantities contains unknown names {unknown}; known quantities are "
            f"{list(QUANTITIES)} (presets: {sorted(PRESETS)})."
        )
    chosen = set(quantities)
    return tuple(q for q in QUANTITIES if q in chosen), True
