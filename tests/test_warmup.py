"""tb_plugin.warmup: background jobs run one at a time, only while requests are quiet."""

from __future__ import annotations

import logging
import threading
import time

from tb_plugin.warmup import Warmer


def test_jobs_run_once_each_newest_first():
    warmer = Warmer(quiet=0.0)
    done = []
    with warmer.request():  # nothing runs before the request ends
        for key in ("a", "b", "a", "c"):  # the second "a" moves the waiting one up
            warmer.add(key, lambda key=key: done.append(key))
    assert warmer.wait_idle(timeout=10)
    assert done == ["c", "a", "b"] and warmer.done == 3


def test_jobs_wait_while_a_request_runs_and_for_quiet_after_it():
    warmer = Warmer(quiet=0.3)
    ran = threading.Event()
    with warmer.request():
        warmer.add("job", ran.set)
        assert not ran.wait(0.5)  # a request is being served
    ended = time.monotonic()
    assert ran.wait(10)
    assert time.monotonic() - ended >= 0.25  # and then `quiet` seconds without requests


def test_a_failing_job_is_reported_once_and_the_worker_goes_on(caplog):
    warmer = Warmer(quiet=0.0)
    done = []

    def fail():
        raise OSError("data server gone")

    with caplog.at_level(logging.WARNING, logger="tb_plugin.warmup"):
        warmer.add("f1", fail)
        warmer.add("f2", fail)
        warmer.add("ok", lambda: done.append(1))
        assert warmer.wait_idle(timeout=10)
    assert done == [1]
    warnings = [r for r in caplog.records if "background read failed" in r.getMessage()]
    assert len(warnings) == 1 and "data server gone" in warnings[0].getMessage()


def test_the_queue_is_bounded_and_drops_the_oldest():
    warmer = Warmer(quiet=3600.0, max_jobs=2)
    for key in range(5):
        warmer.add(key, lambda: None)
    assert warmer.pending() == 2
    assert not warmer.wait_idle(timeout=0.1)  # nothing runs before `quiet` has passed
