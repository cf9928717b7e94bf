"""Checkpoint schedules."""

from __future__ import annotations

import pytest

from keras_inspect.errors import ConfigError
from keras_inspect.schedule import Schedule


def test_default_is_every_epoch():
    schedule = Schedule.from_args(None, None, None)
    assert [schedule.due_after_epoch(e) for e in range(3)] == [True, True, True]
    assert not schedule.per_batch


def test_every_n_epochs_counts_completed_epochs():
    schedule = Schedule.from_args(3, None, None)
    assert [e for e in range(9) if schedule.due_after_epoch(e)] == [2, 5, 8]


def test_every_n_steps_and_at():
    steps = Schedule.from_args(None, 10, None)
    assert steps.per_batch and [s for s in range(1, 31) if steps.due_after_step(s)] == [10, 20, 30]
    assert not steps.due_after_epoch(0)
    at = Schedule.from_args(None, None, [5, 0, 5])
    assert at.at == (0, 5) and [e for e in range(7) if at.due_after_epoch(e)] == [0, 5]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, None, None), "every_n_epochs must be a positive integer, got 0"),
        ((None, -5, None), "every_n_steps must be a positive integer, got -5"),
        ((1.5, None, None), "every_n_epochs must be a positive integer"),
        ((True, None, None), "every_n_epochs must be a positive integer"),
        ((2, 10, None), "only one schedule"),
        ((None, None, []), "non-empty list"),
        ((None, None, "5"), "non-empty list"),
        ((None, None, [1, -1]), r"non-negative integer epoch indices .* got \[-1\]"),
    ],
)
def test_bad_schedules(args, match):
    with pytest.raises(ConfigError, match=match):
        Schedule.from_args(*args)
