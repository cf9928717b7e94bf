"""What earlier trainings left in a run directory: the last step, and how many trainings.

A second ``fit`` into the same ``log_dir`` (a re-run notebook cell, a resumed training without
``initial_epoch``) counts its epochs from 0 again. Writing those steps a second time would
duplicate every cell (``ki.load`` returned both trainings' rows, which a ``pivot_table`` then
silently averages) and TensorBoard's two loaders would disagree about the repeated steps. The
callback therefore reads what is already there before its first checkpoint and continues the
step count after it (:class:`keras_inspect.callback.InspectCallback`), and marks every
checkpoint with the index of the training that wrote it (the native scalar
:data:`tb_plugin.metadata.TRAINING_TAG`, read back by ``ki.load`` as the ``training`` column).

Event files are read with :func:`keras_inspect.eventfile.read_events` (``google-crc32c``):
TensorBoard's own record reader checks every record with a pure-Python CRC when TensorFlow is
absent, which would make a re-run's start wait seconds on a long run's files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tensorboard.util.tensor_util import make_ndarray

from keras_inspect.eventfile import read_events
from keras_inspect.guard import Guard
from tb_plugin.metadata import RUN_SUBDIR, TRAINING_TAG

__all__ = ["Previous", "RunSteps", "previous_checkpoints"]

_EVENTS_MARKER = "tfevents"


@dataclass(frozen=True)
class Previous:
    """What a run directory already holds.

    Attributes:
        last_step: the largest step recorded, or ``None`` when nothing is.
        trainings: how many trainings recorded there (0 when nothing is).
    """

    last_step: int | None = None
    trainings: int = 0


def previous_checkpoints(log_dir: str) -> Previous:
    """Read ``<log_dir>/inspect``'s event files (a missing folder holds nothing).

    Runs recorded before the training index was written count as one training. Unreadable
    files are skipped: this only decides where the step count goes on, and a folder that
    cannot be read cannot be written either (which the writer reports).
    """
    directory = os.path.join(log_dir, RUN_SUBDIR)
    try:
        names = sorted(name for name in os.listdir(directory) if _EVENTS_MARKER in name)
    except OSError:
        return Previous()
    last_step: int | None = None
    last_training = -1
    for name in names:
        try:
            for event in read_events(os.path.join(directory, name)):
                if not event.HasField("summary") or not event.summary.value:
                    continue
                last_step = event.step if last_step is None else max(last_step, event.step)
                for value in event.summary.value:
                    if value.tag == TRAINING_TAG:
                        index = int(make_ndarray(value.tensor))
                        last_training = max(last_training, index)
        except OSError:
            continue
    if last_step is None:
        return Previous()
    return Previous(last_step=last_step, trainings=max(last_training + 1, 1))


class RunSteps:
    """The steps of one callback's checkpoints in a run directory, and its trainings there.

    Args:
        log_dir: the run directory.
        guard: says once that a training's steps continue after earlier ones.
    """

    def __init__(self, log_dir: str, guard: Guard) -> None:
        self.log_dir = log_dir
        self.guard = guard
        self.reads = True  # whether this process reads log_dir (the one that writes)
        self._previous: Previous | None = None  # what earlier trainings left, read once
        self._recorded: int | None = None  # the last step this callback recorded
        self._trainings: int | None = None  # trainings recorded in log_dir so far
        self._training: int | None = None  # index of the current training
        self._shift: int | None = None  # added to this training's epoch or batch count

    def new_training(self) -> None:
        """A training starts (``on_train_begin``): its shift and index are decided anew."""
        self._shift = None
        self._training = None

    def recorded(self, step: int) -> None:
        """A checkpoint was taken at ``step``."""
        self._recorded = step

    @property
    def last(self) -> int | None:
        """The last step in ``log_dir``: recorded by this callback, or found there."""
        if self._recorded is not None:
            return self._recorded
        return self._found().last_step

    def training(self) -> int:
        """The index of the current training in ``log_dir`` (0 for the first)."""
        if self._training is None:
            if self._trainings is None:
                self._trainings = self._found().trainings
            self._training = self._trainings
            self._trainings += 1
        return self._training

    def continued(self, count: int, first: int) -> int:
        """The step of a checkpoint at ``count`` (this training's epoch index, ``first`` = 0,
        or batch count, ``first`` = 1): when the run directory already holds that step, the
        count goes on after its last step, as ``initial_epoch`` would make it; said once."""
        if self._shift is None:
            last = self.last
            self._shift = 0 if last is None or count > last else last + 1 - first
            if self._shift:
                self._say(count, last, first)
        return count + self._shift

    def _found(self) -> Previous:
        if self._previous is None:
            self._previous = previous_checkpoints(self.log_dir) if self.reads else Previous()
        return self._previous

    def _say(self, count: int, last: int, first: int) -> None:
        shifted = count + self._shift
        if first == 0:
            how = f"epoch {count} is step {shifted}, as if fit had been given "
            how += f"initial_epoch={self._shift}"
        else:
            how = f"batch {count} is step {shifted}"
        self.guard.warn_once(
            ("continue", str(self.training()), ""),
            f"keras_inspect: {self.log_dir!r} already holds checkpoints up to step {last}, so "
            f"this training's steps continue after it ({how}). ki.load's 'training' column "
            "tells the trainings apart; pass a new log_dir to keep them as separate runs.",
        )
