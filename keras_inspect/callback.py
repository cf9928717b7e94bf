"""InspectCallback: the one orchestrator (schedule -> capture -> quantities -> write)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_inspect.accumulate import DatasetSummary
from keras_inspect.bind import Binding, bind, kernel_copy
from keras_inspect.checkpoint_work import Checkpoint, CheckpointWork
from keras_inspect.config import (
    check_batch_size,
    check_feature_names,
    check_labels,
    check_layer_pairs,
    check_layer_spec,
    check_log_dir,
    check_output,
    check_process_index,
    check_row_counts,
    supported_by_backend,
)
from keras_inspect.datasets import Sample, prepare_datasets
from keras_inspect.errors import ConfigError
from keras_inspect.guard import Guard
from keras_inspect.presets import resolve_quantities
from keras_inspect.processes import Processes
from keras_inspect.resume import RunSteps
from keras_inspect.schedule import Schedule
from keras_inspect.sink import RecordSink
from keras_inspect.slow_work import SlowWork
from keras_inspect.worker import Worker

__all__ = ["InspectCallback"]


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
            unlabelled dataset; input saliency for integer-only inputs; the intra-sample
            entropy without feature maps), saying so once with a :class:`LeftOutWarning`; a
            listed quantity that cannot apply is an error.
        every_n_epochs: record after every N-th epoch (the default, N = 1, when no other
            schedule is given); ``step`` is then the 0-based epoch index.
        every_n_steps: record after every N-th training batch; ``step`` is then the global
            batch count. Turns off Keras' asynchronous batch dispatch, as any per-batch hook does.
        at: record after exactly these 0-based epochs.
        max_samples: rows per dataset, drawn once with ``seed`` and reused at every checkpoint.
            A checkpoint's memory does not grow with it: the rows go through the model in
            batches that are reduced to statistics as they come.
        batch_size: rows per batch of the capture pass. ``None`` (the default) sizes batches so
            that the layer outputs, pre-activations and gradients one batch records take about
            256 MiB (a whole 2,048-row sample of a small tabular model; a handful of rows of a
            ResNet50 at 128 x 128). Set it to bound the accelerator memory of a pass further.
        feature_groups: the groups of ``feature_saliency``: ``None`` for one group per float
            model input and one per Embedding layer (its output stands for the ids fed to
            it); or a dict of group name -> a list of column indices of the only input, an
            input or layer name, or ``(name, [columns])``. Checked when training starts.
            A model whose only input is a 2-D float matrix (a table) gets one group per column
            by default, up to 64 columns (a wider one is one group, said once).
        feature_names: names of the table's columns, one string per column in order (e.g.
            ``list(df.columns)`` or scikit-learn's ``data.feature_names``): the default groups
            are named by them instead of ``input[3]``, at any width. A DataFrame ``x`` names
            them by its columns without it. Not with ``feature_groups``; its length is checked
            against the input's width when training starts.
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
        process_index: this process's index in a multi-process job; ``None`` asks the backend
            (``jax.process_index()``, the ``torch.distributed`` rank, TensorFlow's multi-worker
            task). Only process 0 runs the capture and writes; the others only train, so the
            same script on N processes records each checkpoint once.

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
        feature_names: Sequence[str] | None = None,
        seed: int = 0,
        output: int | str | None = None,
        layer_pairs: Sequence[tuple[str, str]] | None = None,
        projection: str = "tsne",
        projection_every: int = 5,
        strict: bool = False,
        asynchronous: bool = True,
        batch_size: int | None = None,
        process_index: int | None = None,
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
        self.quantities = supported_by_backend(self.quantities, self._explicit)
        self.layer_spec = check_layer_spec(layers)
        self.samples: dict[str, Sample] = prepare_datasets(datasets, max_samples, seed)
        check_labels(self.samples, self.quantities, self._explicit)
        check_row_counts(self.samples, self.quantities, self._explicit)
        self.max_samples = max_samples
        self.batch_size = check_batch_size(batch_size)
        self.feature_groups = feature_groups
        self.feature_names = check_feature_names(feature_names, feature_groups)
        self.seed = seed
        self.output = check_output(output)
        self.layer_pairs = check_layer_pairs(layer_pairs)
        self.process_index = check_process_index(process_index)
        self.guard = Guard(strict=strict)
        self._processes = Processes(self.process_index, self.guard)
        if not isinstance(asynchronous, bool):
            raise ConfigError(f"asynchronous must be True or False, got {asynchronous!r}.")
        self._sink = RecordSink(self.log_dir, self.guard)  # the worker and the lanes write
        # Projections and the map quantities: on lanes of their own after the worker.
        self._slow = SlowWork(
            self.quantities,
            projection,
            projection_every,
            self.guard,
            seed,
            self._sink,
            asynchronous=asynchronous and not strict,
        )
        self._work = CheckpointWork(self.samples, self._sink, self._slow)
        self._worker = Worker(self._work.process) if asynchronous and not strict else None
        self.projection_every = projection_every
        self.checkpoint_seconds: list[float] = []
        self._bound_model: keras.Model | None = None
        # Steps continue after what log_dir already holds (see keras_inspect.resume).
        self._steps = RunSteps(self.log_dir, self.guard)
        self._binding: Binding | None = None
        self._batches_seen = 0
        if not self.schedule.per_batch:
            # Overriding on_train_batch_end turns off Keras' asynchronous batch dispatch, so the
            # hook only exists on the instance when a step schedule asks for it.
            self.on_train_batch_end = super().on_train_batch_end

    # Keras hooks ---------------------------------------------------------------------------

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Bind to the model: resolve layers, check the datasets on two rows each (eagerly;
        the capture passes compile at the first checkpoint). In a multi-process job every
        process binds (so that a configuration error stops every process alike, not one of
        them), after comparing their datasets; only process 0 goes on to record.

        A model that is not built yet (subclassed, or a Sequential without an ``Input``, on
        TensorFlow: Keras builds it in the first training step) is bound at the start of the
        second batch, or at the first checkpoint when an epoch has one batch; every check is
        still made before the first checkpoint's work.
        """
        self._joined()
        self._steps.new_training()
        if self._bound_model is self.model:
            return
        if self.model.built:
            self._bind(self.model)
        else:
            self.on_train_batch_begin = self._bind_when_built

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Record a checkpoint when the epoch schedule says so."""
        if self.schedule.due_after_epoch(epoch):
            self.record(self._steps.continued(epoch, first=0), logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Count training batches and record when the step schedule says so."""
        self._batches_seen += 1
        if self.schedule.due_after_step(self._batches_seen):
            self.record(self._steps.continued(self._batches_seen, first=1), logs)

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
        writes = self._joined()
        if self._bound_model is None or self._bound_model is not self.model:
            if getattr(self, "_model", None) is None:
                raise ConfigError(
                    "record() was called before the callback knew the model; call "
                    "inspector.set_model(model) first (fit does this for you)."
                )
            self._bind(self.model)
        last = self._steps.last
        if last is not None and step <= last:
            self.guard.warn_once(
                ("step", "", ""),
                f"keras_inspect: checkpoint step {step} is not after the last step recorded "
                f"in {self.log_dir!r} ({last}), so it is skipped (TensorBoard needs increasing "
                f"steps). Pass steps after {last}, or another log_dir for a separate run.",
            )
            return
        if not writes and not self._processes.in_step:
            return  # process 0 records
        started = time.perf_counter()
        # Only the capture passes need the model as it is now; the rest can wait its turn.
        summaries = self._capture_all(int(step))
        if summaries is None:
            return
        # Training goes on while the worker computes: kernels are copied now.
        kernels = {layer.name: kernel_copy(layer) for layer in self._binding.kernel_layers}
        self._steps.recorded(int(step))
        if not writes:
            return  # this process took its part in the passes; process 0 writes
        job = Checkpoint(
            int(step),
            summaries,
            dict(logs or {}),
            time.perf_counter() - started,
            kernels,
            self._steps.training(),
        )
        self._sink.open()
        self._slow.open()
        if self._worker is None:
            self._work.process(job)
        else:
            self._worker.submit(job)
        self.checkpoint_seconds.append(time.perf_counter() - started)

    @property
    def timings(self) -> list[dict[str, float]]:
        """Per checkpoint, seconds spent in each phase: capture (on the training thread),
        statistics, probes, write (on the worker when asynchronous), total."""
        return self._work.timings

    @property
    def _capture(self):
        """The capture of the bound model (None before binding)."""
        return None if self._binding is None else self._binding.capture

    @property
    def _computer(self):
        return None if self._binding is None else self._binding.computer

    def close(self) -> None:
        """Finish pending checkpoints, then flush and close the event file.

        Waits for the checkpoints being computed, but at most a few seconds
        (:data:`keras_inspect.slow_work.GRACE`) for projections and the map quantities: what
        is still running is finished on its own thread and written when done, while the
        program goes on (a script's interpreter waits for it at exit); a warning says so.
        A later checkpoint opens a new event file. Re-raises a failure of a background
        checkpoint that ``strict=True`` let through.
        """
        try:
            self._slow.release()  # so that the worker never waits for a slow lane now
            if self._worker is not None:
                self._worker.stop()
            self._slow.close()
        finally:
            self._sink.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until projections and map quantities still running in the background are
        written (``fit`` does not wait for them more than a few seconds).

        Call it before reading the last checkpoint's entropies, clusters, capacities or
        projections with :func:`keras_inspect.load` in the same program.

        Args:
            timeout: wait at most this many seconds (``None``: as long as it takes).

        Returns:
            True when everything is written; False when the timeout ran out first.
        """
        return self._slow.wait(timeout)

    @property
    def _projector(self):
        """The projector of ``projection`` (None when not recorded)."""
        return self._slow.projector

    # Internals -------------------------------------------------------------------------------

    def _joined(self) -> bool:
        """Whether this process records (see :class:`keras_inspect.processes.Processes`)."""
        writes = self._processes.join(self.samples)
        self._steps.reads = writes  # only the process that writes reads log_dir
        return writes

    def _bind_when_built(self, batch: int, logs: dict | None = None) -> None:
        """``on_train_batch_begin`` while the model is not built (removed once bound)."""
        if self.model.built:
            del self.on_train_batch_begin  # back to Keras' no-op
            self._bind(self.model)

    def _bind(self, model: keras.Model) -> None:
        self._processes.bind(model)
        binding = bind(
            model,
            self.samples,
            layer_spec=self.layer_spec,
            quantities=self.quantities,
            explicit=self._explicit,
            feature_groups=self.feature_groups,
            feature_names=self.feature_names,
            output=self.output,
            layer_pairs=self.layer_pairs,
            seed=self.seed,
            batch_size=self.batch_size,
            guard=self.guard,
        )
        self._binding = binding
        self._work.computer = binding.computer
        self._work.model_records = list(binding.model_records)
        # Datasets in the user's order, layers in the model's: written with every series.
        self._sink.dataset_order = {name: i for i, name in enumerate(self.samples)}
        self._sink.layer_order = binding.layer_order
        self._slow.bind(binding.computer)
        self._bound_model = model

    def _capture_all(self, step: int) -> dict[str, DatasetSummary] | None:
        """Every dataset through the capture passes; None (said once) if they fail."""
        try:
            return {name: self._binding.summarize(sample) for name, sample in self.samples.items()}
        except Exception as error:
            if self.guard.strict:
                raise
            self.guard.warn_once(
                ("capture", "", ""),
                f"keras_inspect: the capture pass failed at step {step} and that checkpoint is "
                f"skipped ({type(error).__name__}: {error}). Training goes on; later failures "
                "are not reported.",
            )
            return None
