"""Input saliency maps of a few rows: one backward pass for the output and every layer.

TSViz (Siddiqui et al., eq. 13-15) draws |d goal / d input| over an input, where the goal is
the model's output or one layer's activation (here the sum of the layer's output: the whole
layer rather than one chosen filter). A gradient per goal would mean one backward pass per
inspected layer, which on a 50-layer CNN costs more to compile than the model's own training
step. Instead each row is repeated once per goal, with the goal's index as a second input, and
the objective of a repeat is its own goal's; rows do not interact in inference mode, so one
backward pass over the repeated rows gives every map. It runs in the capture's batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from keras_inspect import backends, reductions
from keras_inspect.batches import batches, row_count, signature_key, take_rows, to_numpy
from keras_inspect.gradients import input_leaves, input_names, tapped_inputs
from keras_inspect.recording import recorded_call

__all__ = ["InputSaliency"]


class InputSaliency:
    """|d goal / d input| of a dataset's first rows, for the output and chosen layers.

    Args:
        model: the model.
        layers: the inspected layers (goals are chosen among them).
        output: which model output is scored (see :func:`keras_inspect.recording.recorded_call`).
    """

    def __init__(self, model: keras.Model, layers: Sequence[Any], output: Any = None) -> None:
        self.model = model
        self.layers = list(layers)
        self.output = output
        self._passes: dict[Any, Callable[[Any], Any]] = {}

    def run(
        self, x: Any, samples: int, layers: Sequence[str], batch_rows: int
    ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """Maps of the first ``samples`` rows of ``x``.

        Args:
            x: the dataset's inputs.
            samples: how many first rows.
            layers: the layer goals (their output summed), beside ``"output"`` (the scored
                objective, see :func:`keras_inspect.gradients.objective`).
            batch_rows: rows per compiled call.

        Returns:
            ``{goal: {float input name: (samples, ...) |gradient|}}`` and ``{input name: the
            rows}``. With several float inputs, an input a goal does not depend on (all zero)
            has no map for that goal.
        """
        head = take_rows(x, slice(0, samples))
        count = row_count(head)
        names = input_names(self.model, head)
        floats = [
            n
            for n, leaf in zip(names, input_leaves(head), strict=True)
            if np.issubdtype(np.asarray(leaf).dtype, np.floating)
        ]
        if not floats or count == 0:
            return {}, {}
        goals = ["output", *layers]
        repeated = keras.tree.map_structure(lambda a: np.concatenate([a] * len(goals)), head)
        goal_ids = np.repeat(np.arange(len(goals), dtype=np.int32), count)
        key = (signature_key(head), tuple(goals))
        if key not in self._passes:
            example = (take_rows(head, slice(0, 1)), goal_ids[:1])
            self._passes[key] = self._build(example, goals, floats)
        parts = []
        # Padding rows (JAX keeps the row count fixed) get goal -1: they add nothing.
        step = min(batch_rows, len(goal_ids))
        for (rows, ids), valid, real in batches((repeated, goal_ids), step, backends.fixed_rows()):
            ids = np.where(valid, ids, -1).astype(np.int32)
            parts.append([g[:real] for g in to_numpy(self._passes[key]((rows, ids)))])
        grads = [np.concatenate([part[i] for part in parts]) for i in range(len(floats))]
        result: dict[str, dict[str, np.ndarray]] = {}
        for index, goal in enumerate(goals):
            maps = {
                n: g[index * count : (index + 1) * count]
                for n, g in zip(floats, grads, strict=True)
            }
            if len(floats) > 1:
                maps = {n: m for n, m in maps.items() if np.any(m)}
            result[goal] = maps
        leaves = dict(zip(names, input_leaves(head), strict=True))
        inputs = {n: np.asarray(leaves[n], np.float32) for n in result["output"]}
        return result, inputs

    def _build(self, example: Any, goals: list[str], floats: list[str]) -> Callable[[Any], Any]:
        recorded_layers = [layer for layer in self.layers if layer.name in goals]

        wanted = {f"in:{name}" for name in floats}

        def forward(inputs: Any, tap: backends.Tap) -> tuple[Any, Any]:
            x, goal = inputs
            x = tapped_inputs(self.model, x, lambda k, t: tap(k, t) if k in wanted else t)
            recorded = recorded_call(self.model, recorded_layers, x, self.output)
            scored = reductions.row_objective(recorded.output)
            total = keras.ops.sum(keras.ops.where(goal == 0, scored, keras.ops.zeros_like(scored)))
            for index, name in enumerate(goals[1:], start=1):
                flat = reductions.positions(recorded.outputs[name])
                value = keras.ops.cast(keras.ops.sum(flat, axis=(1, 2)), scored.dtype)
                total = total + keras.ops.sum(
                    keras.ops.where(goal == index, value, keras.ops.zeros_like(value))
                )
            leaves = dict(zip(input_names(self.model, x), input_leaves(x), strict=True))
            return total, [leaves[n] for n in floats]

        def reduce(leaves: list[Any], gradients: dict[str, Any]) -> list[Any]:
            found = [gradients.get(f"in:{name}") for name in floats]
            return [
                keras.ops.zeros_like(leaf) if grad is None else keras.ops.abs(grad)
                for leaf, grad in zip(leaves, found, strict=True)
            ]

        return backends.compile_gradient_function(forward, example, reduce, self.model.variables)
