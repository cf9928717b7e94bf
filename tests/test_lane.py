"""The slow lane: newest job wins, bounded waits, and a thread that ends when told."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from keras_inspect.lane import Lane


@dataclass(frozen=True)
class Job:
    step: int


def test_the_newest_waiting_job_replaces_the_older_one_and_finish_ends_the_thread():
    gate, done = threading.Event(), []

    def run(job):
        gate.wait(timeout=30)
        done.append(job.step)

    lane = Lane(run, "test-lane")
    assert lane.offer(Job(0)) is None
    deadline = time.monotonic() + 10
    while lane.unfinished != [0] or lane._waiting is not None:  # until 0 runs
        assert time.monotonic() < deadline
        time.sleep(0.001)
    assert lane.offer(Job(1)) is None  # waits behind 0
    assert lane.offer(Job(2)) == 1  # replaces the waiting 1
    assert lane.unfinished == [0, 2] and lane.skipped == [1]
    assert not lane.drain(timeout=0.01)  # nothing finishes while the gate is shut
    assert lane.thread is not None and not lane.thread.daemon  # a script waits for it
    thread = lane.thread
    lane.finish()
    gate.set()
    assert lane.drain(timeout=30)
    thread.join(timeout=30)
    assert not thread.is_alive()  # finished: the thread ended instead of idling
    assert done == [0, 2]
    assert lane.unfinished == [] and lane.done == done


def test_a_failure_is_raised_once_on_the_next_call():
    def run(job):
        raise OSError("disk full")

    lane = Lane(run, "test-lane")
    lane.offer(Job(0))
    with pytest.raises(OSError, match="disk full"):
        lane.drain(timeout=30)
    assert lane.drain(timeout=30)  # raised once


def test_inline_when_not_asynchronous():
    done = []
    lane = Lane(lambda job: done.append(job.step), "test-lane", asynchronous=False)
    lane.offer(Job(3))
    assert done == [3] and lane.thread is None and lane.drain()
