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
    while lane.unfinished != [0] or lane._running != 0:  # until 0 runs
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
        raise RuntimeError("broken")

    lane = Lane(run, "test-lane")
    lane.offer(Job(0))
    with pytest.raises(RuntimeError, match="broken"):
        lane.drain(timeout=30)
    assert lane.drain(timeout=30)  # raised once


def test_an_os_error_is_said_once_and_the_lane_goes_on():
    import errno

    import keras_inspect as ki

    done = []

    def run(job):
        if job.step < 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        done.append(job.step)

    lane = Lane(run, "test-lane", keep_all=True)
    with pytest.warns(ki.InspectWarning, match="'test-lane' thread stopped at a file-system") as w:
        for step in range(3):
            lane.offer(Job(step))
        lane.finish()
        assert lane.drain(timeout=30)  # not raised
    assert len(w) == 1
    assert done == [2]


def test_an_os_error_is_raised_inline_when_not_asynchronous():
    def run(job):
        raise OSError("disk full")

    lane = Lane(run, "test-lane", asynchronous=False)
    with pytest.raises(OSError, match="disk full"):
        lane.offer(Job(0))


def test_inline_when_not_asynchronous():
    done = []
    lane = Lane(lambda job: done.append(job.step), "test-lane", asynchronous=False)
    lane.offer(Job(3))
    assert done == [3] and lane.thread is None and lane.drain()


def test_keep_all_makes_the_caller_wait_for_the_slot_until_released():
    gate, done = threading.Event(), []

    def run(job):
        gate.wait(timeout=30)
        done.append(job.step)

    lane = Lane(run, "test-lane", keep_all=True)
    lane.offer(Job(0))
    lane.offer(Job(1))  # waits until 0 runs, then takes the slot
    blocked = threading.Thread(target=lane.offer, args=(Job(2),))
    blocked.start()
    blocked.join(timeout=0.3)
    assert blocked.is_alive()  # 0 runs, 1 waits: 2 waits for the slot
    lane.release()  # closing: no more waiting, the last jobs queue up
    blocked.join(timeout=30)
    assert not blocked.is_alive() and lane.unfinished == [0, 1, 2]
    gate.set()
    lane.finish()
    assert lane.drain(timeout=30)
    assert done == [0, 1, 2] and lane.skipped == []
