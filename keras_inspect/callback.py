"""InspectCallback: the one orchestrator (schedule -> capture -> quantities -> write)."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_inspect import images
from keras_inspect.capture import Capture, CaptureResult, default_layers, model_layers
from keras_inspect.checkpoint import (
    SAMPLES,
    CheckpointComputer,
    Guard,
    Record,
)
from keras_inspect.config import (
    check_labels,
    check_layer_pairs,
    check_layer_spec,
    check_log_dir,
    check_row_counts,
    drop,
    task_for,
)
from keras_inspect.datasets import Sample, prepare_datasets
from keras_inspect.errors import ConfigError
from keras_inspect.gradients import FeatureGroup, GradientPlan, resolve_feature_groups
from keras_inspect.presets import (
    HEADLINE,
    NEEDS_GRADIENTS,
    resolve_quantities,
)
from keras_inspect.projector import METHODS, ProjectionJob, Projector, job_rows, labels_column
from keras_inspect.quantities.blas import single_blas_thread
from keras_inspect.schedule import Schedule
from keras_inspect.worker import Worker
from keras_inspect.writer import InspectWriter
from tb_plugin import metadata

__all__ = ["InspectCallback"]

logger = logging.getLogger("keras_inspect")


class InspectCallback(keras.callbacks.Callback):
    """Record per-layer statistics of fixed dataset samples at checkpoints during ``fit``.

    At each checkpoint every dataset's fixed sample goes through the model once, in inference
    mode, and the chosen quantities are written as TensorBoard event files under
    ``<log_dir>/inspect``; headline values and Keras' ``logs`` are also written as native
    scalars, so they show in TensorBoard's Time Series tab.

    Args:
        log_dir: the run directory (the callback writes ``<log_dir>/inspect``).
        datasets: ``{"train": (x, y), "test1": (x, y), ...}``; ``x`` an array, a list or dict of
            arrays (multi-input models) or a ``tf.data.Dataset``; ``y`` binary, integer classes,
            one-hot, continuous, or absent (pass ``x`` alone: label-free quantities only).
            Probes are fitted on the dataset named ``train``.
        layers: ``None`` for every Dense, convolutional and recurrent layer; or a layer name, a
            regular expression (full match), or a list of them.
        quantities: a preset (``"light"``, ``"standard"``, ``"full"``) or a list of quantity
            names. A preset leaves out what does not apply (``probe_r2`` for a classifier;
            ``entropy_inter`` for a dataset of 15 rows or fewer; label quantities for an
            unlabelled dataset), saying so once in the log; a listed quantity that cannot
            apply is an error.
        every_n_epochs: record after every N-th epoch (the default, N = 1, when no other
            schedule is given); ``step`` is then the 0-based epoch index.
        every_n_steps: record after every N-th training batch; ``step`` is then the global
            batch count. Turns off Keras' asynchronous batch dispatch, as any per-batch hook does.
        at: record after exactly these 0-based epochs.
        max_samples: rows per dataset, drawn once with ``seed`` and reused at every checkpoint.
        feature_groups: the groups of ``feature_saliency``: ``None`` for one group per float
            model input and one per Embedding layer (its output stands for the ids fed to
            it); or a dict of group name -> a list of column indices of the only input, an
            input or layer name, or ``(name, [columns])``. Checked when training starts.
        seed: seeds sampling, row sub-sampling and probes.
        output: which model output is scored for a multi-output model (index or name; the
            first by default); labels refer to that output.
        layer_pairs: the (earlier, later) layer pairs of ``channel_capacity``; ``None`` for
            each pair of consecutive inspected layers that have feature maps (convolutional or
            sequence outputs). Checked when training starts.
        projection: how ``projection`` maps each layer's output to 2-D: ``"tsne"``
            (scikit-learn's t-SNE, started from the previous layout) or ``"pca"`` (the first two
            principal components: milliseconds instead of seconds).
        projection_every: project every N-th checkpoint (and the last one). Projections run on
            their own thread and never make training wait: when they are slower than the
            checkpoints, a waiting one is replaced by the newest.
        strict: re-raise a failing quantity instead of warning once and skipping it (implies
            ``asynchronous=False``, so the error surfaces at the checkpoint that caused it).
        asynchronous: compute quantities and write them on one background thread while
            training goes on; only the forward passes run on the training thread. At most one
            checkpoint waits, so memory stays bounded; ``on_train_end`` waits for the last.

    Raises:
        ConfigError: any argument is invalid (checked here), or a model-dependent fact is
            (checked when training starts, before the first epoch).

    Example:
        >>> inspector = InspectCallback("logs/run1", {"train": (x, y), "test1": (xt, yt)})
        >>> model.fit(x, y, epochs=10, callbacks=[inspector])
    """

    def __init__(
        self,
        log_dir: str | os.PathLike,
        datasets: dict[str, Any],
        layers: str | Sequence[str] | None = None,
        quantities: str | Sequence[str] = "standard",
        every_n_epochs: int | None = None,
        every_n_steps: int | None = None,
        at: Sequence[int] | None = None,
        max_samples: int = 2048,
        feature_groups: dict[str, Any] | None = None,
        seed: int = 0,
        output: int | str | None = None,
        layer_pairs: Sequence[tuple[str, str]] | None = None,
        projection: str = "tsne",
        projection_every: int = 5,
        strict: bool = False,
        asynchronous: bool = True,
    ) -> None:
        super().__init__()
        self.log_dir = check_log_dir(log_dir)
        self.schedule = Schedule.from_args(every_n_epochs, every_n_steps, at)
        if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1:
            raise ConfigError(
                f"max_samples must be a positive integer, got {max_samples!r}; e.g. "
                "max_samples=2048 rows per dataset."
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"seed must be an integer, got {seed!r}.")
        if feature_groups is not None and not isinstance(feature_groups, dict):
            raise ConfigError(
                f"feature_groups must be None or a dict of group name -> source, got "
                f"{type(feature_groups).__name__}; e.g. feature_groups={{'price': [0, 1], "
                "'user': 'user_embedding'}."
            )
        self.quantities, self._explicit = resolve_quantities(quantities)
        self.layer_spec = check_layer_spec(layers)
        self.samples: dict[str, Sample] = prepare_datasets(datasets, max_samples, seed)
        check_labels(self.samples, self.quantities, self._explicit)
        check_row_counts(self.samples, self.quantities, self._explicit)
        self.max_samples = max_samples
        self.feature_groups = feature_groups
        self.seed = seed
        self.output = output
        self.layer_pairs = check_layer_pairs(layer_pairs)
        self.guard = Guard(strict=strict)
        if not isinstance(asynchronous, bool):
            raise ConfigError(f"asynchronous must be True or False, got {asynchronous!r}.")
        self._worker = Worker(self._process) if asynchronous and not strict else None
        self._projector = _projector(
            self.quantities,
            projection,
            projection_every,
            self.guard,
            seed,
            self._write_records,
            asynchronous=asynchronous and not strict,
        )
        self.projection_every = projection_every
        self._write_lock = threading.Lock()  # the worker and the projector both write
        self._checkpoints_done = 0
        self._unprojected: ProjectionJob | None = None
        self.checkpoint_seconds: list[float] = []
        # Per checkpoint, seconds spent in each phase: capture (on the training thread),
        # statistics, probes, write (on the worker when asynchronous), total.
        self.timings: list[dict[str, float]] = []
        self._bound_model: keras.Model | None = None
        self._capture: Capture | None = None
        self._kernel_layers: list[keras.layers.Layer] = []
        self._model_records: list[Record] = []  # written once, with the first checkpoint
        self._computer: CheckpointComputer | None = None
        self._writer: InspectWriter | None = None
        self._last_step: int | None = None
        self._batches_seen = 0
        if not self.schedule.per_batch:
            # Overriding on_train_batch_end turns off Keras' asynchronous batch dispatch, so the
            # hook only exists on the instance when a step schedule asks for it.
            self.on_train_batch_end = super().on_train_batch_end

    # Keras hooks ---------------------------------------------------------------------------

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Bind to the model: resolve layers, compile the capture pass, check the datasets."""
        if self._bound_model is not self.model:
            self._bind(self.model)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Record a checkpoint when the epoch schedule says so."""
        if self.schedule.due_after_epoch(epoch):
            self.record(epoch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Count training batches and record when the step schedule says so."""
        self._batches_seen += 1
        if self.schedule.due_after_step(self._batches_seen):
            self.record(self._batches_seen, logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        """Flush and close the event file."""
        self.close()

    # Public ----------------------------------------------------------------------------------

    def record(self, step: int, logs: dict | None = None) -> None:
        """Record one checkpoint now, e.g. from a custom training loop.

        Call ``set_model(model)`` once first when not using ``fit``, and ``close()`` at the
        end: it waits for checkpoints still being computed in the background.

        Args:
            step: the checkpoint's step; must grow from one call to the next.
            logs: optional metrics to record beside it (``{"loss": 0.3}``).
        """
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
            raise ConfigError(f"step must be a non-negative integer, got {step!r}.")
        if self._bound_model is None or self._bound_model is not self.model:
            if getattr(self, "_model", None) is None:
                raise ConfigError(
                    "record() was called before the callback knew the model; call "
                    "inspector.set_model(model) first (fit does this for you)."
                )
            self._bind(self.model)
        if self._last_step is not None and step <= self._last_step:
            self.guard.warn_once(
                ("step", "", ""),
                f"keras_inspect: checkpoint step {step} is not after the last recorded step "
                f"{self._last_step}, so it is skipped (TensorBoard needs increasing steps). "
                "When calling fit again, pass initial_epoch to continue the count.",
            )
            return
        started = time.perf_counter()
        # Only the forward passes need the model as it is now; the rest can wait its turn.
        captured = {name: self._capture.run(sample.x) for name, sample in self.samples.items()}
        # Training goes on while the worker computes: kernels are copied now.
        kernels = {layer.name: _kernel_copy(layer) for layer in self._kernel_layers}
        job = _Checkpoint(
            int(step), captured, dict(logs or {}), time.perf_counter() - started, kernels
        )
        self._last_step = int(step)
        if self._worker is None:
            self._process(job)
        else:
            self._worker.submit(job)
        self.checkpoint_seconds.append(time.perf_counter() - started)

    def close(self) -> None:
        """Finish pending checkpoints, then flush and close the event file.

        A later checkpoint opens a new event file. Re-raises a failure of a background
        checkpoint that ``strict=True`` let through.
        """
        try:
            if self._worker is not None:
                self._worker.stop()
            if self._projector is not None:
                if self._unprojected is not None:  # the last checkpoint is always projected
                    self._projector.offer(self._unprojected)
                    self._unprojected = None
                self._projector.drain()
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    # Internals -------------------------------------------------------------------------------

    def _bind(self, model: keras.Model) -> None:
        if model is None:
            raise ConfigError("the callback has no model; call set_model(model) first.")
        if not model.built:
            raise ConfigError(
                f"model {model.name!r} is not built yet; call it on a batch or fit it first."
            )
        layers = _select_layers(model, self.layer_spec)
        quantities = self._gradient_quantities_supported(self.quantities)
        groups: list[FeatureGroup] = []
        if "feature_saliency" in quantities:
            head = keras.tree.map_structure(lambda a: a[:2], next(iter(self.samples.values())).x)
            groups = resolve_feature_groups(model, head, self.feature_groups)
            if not groups:
                quantities = self._leave_out(
                    quantities,
                    {"feature_saliency"},
                    f"model {model.name!r} has only integer inputs and no Embedding layer "
                    "(name layer outputs in feature_groups={'group': 'layer_name'})",
                )
        plan = _gradient_plan(model, quantities, groups)
        capture = Capture(model, layers, output=self.output, batch_size=self.max_samples, plan=plan)
        probed = [_probe_forward(capture, sample) for sample in self.samples.values()]
        widths = {_output_width(result) for result in probed}
        no_path = _without_gradient_path(
            probed[0], groups, self._explicit and self.layer_spec is not None
        )
        pairs: list[tuple[str, str]] = []
        if "channel_capacity" in quantities:
            pairs = _capacity_pairs(probed[0], layers, self.layer_pairs, model)
            if not pairs:
                quantities = self._leave_out(
                    quantities,
                    {"channel_capacity"},
                    "fewer than two inspected layers have feature maps (conv or sequence "
                    "outputs); name them in layers= or pass layer_pairs=",
                )
        task = task_for(self.samples, quantities, self._explicit, widths.pop())
        self._capture = capture
        self._model_records = _model_records(model, probed[0])
        self._kernel_layers = (
            [layer for layer in layers if _kernel_copy(layer) is not None]
            if "weights_hinton" in task.quantities
            else []
        )
        # Datasets in the user's order, layers in the model's: written with every series.
        self._dataset_order = {name: i for i, name in enumerate(self.samples)}
        self._layer_order = {layer.name: i for i, layer in enumerate(layers)}
        self._computer = CheckpointComputer(
            task,
            self.guard,
            seed=self.seed,
            groups=[g for g in groups if g.key not in no_path],
            skip_gradients=no_path,
            layer_pairs=pairs,
        )
        self._bound_model = model

    def _gradient_quantities_supported(self, quantities: tuple[str, ...]) -> tuple[str, ...]:
        """``quantities`` without the gradient ones where the backend cannot take gradients."""
        backend = keras.backend.backend()
        if backend == "tensorflow":
            return quantities
        return self._leave_out(
            quantities,
            NEEDS_GRADIENTS,
            f"gradients are implemented for the TensorFlow backend only, not {backend!r}",
        )

    def _leave_out(self, quantities: tuple[str, ...], names, reason: str) -> tuple[str, ...]:
        """``quantities`` without ``names`` (logged), or a ConfigError if the user listed them."""
        return tuple(drop(list(quantities), frozenset(names), self._explicit, reason))

    def _process(self, job: _Checkpoint) -> None:
        """Quantities and writing for one checkpoint (on the worker thread when asynchronous)."""
        started = time.perf_counter()
        timing = {"capture": job.capture_seconds, "statistics": 0.0}
        records: list[Record] = []
        features: dict[str, dict] = {}
        with single_blas_thread():
            for name, sample in self.samples.items():
                found, features[name] = self._computer.dataset_records(sample, job.captured[name])
                records.extend(found)
            timing["statistics"] = time.perf_counter() - started
            records.extend(self._computer.probe_records(features))
            records.extend(self._computer.weight_records(job.kernels))
            records.extend(self._model_records)
            self._model_records = []
        timing["probes"] = time.perf_counter() - started - timing["statistics"]
        mark = time.perf_counter()
        with self._write_lock:
            writer = self._open_writer()
            for rec in records:
                self._write(writer, job.step, rec)
            self._write_pictures(writer, job.step, records)
            for name, value in job.logs.items():
                if np.ndim(value) == 0 and np.isfinite(value):
                    writer.write_scalar(job.step, metadata.keras_log_tag(name), float(value))
            total = job.capture_seconds + time.perf_counter() - started
            writer.write_scalar(job.step, "keras_inspect/checkpoint_seconds", total)
            writer.flush()
        timing["write"] = time.perf_counter() - mark
        self._offer_projection(job)
        timing["total"] = job.capture_seconds + time.perf_counter() - started
        self.timings.append(timing)

    def _offer_projection(self, job: _Checkpoint) -> None:
        """Hands every ``projection_every``-th checkpoint's fixed rows to the projector."""
        if self._projector is None or "projection" not in self._computer.wanted:
            return
        datasets = {}
        for name, sample in self.samples.items():
            captured = job.captured[name]
            rows = job_rows(len(captured.output), MAX_PROJECTION_ROWS, self.seed)
            if len(rows) < MIN_PROJECTION_ROWS:
                continue
            labels = labels_column(self._computer.labels_of(sample), rows)
            layers = {
                layer: np.asarray(acts)[rows].reshape(len(rows), -1)
                for layer, acts in captured.activations.items()
                if int(np.prod(np.shape(acts)[1:])) >= 2
            }  # a layer of one number per row has no 2-D picture
            datasets[name] = (labels, layers)
        projection_job = ProjectionJob(job.step, datasets)
        due = self._checkpoints_done % self.projection_every == 0
        self._checkpoints_done += 1
        if due:
            self._projector.offer(projection_job)
            self._unprojected = None
        else:
            self._unprojected = projection_job

    def _write_records(self, step: int, records: list[Record]) -> None:
        """Writes records computed apart from a checkpoint's own (the projector's)."""
        with self._write_lock:
            writer = self._open_writer()
            for rec in records:
                self._write(writer, step, rec)
            writer.flush()

    def _write_pictures(self, writer: InspectWriter, step: int, records: list[Record]) -> None:
        """Feature maps of image models also go to TensorBoard's Images tab.

        One card per (dataset, layer), tagged ``feature maps/<dataset>/<layer>``, with one
        picture per sample: the input itself, or a layer's channels side by side.
        """
        maps: dict[tuple[str, str], list[np.ndarray]] = {}
        for rec in records:
            if rec.quantity == "feature_maps" and images.is_image_map(rec.value):
                maps.setdefault((rec.dataset, rec.layer), []).append(rec.value)
        for (dataset, layer), values in maps.items():
            with self.guard.running("feature_maps (Images tab)", dataset, layer):
                draw = images.picture if layer == "input" else images.mosaic
                pictures = [draw(value) for value in values]
                writer.write_images(step, f"feature maps/{dataset}/{layer}", pictures)

    def _write(self, writer: InspectWriter, step: int, rec: Record) -> None:
        with self.guard.running(f"write {rec.quantity}", rec.dataset, rec.layer):
            order = (self._dataset_order.get(rec.dataset, -1), self._layer_order.get(rec.layer, -1))
            writer.write(
                step,
                rec.quantity,
                rec.value,
                dataset=rec.dataset,
                layer=rec.layer,
                order=order,
                **rec.extra,
            )
            if rec.quantity in HEADLINE:
                tag = metadata.scalar_tag(rec.quantity, rec.dataset, rec.layer, **rec.extra)
                writer.write_scalar(step, tag, float(rec.value))

    def _open_writer(self) -> InspectWriter:
        if self._writer is None:
            self._writer = InspectWriter(self.log_dir)
        return self._writer


@dataclass(frozen=True)
class _Checkpoint:
    """What the training thread hands over: captured activations of every dataset."""

    step: int
    captured: dict[str, CaptureResult]
    logs: dict[str, Any]
    capture_seconds: float
    kernels: dict[str, np.ndarray]  # weights_hinton's kernels, by layer


# Rows per dataset that are projected (a t-SNE of 500 rows takes 1-2 s on one core), the same
# fixed rows at every checkpoint so that each layout can start from the previous one.
MAX_PROJECTION_ROWS = 500
MIN_PROJECTION_ROWS = 5


def _projector(quantities, method, every, guard, seed, emit, asynchronous) -> Projector | None:
    """The projector of ``projection``, after checking its arguments (None if not wanted)."""
    if method not in METHODS:
        raise ConfigError(
            f"projection must be one of {sorted(METHODS)}, got {method!r}; 'pca' is the cheap "
            "choice (milliseconds), 'tsne' the one that shows neighbourhoods."
        )
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(
            f"projection_every must be a positive integer (project every N-th checkpoint), "
            f"got {every!r}; e.g. projection_every=5."
        )
    if "projection" not in quantities:
        return None
    return Projector(method, emit, guard, seed=seed, asynchronous=asynchronous)


def _model_records(model: keras.Model, probed: CaptureResult) -> list[Record]:
    """``model_layers``: per layer of the model, [position, parameters, *output shape].

    The layer's class name travels in the ``type`` axis. Output shapes come from the model's
    graph, or from the probe pass for an inspected layer of a subclassed model (no batch axis;
    a dimension unknown until called is -1; empty when unknown).
    """
    records = []
    for index, layer in enumerate(model_layers(model)):
        shape: tuple = ()
        try:
            shape = tuple(layer.output.shape[1:])
        except (AttributeError, ValueError):
            captured = probed.activations.get(layer.name)
            if captured is not None:
                shape = tuple(np.shape(captured)[1:])
        dims = [-1 if d is None else int(d) for d in shape]
        value = np.array([index, layer.count_params(), *dims], dtype=np.float64)
        records.append(
            Record("model_layers", value, "", layer.name, {"type": type(layer).__name__})
        )
    return records


def _kernel_copy(layer: keras.layers.Layer) -> np.ndarray | None:
    """A copy of a Dense or convolution layer's kernel, or None for a layer without one."""
    kernel = getattr(layer, "kernel", None)
    if kernel is None or len(getattr(kernel, "shape", ())) < 2:
        return None
    return np.array(keras.ops.convert_to_numpy(kernel))


def _capacity_pairs(
    result: CaptureResult, layers: list, wanted: tuple | None, model: keras.Model
) -> list[tuple[str, str]]:
    """The layer pairs of channel_capacity: checked ones from the user, or the defaults."""
    maps = [layer.name for layer in layers if np.ndim(result.activations[layer.name]) >= 3]
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
                shape = tuple(result.activations[name].shape[1:])
                raise ConfigError(
                    f"layer_pairs pair ({a!r}, {b!r}): layer {name!r} has outputs of shape "
                    f"{shape}, without positions to compare feature maps over; channel "
                    f"capacity needs convolutional or sequence layers such as {maps or 'Conv2D'}."
                )
    return list(wanted)


def _select_layers(model: keras.Model, spec: tuple[str, ...] | None) -> list:
    candidates = model_layers(model)
    if spec is None:
        chosen = default_layers(model)
        if not chosen:
            raise ConfigError(
                f"model {model.name!r} has no Dense, convolutional or recurrent layer to inspect "
                f"by default; name layers explicitly, e.g. "
                f"layers={[c.name for c in candidates][:3]}."
            )
        return chosen
    names = [layer.name for layer in candidates]
    selected: set[str] = set()
    for item in spec:
        matches = [n for n in names if n == item or re.fullmatch(item, n)]
        if not matches:
            raise ConfigError(
                f"layers entry {item!r} matches no layer of model {model.name!r}; its layers "
                f"are {names}."
            )
        selected.update(matches)
    return [layer for layer in candidates if layer.name in selected]


def _gradient_plan(
    model: keras.Model, quantities: Sequence[str], groups: list[FeatureGroup]
) -> GradientPlan | None:
    """What the capture pass differentiates for the gradient quantities asked for."""
    wanted = set(quantities) & NEEDS_GRADIENTS
    if not wanted:
        return None
    if "feature_saliency" not in wanted:
        groups = []
    by_name = {layer.name: layer for layer in model_layers(model)}
    return GradientPlan(
        sources=tuple(dict.fromkeys(group.key for group in groups)),
        source_layers=tuple(dict.fromkeys(by_name[g.source] for g in groups if g.kind == "layer")),
        layer_deltas="filter_importance" in wanted,
        saliency_samples=SAMPLES if "input_saliency" in wanted else 0,
    )


def _probe_forward(capture: Capture, sample: Sample) -> CaptureResult:
    """Run two rows of ``sample`` through the capture pass (errors become ConfigError)."""
    shapes = keras.tree.map_structure(lambda a: tuple(a.shape), sample.x)
    expected = _input_names(capture.model)
    if isinstance(sample.x, dict) and expected and set(sample.x) != set(expected):
        raise ConfigError(
            f"datasets[{sample.name!r}] x has input names {sorted(sample.x)}, but model "
            f"{capture.model.name!r} expects {sorted(expected)}. Key the dict by the names of "
            "the model's keras.Input layers."
        )
    _check_input_shapes(sample, capture.model)
    head = keras.tree.map_structure(lambda a: a[:2], sample.x)
    try:
        result = capture.run(head)
    except Exception as error:
        reason = _reason(error)
        raise ConfigError(
            f"datasets[{sample.name!r}] does not fit model {capture.model.name!r}: running "
            f"its x (shapes {shapes}) through the model failed with {type(error).__name__}: "
            f"{reason}. Pass x in the structure and shapes used for model.fit."
        ) from error
    return result


def _output_width(result: CaptureResult) -> int:
    """Units of the scored output."""
    return 1 if result.output.ndim == 1 else int(np.prod(result.output.shape[1:]))


def _without_gradient_path(
    result: CaptureResult, groups: list[FeatureGroup], explicit: bool
) -> frozenset[str]:
    """Layers and group sources that the scored output does not depend on.

    Their gradient quantities are left out (said once in the log); when the user named both
    the layers and the quantities it is a configuration error instead.
    """
    missing = result.no_gradient
    if not missing:
        return missing
    layers = sorted(name for name in missing if name in result.activations)
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
    logger.info("keras_inspect: gradient quantities leave out %s: %s.", what, reason)
    return missing


def _check_input_shapes(sample: Sample, model: keras.Model) -> None:
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


def _reason(error: Exception) -> str:
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
