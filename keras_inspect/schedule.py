"""When checkpoints happen: every N epochs, every N training batches, or at listed epochs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keras_inspect.errors import ConfigError

__all__ = ["Schedule"]


@dataclass(frozen=True)
class Schedule:
    """A validated checkpoint schedule.

    ``step`` is the epoch index (0-based, as in Keras' own ``epoch_*`` scalars) for epoch
    schedules, and the global count of training batches for a step schedule.

    Attributes:
        every_n_epochs: record after every N-th epoch, or ``None``.
        every_n_steps: record after every N-th training batch, or ``None``.
        at: record after exactly these epochs (0-based indices), or ``None``.
    """

    every_n_epochs: int | None = None
    every_n_steps: int | None = None
    at: tuple[int, ...] | None = None

    @classmethod
    def from_args(
        cls,
        every_n_epochs: int | None,
        every_n_steps: int | None,
        at: Sequence[int] | None,
    ) -> Schedule:
        """Check the three schedule arguments of the callback; at most one may be given.

        With none given, the schedule is every epoch.
        """
        given = {
            name: value
            for name, value in (
                ("every_n_epochs", every_n_epochs),
                ("every_n_steps", every_n_steps),
                ("at", at),
            )
            if value is not None
        }
        if len(given) > 1:
            raise ConfigError(
                f"only one schedule may be given, got {given}; choose every_n_epochs=N, "
                "every_n_steps=N or at=[epochs]."
            )
        for name in ("every_n_epochs", "every_n_steps"):
            value = given.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ConfigError(
                    f"{name} must be a positive integer, got {value!r}; e.g. {name}=1."
                )
        if at is not None:
            at = _check_at(at)
        if not given:
            every_n_epochs = 1
        return cls(every_n_epochs, every_n_steps, at)

    @property
    def per_batch(self) -> bool:
        """Whether checkpoints are counted in training batches."""
        return self.every_n_steps is not None

    def due_after_epoch(self, epoch: int) -> bool:
        """Whether a checkpoint follows the epoch with this 0-based index."""
        if self.every_n_epochs is not None:
            return (epoch + 1) % self.every_n_epochs == 0
        return self.at is not None and epoch in self.at

    def due_after_step(self, step: int) -> bool:
        """Whether a checkpoint follows the ``step``-th training batch (1-based count)."""
        return self.every_n_steps is not None and step % self.every_n_steps == 0


def _check_at(at: Sequence[int]) -> tuple[int, ...]:
    if isinstance(at, str | bytes) or not isinstance(at, Sequence) or not at:
        raise ConfigError(
            f"at must be a non-empty list of epoch indices, got {at!r}; e.g. at=[0, 4, 9]."
        )
    bad = [v for v in at if isinstance(v, bool) or not isinstance(v, int) or v < 0]
    if bad:
        raise ConfigError(
            f"at must hold non-negative integer epoch indices (0 = after the first epoch), "
            f"got {bad} in {list(at)}."
        )
    return tuple(sorted(set(at)))
