"""What applies to a model, decided when the callback binds; what is left out is said once.

Each function takes the quantities wanted and returns those that apply (or the layers, pairs
and rows they apply to). What a preset leaves out is said with a
:class:`~keras_inspect.guard.LeftOutWarning` (the reason and the fix); a quantity the user
listed that cannot apply is a :class:`~keras_inspect.errors.ConfigError` instead.
"""

from __future__ import annotations

import keras
import numpy as np

from keras_inspect.capture import Capture, Probe
from keras_inspect.checkpoint_maps import MIN_CAPACITY_ROWS, rows_wanted
from keras_inspect.config import drop
from keras_inspect.datasets import Sample
from keras_inspect.errors import ConfigError
from keras_inspect.feature_groups import FeatureGroup
from keras_inspect.guard import say_left_out
from keras_inspect.layout import CKA_ROWS, GRAM_BYTES
from keras_inspect.quantities import entropy

__all__ = [
    "capacity_pairs",
    "drop_quantities",
    "output_layers_left_out",
    "rows_of_maps",
    "within_gram_budget",
    "without_gradient_path",
    "without_inputs_or_maps",
]

_CORRELATIONS = frozenset({"correlation_matrix", "correlation_mean_abs"})


def rows_of_maps(
    capture: Capture,
    samples: dict[str, Sample],
    quantities: tuple[str, ...],
    explicit: bool,
    model: keras.Model,
) -> tuple[tuple[str, ...], dict[str, int]]:
    """First rows of each dataset the maps pass holds, within the capture's memory budget."""
    wanted = rows_wanted(quantities)
    if not wanted:
        return quantities, dict.fromkeys(samples, 0)
    rows = {name: capture.map_rows(min(len(s), wanted)) for name, s in samples.items()}
    budget = capture.map_rows(wanted)
    if budget < wanted and any(len(s) > budget for s in samples.values()):
        say_left_out(
            f"the feature maps of model {model.name!r} are large: entropies, clusters and "
            f"channel capacity use the first {budget} rows of each dataset (the memory budget "
            f"of whole feature maps), not up to {wanted}; pass smaller inputs or fewer layers= "
            "for more rows."
        )
    needs = {
        "entropy_inter": entropy.DEFAULT_K + 1,
        "channel_capacity": MIN_CAPACITY_ROWS,
    }
    for quantity, least in needs.items():
        if quantity in quantities and budget < least:
            quantities = drop_quantities(
                quantities,
                {quantity},
                explicit,
                f"the feature maps of model {model.name!r} are so large that only {budget} rows "
                f"fit the memory budget of whole feature maps, and {quantity} needs {least}",
            )
    return quantities, rows


def without_inputs_or_maps(
    capture: Capture,
    samples: dict[str, Sample],
    layers: list,
    quantities: tuple[str, ...],
    explicit: bool,
    model: keras.Model,
) -> tuple[str, ...]:
    """Leave out input saliency for a model without float inputs, and the intra-sample
    entropy when no inspected layer has feature maps (said, or an error when listed)."""
    if "input_saliency" in quantities:
        leaves = keras.tree.flatten(next(iter(samples.values())).x)
        if not any(np.issubdtype(np.asarray(leaf).dtype, np.floating) for leaf in leaves):
            quantities = drop_quantities(
                quantities,
                {"input_saliency"},
                explicit,
                f"every input of model {model.name!r} is integer ids, which have no gradient "
                "(feature_saliency covers them through their Embedding layers)",
            )
    maps = [layer.name for layer in layers if len(capture.shapes[layer.name]) >= 2]
    if "entropy_intra" in quantities and not maps:
        quantities = drop_quantities(
            quantities,
            {"entropy_intra"},
            explicit,
            "no inspected layer has feature maps (positions x channels: a convolutional or "
            "sequence output) to take the entropy of; name such layers in layers=",
        )
    return quantities


def drop_quantities(
    quantities: tuple[str, ...], names, explicit: bool, reason: str
) -> tuple[str, ...]:
    """``quantities`` without ``names`` (said once), or a ConfigError when ``explicit``."""
    return tuple(drop(list(quantities), frozenset(names), explicit, reason))


