"""The background worker: order, bounded queue, failures surface on the caller's thread."""

from __future__ import annotations

import threading

import pytest

from keras_inspect.worker import Worker


def test_items_are_processed_in_order_on_another_thread():
    seen, threads = [], set()

    def process(item):
        threads.add(threading.current_thread().name)
        seen.append(item)

    worker = Worker(process, name="ki-test")
    for i in range(20):
        worker.submit(i)
    worker.drain()
    assert seen == list(range(20))
    assert threads == {"ki-test"}
    worker.stop()
    worker.submit(20)  # a stopped worker starts a new thread
    worker.stop()
    assert seen[-1] == 20


def test_at_most_one_item_waits():
    release = threading.Event()
    started = threading.Event()

    def process(item):
        started.set()
        release.wait(5)

    worker = Worker(process)
    worker.submit("running")
    started.wait(5)
    worker.submit("waiting")
    blocked = threading.Thread(target=worker.submit, args=("third",))
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive()  # the queue is full: the third submit waits
    release.set()
    blocked.join(5)
    worker.stop()


def test_a_failure_is_raised_on_the_callers_thread_once():
    def process(item):
        if item == "bad":
            raise RuntimeError("broken writer")

    worker = Worker(process)
    worker.submit("bad")
    with pytest.raises(RuntimeError, match="broken writer"):
        worker.drain()
    worker.submit("good")
    worker.stop()


def test_an_os_error_is_said_once_per_cause_and_never_raised():
    import errno

    import keras_inspect as ki

    done = []

    def process(item):
        if item in ("full", "full again"):
            raise OSError(errno.ENOSPC, "No space left on device")
        if item == "read-only":
            raise PermissionError(errno.EACCES, "Permission denied", "/logs/run/inspect")
        done.append(item)

    worker = Worker(process, name="ki-test")
    with pytest.warns(ki.InspectWarning) as caught:
        for item in ("full", "a", "full again", "read-only", "b"):
            worker.submit(item)
        worker.drain()  # nothing raised here
        worker.stop()
    said = [str(w.message) for w in caught]
    assert len(said) == 2, said
    assert "'ki-test' thread stopped at a file-system error (no space left" in said[0]
    assert "(no space left on device (ENOSPC))" in said[0]
    assert "permission denied (EACCES): /logs/run/inspect" in said[1]
    assert "Training goes on" in said[0]
    assert done == ["a", "b"]  # the items after a failure are processed
