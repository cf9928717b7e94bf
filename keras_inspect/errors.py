"""Exceptions raised by keras_inspect.

Every error the library raises on purpose derives from one base class, so callers can catch them
all at once::

    InspectError
    ├── ConfigError (also ValueError)       bad argument, caught before the first epoch
    ├── QuantityError (also RuntimeError)   a quantity could not be computed at a checkpoint
    └── DegenerateValue (also ValueError)   a quantity has no value on this data (statistics
                                            that overflow, a non-finite gradient)

A :class:`ConfigError` message names the argument, what was received, what was expected and how to
fix it. A :class:`QuantityError` is normally reported as a warning and the quantity skipped; it only
propagates with ``strict=True``.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DegenerateValue", "InspectError", "QuantityError"]


class InspectError(Exception):
    """Base class of every error raised by keras_inspect."""


class ConfigError(InspectError, ValueError):
    """An argument of the callback (or of ``ki.load``) is invalid."""


class QuantityError(InspectError, RuntimeError):
    """A quantity could not be computed for a (dataset, layer) at a checkpoint."""


class DegenerateValue(InspectError, ValueError):
    """A quantity has no value on this checkpoint's data: activations whose statistics overflow
    (a diverging training), a non-finite gradient. Reported once per cause for the whole run,
    not once per layer and dataset: when it happens it usually happens everywhere at once."""
