"""Does a dataset fit the model? Checked on two rows before the first epoch.

The input names and row shapes are compared with the model's ``keras.Input`` layers where it
has them; then two rows run through the model eagerly (:meth:`keras_inspect.capture.Capture.
probe`), and any error becomes a :class:`~keras_inspect.errors.ConfigError` that names the
dataset and quotes the informative line of the model's own message.
"""

from __future__ import annotations

import re

import keras

from keras_inspect.capture import Capture, Probe
from keras_inspect.datasets import Sample
from keras_inspect.errors import ConfigError

__all__ = ["check_input_shapes", "error_reason", "probe_forward"]


def probe_forward(capture: Capture, sample: Sample) -> Probe:
    """Run two rows of ``sample`` eagerly through the model (errors become ConfigError)."""
    shapes = keras.tree.map_structure(lambda a: tuple(a.shape), sample.x)
    expected = _input_names(capture.model)
    if isinstance(sample.x, dict) and expected and set(sample.x) != set(expected):
        raise ConfigError(
            f"datasets[{sample.name!r}] x has input names {sorted(sample.x)}, but model "
            f"{capture.model.name!r} expects {sorted(expected)}. Key the dict by the names of "
            "the model's keras.Input layers."
        )
    check_input_shapes(sample, capture.model)
    try:
        return capture.probe(sample.x)
    except ConfigError:
        raise
    except Exception as error:
        reason = error_reason(error)
        raise ConfigError(
            f"datasets[{sample.name!r}] does not fit model {capture.model.name!r}: running "
            f"its x (shapes {shapes}) through the model failed with {type(error).__name__}: "
            f"{reason}. Pass x in the structure and shapes used for model.fit."
        ) from error


def check_input_shapes(sample: Sample, model: keras.Model) -> None:
    """Compare each input array's row shape with the model's ``Input`` (where it has one)."""
    try:
        inputs = list(model.inputs)
    except (AttributeError, TypeError, ValueError):
        return  # subclassed: the forward pass is the only check
    if isinstance(sample.x, dict):
        pairs = [(t.name, sample.x.get(t.name), t) for t in inputs]
    elif isinstance(sample.x, list):
        pairs = [(t.name, a, t) for t, a in zip(inputs, sample.x, strict=False)]
    else:
        pairs = [(inputs[0].name, sample.x, inputs[0])] if len(inputs) == 1 else []
    for name, array, tensor in pairs:
        if array is None:
            continue
        expected = tuple(tensor.shape[1:])
        got = tuple(array.shape[1:])
        fits = len(got) == len(expected) and all(
            e is None or e == g for e, g in zip(expected, got, strict=True)
        )
        if not fits:
            which = "x" if len(inputs) == 1 else f"input {name!r}"
            raise ConfigError(
                f"datasets[{sample.name!r}] {which} has rows of shape {got}, but model "
                f"{model.name!r} expects {expected} (None = any). Pass x as given to model.fit."
            )


def error_reason(error: Exception) -> str:
    """The informative line of a (possibly traced) Keras error message."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "expected" in line or "incompatible" in line:
            return line[:300]
    return lines[-1][:300] if lines else type(error).__name__


def _input_names(model: keras.Model) -> list[str]:
    try:
        return [tensor.name for tensor in model.inputs]
    except (AttributeError, TypeError, ValueError):
        return []  # subclassed models have no symbolic inputs
