"""JAX implementation of the backend functions (see :mod:`keras_inspect.backends`).

A Keras model called inside ``jax.jit`` reads its variables at trace time and would keep those
values for ever; the compiled functions here take the variables' current values as arguments
instead and map them in with a ``keras.StatelessScope``, so one trace follows training.

JAX cannot differentiate with respect to a tensor computed inside a function, only with respect
to arguments. A tap therefore adds a zero argument of the tensor's shape to it, and the gradient
with respect to that argument is the gradient with respect to the tensor. The taps' shapes are
learnt from an abstract evaluation (``jax.eval_shape``) of the same forward function first.
JAX gives zeros, not ``None``, for an argument the objective does not depend on; in eager mode
the dependency is read from the objective's jaxpr instead.

``jax.jit`` traces once per input shape, so callers keep the row count fixed
(:data:`FIXED_ROWS`).

Across processes (``jax.distributed``), a replicated variable is a global array that one
process cannot compute with alone; the passes, which then run on process 0 only, take its local
copy. When variables are sharded across processes (``keras.distribution.ModelParallel`` over
several hosts) there is no local copy: every process calls the same compiled passes (SPMD) on
the global arrays, with the inputs replicated and every output replicated, so that process 0
reads the whole result from its own devices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import keras
import numpy as np

__all__ = [
    "FIXED_ROWS",
    "all_equal",
    "compile_function",
    "compile_gradient_function",
    "process_count",
    "process_index",
    "spans_processes",
    "to_numpy",
    "unused_arguments",
]

FIXED_ROWS = True


def _tensors(x: Any) -> Any:
    return jax.tree_util.tree_map(jnp.asarray, x)


def _stateless(fn: Callable, variables: list) -> Callable:
    """``fn`` as a function of the variables' values and its inputs."""

    def pure(values: list, *args: Any) -> Any:
        with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
            return fn(*args)

    return pure


def _values(variables: list) -> list:
    return [_local(variable.value) for variable in variables]


def _spanning(array: Any) -> bool:
    """Whether ``array`` is sharded across processes (no process holds all of it)."""
    return (
        isinstance(array, jax.Array)
        and not array.is_fully_addressable
        and not array.sharding.is_fully_replicated
    )


def spans_processes(variables: list) -> bool:
    """Whether some variable is sharded across processes."""
    return any(_spanning(variable.value) for variable in variables)


def _local(array: Any) -> Any:
    """``array``, or its copy on a device of this process if it spans several processes
    replicated; a global array sharded across processes stays as it is (SPMD passes)."""
    if not isinstance(array, jax.Array) or array.is_fully_addressable:
        return array
    if array.sharding.is_fully_replicated:
        return array.addressable_data(0)
    return array


def _runner(fn: Callable, variables: list, compiled: bool) -> Callable[[Any], Any]:
    """``x -> fn(x)`` with the variables' values mapped in: a ``jax.jit`` taking them as
    arguments (one trace per input shape), or eagerly on their local values. When a variable
    is sharded across processes, always a jit over the global arrays, with the inputs and every
    output replicated over their mesh (every process calls it; each reads whole results)."""
    pure = _stateless(fn, variables)
    spanning = next((v.value for v in variables if _spanning(v.value)), None)
    if spanning is not None:
        from jax.sharding import NamedSharding, PartitionSpec

        replicated = NamedSharding(spanning.sharding.mesh, PartitionSpec())
        jitted = jax.jit(pure, out_shardings=replicated)
        return lambda x: jitted([v.value for v in variables], jax.device_put(x, replicated))
    if not compiled:
        return lambda x: pure(_values(variables), _tensors(x))
    jitted = jax.jit(pure)
    return lambda x: jitted(_values(variables), x)


def compile_function(
    fn: Callable[[Any], Any], example: Any, variables: list, compiled: bool
) -> Callable[[Any], Any]:
    """``jax.jit`` of ``fn`` with the variables as arguments (see :func:`_runner`)."""
    return _runner(fn, variables, compiled)


def compile_gradient_function(
    fn: Callable, example: Any, reduce: Callable, variables: list, compiled: bool
) -> Callable:
    """See :func:`keras_inspect.backends.compile_gradient_function`."""

    def run(x: Any) -> Any:
        shapes: dict[str, jax.ShapeDtypeStruct] = {}

        def find(key: str, tensor: Any) -> Any:
            tensor = jnp.asarray(tensor)
            if jnp.issubdtype(tensor.dtype, jnp.floating):
                shapes.setdefault(key, jax.ShapeDtypeStruct(tensor.shape, tensor.dtype))
            return tensor

        jax.eval_shape(lambda inputs: fn(inputs, find)[0], x)
        zeros = {key: jnp.zeros(s.shape, s.dtype) for key, s in shapes.items()}

        def objective(taps: dict[str, Any], inputs: Any) -> tuple[Any, Any]:
            added: set[str] = set()

            def tap(key: str, tensor: Any) -> Any:
                tensor = jnp.asarray(tensor)
                if key not in taps or key in added:
                    return tensor
                added.add(key)
                return tensor + taps[key]

            return fn(inputs, tap)

        (_, outputs), grads = jax.value_and_grad(objective, has_aux=True)(zeros, x)
        gradients: dict[str, Any] = dict(grads)
        if not compiled:
            unused = unused_arguments(lambda taps: objective(taps, x)[0], zeros)
            gradients = {k: None if k in unused else g for k, g in gradients.items()}
        return reduce(outputs, gradients)

    return _runner(run, variables, compiled)


def unused_arguments(fn: Callable[[dict[str, Any]], Any], arguments: dict[str, Any]) -> set[str]:
    """Keys of ``arguments`` the output of ``fn(arguments)`` does not depend on.

    Walks ``fn``'s jaxpr backwards from its outputs. An equation whose output is needed needs
    all its inputs (a nested jaxpr, such as a ``custom_jvp`` or ``pjit`` call, counts as one
    equation), so the answer is conservative: an argument reported unused is certainly unused.
    """
    keys = list(arguments)
    closed = jax.make_jaxpr(lambda *leaves: fn(dict(zip(keys, leaves, strict=True))))(
        *[arguments[k] for k in keys]
    )
    jaxpr = closed.jaxpr
    needed = {id(v) for v in jaxpr.outvars}
    for equation in reversed(jaxpr.eqns):
        if any(id(v) in needed for v in equation.outvars):
            needed.update(id(v) for v in equation.invars)
    return {k for k, v in zip(keys, jaxpr.invars, strict=True) if id(v) not in needed}


def to_numpy(tensor: Any) -> np.ndarray:
    """A JAX array (or NumPy value) as a NumPy array. An array sharded across processes is
    gathered: a collective, which every process calls (SPMD passes, kernel copies)."""
    if _spanning(tensor):
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(tensor, tiled=True))
    return np.asarray(_local(tensor))


def process_index() -> int:
    """This process's index among the processes of a ``jax.distributed`` job (0 alone)."""
    return int(jax.process_index())


def process_count() -> int:
    """How many processes the job has."""
    return int(jax.process_count())


def all_equal(digest: bytes) -> bool:
    """Whether every process passed the same ``digest`` (a collective: all processes call it)."""
    from jax.experimental import multihost_utils

    mine = np.frombuffer(digest, dtype=np.uint8)
    every = np.asarray(multihost_utils.process_allgather(mine))
    return bool((every == mine).all())