def capacity_pairs(
    shapes: dict[str, tuple[int, ...]], layers: list, wanted: tuple | None, model: keras.Model
) -> list[tuple[str, str]]:
    """The layer pairs of channel_capacity: checked ones from the user, or the defaults."""
    maps = [layer.name for layer in layers if len(shapes[layer.name]) >= 2]
    if wanted is None:
        return list(zip(maps, maps[1:], strict=False))
    inspected = [layer.name for layer in layers]
    for a, b in wanted:
        for name in (a, b):
            if name not in inspected:
                raise ConfigError(
                    f"layer_pairs names {name!r}, which is not an inspected layer of model "
                    f"{model.name!r} ({inspected}); add it to layers= or fix the name."
                )
            if name not in maps:
                raise ConfigError(
                    f"layer_pairs pair ({a!r}, {b!r}): layer {name!r} has outputs of shape "
                    f"{tuple(shapes[name])}, without positions to compare feature maps over; "
                    f"channel capacity needs convolutional or sequence layers such as "
                    f"{maps or 'Conv2D'}."
                )
    return list(wanted)


def output_layers_left_out(probe: Probe, quantities: tuple[str, ...]) -> frozenset[str]:
    """Inspected layers whose output is the scored output, and what they get none of (said).

    Their filter importance: the objective is their own largest unit, so d objective /
    d pre-activation ranks the classes' share in that one unit's softmax, not what the network
    computes (for two classes both units get the same value by construction), and a
    single-unit output has nothing to rank. TSViz ranks the filters of the layers that lead to
    the output. Their dead fraction: their units are the model's scores (sigmoid, softmax or
    linear), not ReLU-like units that can stop firing, so "never active" says nothing about
    them. A layer of one unit also gets no correlations (a unit's correlation with itself is 1).
    """
    outputs = sorted(probe.output_layers)
    single = sorted(name for name in probe.shapes if probe.shapes[name][-1:] == (1,))
    wide = [name for name in outputs if name not in single]
    said = []
    if "filter_importance" in quantities and wide:
        said.append(
            f"filter_importance leaves out layers {wide}: their output is the scored output "
            "itself, so the importance of their units measures the softmax, not the network "
            "(it is recorded for the layers before them)."
        )
    if "dead_fraction" in quantities and outputs:
        said.append(
            f"dead_fraction leaves out the output layers {outputs}: their units are the "
            "model's scores, not ReLU-like units that can stop firing."
        )
    if set(quantities) & _CORRELATIONS and single:
        said.append(
            f"correlation_matrix and correlation_mean_abs leave out one-unit layers {single}: "
            "a unit's correlation with itself is 1."
        )
    if said:
        say_left_out(" ".join(said))
    return frozenset(outputs)


def without_gradient_path(
    probe: Probe, groups: list[FeatureGroup], explicit: bool
) -> frozenset[str]:
    """Layers and group sources that the scored output does not depend on.

    Their gradient quantities are left out (said once in the log); when the user named both
    the layers and the quantities it is a configuration error instead.
    """
    missing = probe.no_gradient
    if not missing:
        return missing
    layers = sorted(name for name in missing if name in probe.shapes)
    sources = sorted(g.name for g in groups if g.key in missing)
    what = (f"layers {layers}" if layers else "") + (
        f"{' and ' if layers else ''}feature groups {sources}" if sources else ""
    )
    reason = (
        f"the scored model output does not depend on {what} (they feed another output, or "
        "nothing), so they have no gradient"
    )
    if explicit:
        raise ConfigError(
            f"{reason}. Leave them out of layers= and feature_groups=, or score the output "
            "they feed with output=."
        )
    say_left_out(
        f"gradient quantities leave out {what}: {reason}. Score the output they feed with "
        "output= to get them."
    )
    return missing


def within_gram_budget(
    quantities: tuple[str, ...], layers: list, explicit: bool, budget: int = GRAM_BYTES
) -> tuple[str, ...]:
    """A preset's ``cka_gram``, left out (said once) when the inspected layers' Gram matrices
    would pass ``budget`` bytes a checkpoint; a user who lists it gets every layer's."""
    if "cka_gram" not in quantities or explicit:
        return quantities
    per_layer = 2 * CKA_ROWS**2  # float16
    if per_layer * len(layers) <= budget:
        return quantities
    say_left_out(
        f"leaving out ['cka_gram'] because the {len(layers)} inspected layers' Gram matrices "
        f"({per_layer // 1024} KiB each) would pass {budget // 2**20} MiB a checkpoint; "
        "cka_previous is kept for every layer. List 'cka_gram' in quantities= (or inspect "
        "fewer layers with layers=) to record them and compare runs layer by layer."
    )
    return tuple(q for q in quantities if q != "cka_gram")
