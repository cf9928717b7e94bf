"""Progress lines for the demo, so that it never looks hung.

A CTR epoch with its first checkpoint can take 15 s, and the t-SNE projections and entropies
that the callback finishes after ``fit`` can take a minute on a busy machine: long enough for a
user to think the demo hangs. :class:`Progress` prints a timestamped line whenever something
starts, and a ticker thread repeats what is going on whenever nothing was said for a few
seconds. :func:`epoch_progress` is the Keras callback that tells it which epoch is training.

    with Progress() as progress:
        progress.say("digits: loading")
        model.fit(..., callbacks=[epoch_progress(progress, "digits")])
"""

from __future__ import annotations

import functools
import threading
import time

__all__ = ["TICK_SECONDS", "Progress", "epoch_progress"]

# Seconds without a progress line after which the ticker repeats the current status. The demo
# promises a line at least every 10 s; half that leaves room for a loaded machine's slow wake-ups.
TICK_SECONDS = 5.0


class Progress:
    """Timestamped progress lines, and a ticker that speaks into silences.

    Args:
        every: seconds without a line after which the ticker repeats the status.
    """

    def __init__(self, every: float = TICK_SECONDS):
        self.every = every
        self._started = time.monotonic()
        self._last_line = self._started
        self._status = "starting"
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="demo-progress", daemon=True)

    def __enter__(self) -> Progress:
        self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """No more ticks (e.g. once TensorBoard only serves and nothing is being computed)."""
        self._stopped.set()
        if self._ticker.is_alive():
            self._ticker.join()

    @property
    def elapsed(self) -> float:
        """Seconds since the demo started."""
        return time.monotonic() - self._started

    def say(self, text: str) -> None:
        """Print ``text`` now; it is also what the ticker repeats until the next status."""
        with self._lock:
            self._status = text
            self._print(text)

    def status(self, text: str) -> None:
        """What is going on now, printed by the ticker at the next silence (not at once:
        a status per epoch would double Keras' own line per epoch)."""
        with self._lock:
            self._status = text

    def _print(self, text: str) -> None:
        print(f"[{self.elapsed:4.0f} s] {text}", flush=True)
        self._last_line = time.monotonic()

    def _tick(self) -> None:
        # Wakes often, so that a line never comes much later than `every` after the last one.
        while not self._stopped.wait(min(0.5, self.every / 4)):
            with self._lock:
                if time.monotonic() - self._last_line >= self.every:
                    self._print(self._status)


def epoch_progress(progress: Progress, run: str, finishing: str = "statistics"):
    """A Keras callback that keeps ``progress``'s status on the epoch ``run`` is training.

    Args:
        progress: where the status goes.
        run: the run's name as TensorBoard shows it, e.g. ``compare/ctr_3_layers``.
        finishing: what the InspectCallback may still compute once training ends, in words
            (e.g. ``"projections, entropies"``), for the status while it does.
    """
    return _epoch_progress_class()(progress, run, finishing)


@functools.cache
def _epoch_progress_class():
    """The callback class, made on first use so that importing this module skips Keras (the
    ticker must already run while TensorFlow loads)."""
    import keras

    class EpochProgress(keras.callbacks.Callback):
        """See :func:`epoch_progress`."""

        def __init__(self, progress, run, finishing):
            super().__init__()
            self.progress = progress
            self.run = run
            self.finishing = finishing

        def on_train_begin(self, logs=None):
            epochs = self.params["epochs"]
            self.progress.status(f"{self.run}: compiling, then epoch 1/{epochs}")

        def on_epoch_begin(self, epoch, logs=None):
            self.progress.status(f"{self.run}: training epoch {epoch + 1}/{self.params['epochs']}")

        def on_train_end(self, logs=None):
            self.progress.status(
                f"{self.run}: trained; the callback finishes its last checkpoints' {self.finishing}"
            )

    return EpochProgress
