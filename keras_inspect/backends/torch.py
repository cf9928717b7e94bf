"""PyTorch implementation of the backend functions (see :mod:`keras_inspect.backends`).

Everything runs eagerly: ``torch.compile`` takes about a minute on a small MLP and fails on
small CNNs, which is not a price an inspection pass can pay. Forward-only passes run under
``torch.no_grad()`` (no autograd graph is kept); gradient passes under ``torch.enable_grad()``
with ``torch.autograd.grad``, whose ``allow_unused`` says which taps have no path to the
objective. Nothing is traced, so any row count works (:data:`FIXED_ROWS` is false).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import torch

__all__ = [
    "FIXED_ROWS",
    "all_equal",
    "compile_function",
    "compile_gradient_function",
    "process_count",
    "process_index",
    "spans_processes",
    "to_numpy",
]

FIXED_ROWS = False


def _tensors(x: Any) -> Any:
    return keras.tree.map_structure(keras.ops.convert_to_tensor, x)


def compile_function(
    fn: Callable[[Any], Any], example: Any, variables: list, compiled: bool
) -> Callable[[Any], Any]:
    """``fn`` run eagerly without autograd."""

    def run(x: Any) -> Any:
        with torch.no_grad():
            return fn(_tensors(x))

    return run


def compile_gradient_function(
    fn: Callable, example: Any, reduce: Callable, variables: list, compiled: bool
) -> Callable:
    """See :func:`keras_inspect.backends.compile_gradient_function`.

    A tapped tensor that autograd does not track yet (a model input, the output of a frozen
    part of the model) is detached and made a leaf that requires a gradient, so that what
    follows it is recorded.
    """

    def run(x: Any) -> Any:
        tapped: dict[str, Any] = {}

        def tap(key: str, tensor: Any) -> Any:
            tensor = keras.ops.convert_to_tensor(tensor)
            if not tensor.dtype.is_floating_point or key in tapped:
                return tensor
            if not tensor.requires_grad:
                tensor = tensor.detach().requires_grad_(True)
            tapped[key] = tensor
            return tensor

        with torch.enable_grad():
            goal, outputs = fn(_tensors(x), tap)
            keys = list(tapped)
            found = (
                torch.autograd.grad(goal, [tapped[k] for k in keys], allow_unused=True)
                if keys and goal.requires_grad
                else [None] * len(keys)
            )
        with torch.no_grad():
            return reduce(outputs, dict(zip(keys, found, strict=True)))

    return run


def to_numpy(tensor: Any) -> np.ndarray:
    """A torch tensor (or NumPy value) as a NumPy array (through ``Tensor.numpy``: NumPy's
    ``__array__`` protocol warns on torch tensors)."""
    if isinstance(tensor, torch.Tensor):
        if tensor.dtype == torch.bfloat16:  # NumPy has no bfloat16
            tensor = tensor.float()
        return tensor.detach().cpu().numpy()
    return np.asarray(tensor)


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def spans_processes(variables: list) -> bool:
    """Always false: each process holds its weights whole (or as a strategy's replicas)."""
    return False


def process_index() -> int:
    """This process's rank in an initialised ``torch.distributed`` group (0 otherwise)."""
    return int(torch.distributed.get_rank()) if _distributed() else 0


def process_count() -> int:
    """The group's world size (1 without ``torch.distributed``)."""
    return int(torch.distributed.get_world_size()) if _distributed() else 1


def all_equal(digest: bytes) -> bool:
    """Whether every process passed the same ``digest`` (a collective: all processes call it)."""
    if not _distributed():
        return True
    every: list = [None] * process_count()
    torch.distributed.all_gather_object(every, digest)
    return all(d == digest for d in every)
