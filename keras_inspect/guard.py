"""Failure isolation: a quantity that raises is reported once and skipped, training goes on."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from keras_inspect.errors import QuantityError

__all__ = ["Guard", "InspectWarning", "LeftOutWarning", "say_left_out"]


class InspectWarning(UserWarning):
    """A quantity failed or found something worth telling (non-finite activations)."""


class LeftOutWarning(InspectWarning):
    """A preset leaves a quantity (or some of its layers or datasets) out: why, and the fix.

    Said once, when the callback binds to the model, as a warning that Python's default
    filters show (``logging`` INFO is not shown by default). Silence it with
    ``warnings.filterwarnings("ignore", category=keras_inspect.LeftOutWarning)``.
    """


def say_left_out(message: str) -> None:
    """Warn with a :class:`LeftOutWarning` (``message`` starts after "keras_inspect: ")."""
    warnings.warn(f"keras_inspect: {message}", LeftOutWarning, stacklevel=2)


class Guard:
    """Runs quantities so that a failure is reported once and never stops training.

    Args:
        strict: re-raise failures (for tests) instead of warning and skipping.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.reported: set[tuple[str, str, str]] = set()

    @contextmanager
    def running(self, quantity: str, dataset: str = "", layer: str = "") -> Iterator[None]:
        """Context in which ``quantity`` for (dataset, layer) is computed."""
        try:
            yield
        except Exception as error:
            if self.strict:
                raise QuantityError(
                    f"{quantity} failed for dataset {dataset!r}, layer {layer!r}: {error}"
                ) from error
            self.warn_once(
                (quantity, dataset, layer),
                f"keras_inspect: {quantity} failed for dataset {dataset!r}, layer {layer!r} "
                f"and is skipped ({type(error).__name__}: {error}). Training goes on; further "
                "failures of the same quantity here are not reported.",
            )

    def warn_once(self, key: tuple[str, str, str], message: str) -> None:
        """Emit ``message`` as an :class:`InspectWarning` the first time ``key`` is seen."""
        if key not in self.reported:
            self.reported.add(key)
            warnings.warn(message, InspectWarning, stacklevel=3)
