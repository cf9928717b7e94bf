"""Failure isolation: a quantity that raises is reported once and skipped, training goes on.

File-system failures (``OSError``) are not a quantity's: they pass through
:meth:`Guard.running` when asked to (``passes``) and are reported once per cause by whoever
writes (:mod:`keras_inspect.sink`), with :func:`os_error_cause` naming the cause.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import sysconfig
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from keras_inspect.errors import DegenerateValue, QuantityError

__all__ = [
    "Guard",
    "InspectWarning",
    "LeftOutWarning",
    "os_error_cause",
    "say_left_out",
    "say_os_error_once",
    "user_stacklevel",
]


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
    warnings.warn(f"keras_inspect: {message}", LeftOutWarning, stacklevel=user_stacklevel())


# Where Python, the installed packages and this package live: frames there are not the user's.
_LIBRARIES = tuple(
    {
        os.path.dirname(os.path.abspath(__file__)) + os.sep,
        *(
            os.path.abspath(path) + os.sep
            for name in ("stdlib", "platstdlib", "purelib", "platlib")
            if (path := sysconfig.get_paths().get(name))
        ),
    }
)


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning of the calling function point at the user's
    code (the line that called ``fit``, or ``record``): the first frame outside keras_inspect,
    Keras, the framework and the standard library. On a background thread, where no frame is
    the user's, the line of keras_inspect that ran the failing work (not this module, nor
    ``contextlib``, through which :meth:`Guard.running` exits).
    """
    frame = sys._getframe(2)  # the caller of the function that warns: stacklevel 2
    level, ours = 2, None
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_LIBRARIES) and not filename.startswith("<"):
            return level
        if ours is None and filename != __file__ and filename != contextlib.__file__:
            ours = level
        frame = frame.f_back
        level += 1
    return ours or 2


class Guard:
    """Runs quantities so that a failure is reported once and never stops training.

    Args:
        strict: re-raise failures (for tests) instead of warning and skipping.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.reported: set[tuple[str, str, str]] = set()

    @contextmanager
    def running(
        self,
        quantity: str,
        dataset: str = "",
        layer: str = "",
        passes: tuple[type[BaseException], ...] = (),
    ) -> Iterator[None]:
        """Context in which ``quantity`` for (dataset, layer) is computed.

        Exceptions of the types in ``passes`` are not the quantity's: they go through.
        """
        try:
            yield
        except passes:
            raise
        except Exception as error:
            if self.strict:
                raise QuantityError(
                    f"{quantity} failed for dataset {dataset!r}, layer {layer!r}: {error}"
                ) from error
            if isinstance(error, DegenerateValue):
                # A diverging training makes every layer overflow at once: one word for all.
                self.warn_once(
                    ("degenerate", type(error).__name__, ""),
                    f"keras_inspect: {quantity} of dataset {dataset!r}, layer {layer!r} has no "
                    f"value and is skipped ({error}). Training goes on; other quantities, "
                    "layers and datasets where this happens are skipped without another word.",
                )
                return
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
            warnings.warn(message, InspectWarning, stacklevel=user_stacklevel())


def os_error_cause(error: BaseException) -> tuple[str, str]:
    """What went wrong with the file system: (a short key for "said once", words for people).

    The key is the errno's name (``ENOSPC``), ``not a folder`` for a path that should be a
    folder but is a file, or the exception's type when it carries no errno.

    Example:
        >>> os_error_cause(OSError(errno.ENOSPC, "No space left on device"))
        ('ENOSPC', 'no space left on device (ENOSPC)')
    """
    code = getattr(error, "errno", None)
    where = getattr(error, "filename", None)
    if code in (errno.EEXIST, errno.ENOTDIR) and where is not None:
        # os.makedirs(<log_dir>/inspect) where a file stands: "File exists" says too little.
        return "not a folder", f"{where} (or a folder above it) is a file, not a folder"
    if isinstance(code, int) and code in errno.errorcode:
        name = errno.errorcode[code]
        text = os.strerror(code)
        text = text[:1].lower() + text[1:]
        return name, f"{text} ({name})" + (f": {where}" if where is not None else "")
    return type(error).__name__, f"{type(error).__name__}: {error}"


def say_os_error_once(error: OSError, thread: str, said: set[str]) -> None:
    """Warn that work on a background ``thread`` stopped at ``error``, once per cause.

    The last line of defence of the worker and the slow lanes: writing reports its own
    failures (:mod:`keras_inspect.sink`), so this only speaks for an ``OSError`` that came
    from elsewhere in their work. ``said`` holds the causes already told.
    """
    key, cause = os_error_cause(error)
    if key in said:
        return
    said.add(key)
    warnings.warn(
        f"keras_inspect: work on the {thread!r} thread stopped at a file-system error ({cause}) "
        "and the rest of that checkpoint's work there is skipped. Training goes on and the "
        "next checkpoint is processed; later errors of this kind are not reported.",
        InspectWarning,
        stacklevel=2,
    )
